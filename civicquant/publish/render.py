"""Digests and breaking alerts as Telegram HTML messages, split to fit Telegram's limits.

Pure code, no I/O: the publisher sends what `render_digest` / `render_alert` return, one
message per string, with ``parse_mode=HTML``. Headlines come from posts and the LLM and
are untrusted: they are always escaped, flattened to one line and truncated, and links
are only ever built by `post_link` from ids, never taken from text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

MESSAGE_LIMIT = 4096
"""Telegram's maximum message length, in UTF-16 code units."""

HEADLINE_MAX_CHARS = 300
TOPIC_LABEL_MAX_CHARS = 100
MAX_LINKS_PER_EVENT = 3
ELLIPSIS = "…"

_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")
# What our own HTML is made of: a tag, an entity, or one code point (never half of one).
_HTML_TOKEN = re.compile(r"<[^>]*>|&[#0-9A-Za-z]+;|.", re.DOTALL)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
_CONTROL_CHAR = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc, exactly
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class SourceLink:
    """One post an event was seen in; `channel_username` is None for private channels."""

    channel_id: int
    channel_username: str | None
    message_id: int


@dataclass(frozen=True, slots=True)
class DigestEvent:
    """One event as a digest shows it; `source_count` counts all posts, not just `sources`.

    `rank` orders the digest (importance weighed by recency, civicquant.publish.digest);
    without one, importance does.
    """

    event_id: int
    topic: str
    headline: str
    importance: float
    first_seen_at: datetime
    sources: Sequence[SourceLink]
    source_count: int
    last_seen_at: datetime | None = None
    rank: float | None = None


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit Telegram's limits are counted in."""
    # surrogatepass: a lone surrogate is one unit, as in any UTF-16 string.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def post_link(source: SourceLink) -> str:
    """The t.me link to one post: by username when it is a valid public one, else /c/<id>."""
    if source.message_id <= 0:
        raise ValueError(f"not a message id: {source.message_id}")
    username = _valid_username(source.channel_username)
    if username is not None:
        return f"https://t.me/{username}/{source.message_id}"
    return f"https://t.me/c/{_bare_channel_id(source.channel_id)}/{source.message_id}"


def render_digest(
    events: Iterable[DigestEvent],
    *,
    title: str,
    window_start: datetime,
    window_end: datetime,
    topic_labels: Mapping[str, str] | None = None,
    more: Mapping[str, int] | None = None,
) -> list[str]:
    """The digest as Telegram HTML messages, events grouped by topic; [] when nothing to post.

    One bullet per event. Topics come in order of their best ranked event (ties by topic
    name), events within a topic by rank (else importance), then first seen, then id, so a
    rerun renders the same. `more` (events left out by the cap, per topic) adds one last
    line naming how many more each topic had.
    """
    shown = [(event, headline) for event in events if (headline := _clean_headline(event.headline))]
    if not shown:
        return []
    by_topic: dict[str, list[tuple[DigestEvent, str]]] = {}
    for event, headline in shown:
        by_topic.setdefault(event.topic, []).append((event, headline))
    for topic_events in by_topic.values():
        topic_events.sort(key=lambda item: _event_order(item[0]))
    topics = sorted(by_topic, key=lambda topic: (_event_order(by_topic[topic][0][0])[0], topic))

    labels = topic_labels or {}
    lines = [_Line(_header_line(title, window_start, window_end), is_topic=False)]
    for topic in topics:
        lines.append(_Line(_topic_line(topic, labels), is_topic=True))
        lines.extend(
            _Line(f"• {_event_line(event, headline)}", is_topic=False)
            for event, headline in by_topic[topic]
        )
    more_line = _more_line(more or {}, labels)
    if more_line:
        lines.append(_Line(more_line, is_topic=True))
    return _split_into_messages(lines, MESSAGE_LIMIT)


def render_alert(event: DigestEvent, *, label: str = "BREAKING") -> list[str]:
    """One breaking-news message for `event`; [] when its headline is empty."""
    headline = _clean_headline(event.headline)
    if not headline:
        return []
    line = f"🚨 <b>{escape_html(_one_line(label) or 'BREAKING')}</b> {_event_line(event, headline)}"
    return [_cut_line(line, MESSAGE_LIMIT)]


