"""Channel specs: which Telegram channels to read, as written in TG_SOURCE_CHANNELS.

A spec names a channel before it is resolved: a public username or the bare numeric
channel id, optionally with a weight after a colon (`@reuters:2`): how much the operator
trusts the channel, which scales the importance of its posts (civicquant.events.merge).
Resolving it to a `civicquant.ingest.posts.Channel` is the reader's job.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from civicquant.errors import UsageError

# Telegram's rule for public usernames: 5-32 characters, ASCII letters, digits and
# underscores, starting with a letter. Explicit classes, because `\w` and `\d` also
# match non-ASCII letters and digits.
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")
_NUMBER = re.compile(r"-?[0-9]+")
_LINK_PREFIX = re.compile(r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/", re.I)
_PRIVATE_LINK = re.compile(r"c/([0-9]+)/?")

# Bot-API ids mark a channel as -(10**12 + channel_id) (Telethon's utils.get_peer_id).
_MARKED_CHANNEL_OFFSET = 10**12
# Telegram promises ids fit in 52 bits.
_MAX_ID = 2**52
_MAX_ID_DIGITS = 20
_SHOWN_CHARS = 60
# A weight after the last colon: digits with an optional decimal part ("2", "0.5").
_WEIGHTED = re.compile(r"(?P<channel>.*):(?P<weight>[^:/]*)", re.DOTALL)
_WEIGHT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3})?")
# 10: a source ten times as trusted as the default is already beyond what corroboration
# by several channels adds (civicquant.events.merge); 0 mutes a channel's importance.
MAX_WEIGHT = 10.0


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel named in configuration: a lowercased username or a bare channel id.

    `weight` is the operator's trust in it (`@name:2`); None when the spec did not say,
    which leaves a stored weight as it is.
    """

    username: str | None = None
    channel_id: int | None = None
    weight: float | None = None

    def __post_init__(self) -> None:
        if (self.username is None) == (self.channel_id is None):
            raise ValueError("a ChannelSpec names exactly one of username and channel_id")

    def __str__(self) -> str:
        return f"@{self.username}" if self.username is not None else f"channel {self.channel_id}"

    def key(self) -> tuple[str | None, int | None]:
        """The channel named, whatever its weight."""
        return (self.username, self.channel_id)


def parse_channel_specs(value: str, *, default_weight: float | None = None) -> list[ChannelSpec]:
    """Return the channels in a comma-separated list or a JSON array, deduplicated, in order.

    A channel without a weight gets `default_weight` (TG_SOURCE_CHANNELS passes 1, so a
    weight taken out of it goes back to 1; None keeps a stored weight). A blank value
    gives an empty list; whether that is acceptable is the caller's call. Raises
    UsageError naming the first bad item, or a channel given twice with two weights.
    """
    specs: list[ChannelSpec] = []
    seen: dict[tuple[str | None, int | None], ChannelSpec] = {}
    for item in _split(value):
        spec = parse_channel_spec(item)
        if spec.weight is None and default_weight is not None:
            spec = ChannelSpec(spec.username, spec.channel_id, default_weight)
        key = spec.key()
        known = seen.get(key)
        if known is None:
            seen[key] = spec
            specs.append(spec)
        elif known.weight != spec.weight:
            raise _bad(item, f"{known} is listed twice with different weights")
    return specs


def parse_channel_spec(item: str) -> ChannelSpec:
    """Return the spec for one channel: `@name`, a t.me link, a bare name or a numeric id,
    each optionally followed by `:weight`."""
    text = item.strip()
    if not text:
        raise _bad(item, "empty item (a doubled or trailing comma?)")
    if text.lower().startswith("tg:"):
        raise _bad(item, "tg: links are not supported; give the channel's @name or t.me link")
    weighted = _WEIGHTED.fullmatch(text)
    if weighted is None:
        return _unweighted_spec(item, text)
    spec = _unweighted_spec(item, weighted.group("channel").strip())
    return ChannelSpec(spec.username, spec.channel_id, _weight(item, weighted.group("weight")))


def _weight(item: str, text: str) -> float:
    weight = text.strip()
    if not _WEIGHT.fullmatch(weight) or float(weight) > MAX_WEIGHT:
        raise _bad(
            item,
            f"weight {_shown(weight)} is not a number from 0 to {MAX_WEIGHT:g} "
            "(write @name:2 for a source trusted twice as much)",
        )
    return float(weight)


def _unweighted_spec(item: str, text: str) -> ChannelSpec:
    if not text:
        raise _bad(item, "no channel before the weight")
    if _NUMBER.fullmatch(text):
        return ChannelSpec(channel_id=_channel_id(item, text))
    link = _LINK_PREFIX.match(text)
    if link:
        path = text[link.end() :]
        if path.lower().startswith(("+", "joinchat/")):
            raise _invite(item)
        private = _PRIVATE_LINK.fullmatch(path)
        if private:
            return ChannelSpec(channel_id=_channel_id(item, private.group(1)))
        if path.startswith("s/"):
            path = path[2:]
        name = path.removesuffix("/")
    elif text.startswith("@"):
        name = text[1:]
    else:
        name = text
    if "/" in name:
        raise _bad(item, "not a channel link (give the channel, not a post: t.me/name)")
    if not _USERNAME.fullmatch(name):
        raise _bad(
            item,
            "not a valid channel username (5-32 letters, digits or underscores, "
            "starting with a letter)",
        )
    return ChannelSpec(username=name.lower())


def _split(value: str) -> list[str]:
    text = value.strip()
    if not text:
        return []
    if not text.startswith("["):
        return text.split(",")
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"channel list looks like JSON but is not valid JSON: {exc}") from exc
    items: list[str] = []
    # Starting with "[", valid JSON can only be an array.
    for position, element in enumerate(decoded, start=1):
        if isinstance(element, str):
            items.append(element)
        elif isinstance(element, int) and not isinstance(element, bool):
            items.append(str(element))
        else:
            raise UsageError(
                f"channel list item {position} is {_shown(json.dumps(element))}, "
                "not a string or a numeric id"
            )
    return items


def _channel_id(item: str, digits: str) -> int:
    # Checked before int(): Python refuses to convert strings of over 4300 digits.
    if len(digits) > _MAX_ID_DIGITS:
        raise _bad(item, "too large for a Telegram id")
    number = int(digits)
    if number > 0:
        channel_id = number
    elif -number > _MARKED_CHANNEL_OFFSET:
        channel_id = -number - _MARKED_CHANNEL_OFFSET
    else:
        raise _bad(item, "not a channel id (Bot-API channel ids start with -100)")
    if channel_id >= _MAX_ID:
        raise _bad(item, "too large for a Telegram id")
    return channel_id


def _invite(item: str) -> UsageError:
    return _bad(
        item,
        "invite links cannot be read; join the channel and give its @name or numeric id",
    )


def _bad(item: str, reason: str) -> UsageError:
    return UsageError(f"invalid channel {_shown(item)}: {reason}")


def _shown(item: str) -> str:
    """The item quoted on one line (repr escapes newlines), cut short if long."""
    if len(item) > _SHOWN_CHARS:
        item = item[:_SHOWN_CHARS] + "..."
    return repr(item)
