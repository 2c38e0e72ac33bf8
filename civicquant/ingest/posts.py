"""The raw post: one Telegram channel message as civicquant stores it, whatever read it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

Source = Literal["live", "backfill", "export"]
# Canonical JSON: sorted keys, no spaces, UTF-8 kept as is. orjson writes exactly these bytes
# for the values a post holds (strings, integers, booleans, None, lists, string-keyed dicts);
# what it refuses (an integer beyond 64 bits, say) goes to the standard library's encoder.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: object) -> bytes:
    """`value` as canonical JSON, UTF-8 encoded."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return _CANONICAL.encode(value).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Media:
    """A summary of a post's attachment; files are never downloaded."""

    kind: str  # photo, video, audio, voice, video_note, sticker, animation, document, poll, ...
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The summary as stored (`raw_messages.media`); cheaper than dataclasses.asdict."""
        return {
            "kind": self.kind,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class RawPost:
    """One channel message, normalised from Telethon or a Telegram Desktop export.

    `entities` use Telegram's own shape: dicts with `type` (the export's names: bold,
    italic, code, pre, text_link, link, hashtag, mention, cashtag, blockquote, ...),
    `offset` and `length` in UTF-16 code units, plus `url` / `language` / `user_id`
    where the type has one. Times are timezone-aware UTC.
    """

    channel_id: int
    message_id: int
    posted_at: datetime
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    media: Media | None = None
    views: int | None = None
    forwards: int | None = None
    reply_to: int | None = None
    grouped_id: int | None = None
    forwarded_from: str | None = None
    edit_date: datetime | None = None
    author: str | None = None
    # Who posted it in a group (the export's `from` and `from_id`, e.g. "user123"); None for
    # a post by the chat itself, as every channel post is.
    sender: str | None = None
    sender_id: str | None = None

    def content_hash(self) -> str:
        """SHA-256 over what a reader sees: text, entities and the media summary."""
        return self.stored_form().content_sha256

    def stored_form(self) -> StoredForm:
        """Entities and media as JSON, and the content hash: each serialised once.

        The hash is taken over `{"entities":…,"media":…,"text":…}` in canonical JSON (sorted
        keys, no spaces), the very bytes `json.dumps(…, sort_keys=True)` of that dict gives.
        """
        entities = canonical_json(self.entities)
        media = canonical_json(self.media.as_dict()) if self.media else b"null"
        payload = b'{"entities":%b,"media":%b,"text":%b}' % (
            entities,
            media,
            canonical_json(self.text),
        )
        return StoredForm(
            entities.decode("utf-8"),
            media.decode("utf-8") if self.media else None,
            hashlib.sha256(payload).hexdigest(),
        )


@dataclass(frozen=True, slots=True)
class StoredForm:
    """What `raw_messages` stores of a post beside its plain columns."""

    entities: str  # JSON
    media: str | None  # JSON
    content_sha256: str


@dataclass(frozen=True, slots=True)
class Channel:
    """A source channel: the bare numeric id Telegram uses, plus its public name if any."""

    channel_id: int
    username: str | None = None
    title: str | None = None