def render_text_preview(parts: Sequence[str]) -> str:
    """The messages as `--dry-run` prints them, each after a part/size separator line."""
    blocks = [
        f"----- part {index}/{len(parts)} ({utf16_len(part)} UTF-16 units) -----\n{part}"
        for index, part in enumerate(parts, start=1)
    ]
    return "\n".join(blocks)


@dataclass(frozen=True, slots=True)
class _Line:
    html: str
    is_topic: bool


def _valid_username(username: str | None) -> str | None:
    if username is None:
        return None
    bare = username.removeprefix("@")
    return bare if _USERNAME.fullmatch(bare) else None


def _bare_channel_id(channel_id: int) -> int:
    # t.me/c/ wants the bare id; accept the Bot API's "-100<id>" form too.
    marked = str(channel_id)
    bare = int(marked[4:]) if marked.startswith("-100") and len(marked) > 4 else channel_id
    if bare <= 0:
        raise ValueError(f"not a channel id: {channel_id}")
    return bare


def escape_html(text: str) -> str:
    """`text` safe inside Telegram HTML: &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return escape_html(text).replace('"', "&quot;")


def _one_line(text: str) -> str:
    """`text` on one line: runs of whitespace and control characters become one space,
    lone surrogates (unencodable, Telegram would reject the message) become U+FFFD."""
    flat = _LONE_SURROGATE.sub("\N{REPLACEMENT CHARACTER}", _CONTROL_CHAR.sub(" ", text))
    return " ".join(flat.split())


def _truncate(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars` code points, the ellipsis included."""
    if len(text) <= max_chars:
        return text
    # Callers cut before escaping, so a cut can never land inside an entity.
    return text[: max_chars - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _clean_headline(headline: str) -> str:
    return _truncate(_one_line(headline), HEADLINE_MAX_CHARS)


def _event_order(event: DigestEvent) -> tuple[float, datetime, int]:
    score = event.importance if event.rank is None else event.rank
    # NaN would make the sort order arbitrary; rank it last instead.
    score = -math.inf if math.isnan(score) else score
    return (-score, event.first_seen_at, event.event_id)


def _topic_label(topic: str, labels: Mapping[str, str]) -> str:
    # Topics may come from the LLM: the default label is as untrusted as a headline.
    default = topic.replace("_", " ").replace("-", " ").title()
    label = _truncate(_one_line(labels.get(topic) or default), TOPIC_LABEL_MAX_CHARS)
    return escape_html(label or "Other")


def _topic_line(topic: str, labels: Mapping[str, str]) -> str:
    return f"<b>{_topic_label(topic, labels)}</b>"


def _more_line(more: Mapping[str, int], labels: Mapping[str, str]) -> str:
    """'<i>12 more: Markets 5, Macro 4, Energy 3</i>', the most first; '' when none."""
    counts = sorted(
        ((topic, count) for topic, count in more.items() if count > 0),
        key=lambda item: (-item[1], item[0]),
    )
    if not counts:
        return ""
    total = sum(count for _, count in counts)
    named = ", ".join(f"{_topic_label(topic, labels)} {count}" for topic, count in counts)
    return f"<i>{total} more: {named}</i>"


def _event_line(event: DigestEvent, headline: str) -> str:
    """Escaped headline, then its source links and count; `headline` is already clean."""
    line = escape_html(headline)
    links = _source_links(event.sources)
    if links:
        line += f" — {links}"
    if event.source_count > 1:
        line += f" ({event.source_count} sources)"
    return line


def _source_links(sources: Sequence[SourceLink]) -> str:
    # One link per post, even if rows disagree on the channel's username.
    unique: dict[tuple[int, int], SourceLink] = {}
    for source in sources:
        unique.setdefault((source.channel_id, source.message_id), source)
    anchors = [
        f'<a href="{_escape_attribute(post_link(source))}">{escape_html(_link_text(source))}</a>'
        for source in list(unique.values())[:MAX_LINKS_PER_EVENT]
    ]
    hidden = len(unique) - len(anchors)
    if hidden > 0:
        anchors.append(f"+{hidden}")
    return ", ".join(anchors)


def _link_text(source: SourceLink) -> str:
    return _valid_username(source.channel_username) or "source"


def _header_line(title: str, window_start: datetime, window_end: datetime) -> str:
    # The title is the operator's; a title too long for a message is cut with the line.
    bold_title = f"<b>{escape_html(_one_line(title) or 'Digest')}</b>"
    return f"{bold_title} {_format_window(window_start, window_end)}"


def _format_window(window_start: datetime, window_end: datetime) -> str:
    """'08:00–12:00 UTC, 20 Nov 2026', or both dates when the window spans midnight."""
    start, end = _as_utc(window_start), _as_utc(window_end)
    if start.date() == end.date():
        return f"{start:%H:%M}–{end:%H:%M} UTC, {_format_date(start)}"
    return f"{_format_date(start)} {start:%H:%M} – {_format_date(end)} {end:%H:%M} UTC"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"window bound must be timezone-aware: {moment.isoformat()}")
    return moment.astimezone(UTC)


