"""The raw post: one Telegram channel message as civicquant stores it, whatever read it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Source = Literal["live", "backfill", "export"]


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

    def content_hash(self) -> str:
        """SHA-256 over what a reader sees: text, entities and the media summary."""
        payload = {
            "text": self.text,
            "entities": self.entities,
            "media": self.media.as_dict() if self.media else None,
        }
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Channel:
    """A source channel: the bare numeric id Telegram uses, plus its public name if any."""

    channel_id: int
    username: str | None = None
    title: str | None = None
