"""Channel specs: which Telegram channels to read, as written in TG_SOURCE_CHANNELS.

A spec names a channel before it is resolved: a public username or the bare numeric
channel id. Resolving it to a `civicquant.ingest.posts.Channel` is the reader's job.
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


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel named in configuration: a lowercased username or a bare channel id."""

    username: str | None = None
    channel_id: int | None = None

    def __post_init__(self) -> None:
        if (self.username is None) == (self.channel_id is None):
            raise ValueError("a ChannelSpec names exactly one of username and channel_id")

    def __str__(self) -> str:
        return f"@{self.username}" if self.username is not None else f"channel {self.channel_id}"


def parse_channel_specs(value: str) -> list[ChannelSpec]:
    """Return the channels in a comma-separated list or a JSON array, deduplicated, in order.

    A blank value gives an empty list; whether that is acceptable is the caller's call.
    Raises UsageError naming the first bad item.
    """
    specs: list[ChannelSpec] = []
    seen: set[ChannelSpec] = set()
    for item in _split(value):
        spec = parse_channel_spec(item)
        if spec not in seen:
            seen.add(spec)
            specs.append(spec)
    return specs


def parse_channel_spec(item: str) -> ChannelSpec:
    """Return the spec for one channel: `@name`, a t.me link, a bare name or a numeric id."""
    text = item.strip()
    if not text:
        raise _bad(item, "empty item (a doubled or trailing comma?)")
    if _NUMBER.fullmatch(text):
        return ChannelSpec(channel_id=_channel_id(item, text))
    if text.lower().startswith("tg:"):
        raise _bad(item, "tg: links are not supported; give the channel's @name or t.me link")
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