def _format_date(moment: datetime) -> str:
    # Not %b: month names must not depend on the cron job's locale.
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _split_into_messages(lines: Sequence[_Line], limit: int) -> list[str]:
    """Pack whole lines into messages of at most `limit` UTF-16 units.

    A topic header that would end a message moves to the next one, next to its events.
    """
    parts: list[list[_Line]] = []
    current: list[_Line] = []
    used = 0
    for line in (_Line(_cut_line(line.html, limit), line.is_topic) for line in lines):
        if current and used + _added_len(line) > limit:
            carried: list[_Line] = []
            if current[-1].is_topic and len(current) > 1:
                carried = [current.pop()]
            parts.append(current)
            current, used = carried, sum(utf16_len(kept.html) for kept in carried)
            if current and used + _added_len(line) > limit:
                # Only reachable with a line nearly a whole message long; the header
                # then has to stand alone.
                parts.append(current)
                current, used = [], 0
        used += _added_len(line) if current else utf16_len(line.html)
        current.append(line)
    if current:
        parts.append(current)
    return [_join(part) for part in parts]


def _added_len(line: _Line) -> int:
    """What `line` adds to a message it does not start, separator included."""
    return utf16_len(line.html) + len(_separator(line))


def _separator(line: _Line) -> str:
    # A blank line before each topic header, except at the top of a message.
    return "\n\n" if line.is_topic else "\n"


def _join(lines: Sequence[_Line]) -> str:
    return lines[0].html + "".join(_separator(line) + line.html for line in lines[1:])


def _cut_line(line: str, limit: int) -> str:
    """`line` (our own well-formed HTML) cut to fit `limit` UTF-16 units, ending in an
    ellipsis; the cut falls between tags, entities and code points, open tags are closed."""
    if utf16_len(line) <= limit:
        return line
    kept: list[str] = []
    open_tags: list[str] = []
    used = 0
    for match in _HTML_TOKEN.finditer(line):
        token = match.group()
        tags_after = _apply_tag(open_tags, token)
        closing = sum(len(name) + 3 for name in tags_after)
        if used + utf16_len(token) + len(ELLIPSIS) + closing > limit:
            break
        kept.append(token)
        used += utf16_len(token)
        open_tags = tags_after
    while kept and kept[-1].isspace():
        kept.pop()
    closers = "".join(f"</{name}>" for name in reversed(open_tags))
    return "".join(kept) + ELLIPSIS + closers


def _apply_tag(open_tags: list[str], token: str) -> list[str]:
    """The open-tag stack after `token`; text and entities leave it unchanged."""
    if not token.startswith("<"):
        return open_tags
    name_match = _TAG_NAME.match(token)
    if name_match is None:
        return open_tags
    if token.startswith("</"):
        return open_tags[:-1]
    return [*open_tags, name_match.group(1)]
