"""The Telegram reading seam: what listen and backfill need from Telegram, and FloodWait pacing.

`ChannelReader` is implemented by `civicquant.telegram.telethon_reader.TelethonReader` against a
real account and by `tests.fakes.reader.FakeReader` in tests. Nothing here imports
Telethon, so commands that only read the database start fast.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import structlog

from civicquant.config import Settings
from civicquant.errors import FloodWaitTooLong
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost

log = structlog.stdlib.get_logger(__name__)


def session_key(settings: Settings, *, recovery: bool = False) -> str:
    """Which Telegram login a command reads with, named without its secret.

    A login is its auth key, whether it is held in TG_SESSION_STRING or in a session file:
    `key:` and the first 16 hex digits of the key's SHA-256, so a copy of one login on
    another host, or as a string beside a file, is the same session. Where the key cannot
    be read (a session file not yet logged in), the file's path, or the string's SHA-256
    (`string:`). Neither the key nor the string is ever stored.
    """
    if recovery and settings.tg_session_recovery:
        return _file_key(settings.tg_session_recovery.expanduser())
    if settings.tg_session_string:
        secret = settings.tg_session_string.get_secret_value()
        key = _string_auth_key(secret)
        if key is not None:
            return _auth_key_name(key)
        return f"string:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"
    if settings.tg_session:
        return _file_key(settings.tg_session.expanduser())
    return "none"


def _auth_key_name(auth_key: bytes) -> str:
    return f"key:{hashlib.sha256(auth_key).hexdigest()[:16]}"


# Telethon's StringSession: "1" and the URL-safe base64 of the data centre (1 byte), its
# address (4 or 16 bytes), its port (2 bytes) and the 256-byte auth key.
AUTH_KEY_BYTES = 256


def _string_auth_key(session_string: str) -> bytes | None:
    if not session_string.startswith("1"):
        return None
    try:
        data = base64.urlsafe_b64decode(session_string[1:] + "=" * (-len(session_string[1:]) % 4))
    except (ValueError, binascii.Error):
        return None
    if len(data) not in (1 + 4 + 2 + AUTH_KEY_BYTES, 1 + 16 + 2 + AUTH_KEY_BYTES):
        return None
    return data[-AUTH_KEY_BYTES:]


def _file_key(session_path: Path) -> str:
    """A session file by its auth key (Telethon's SQLite `sessions` table), else its path."""
    filename = session_path
    if not filename.name.endswith(".session"):
        filename = filename.with_name(filename.name + ".session")
    try:
        # Read-only, and never created: the file is Telethon's, opened by it later.
        uri = f"{filename.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            row = conn.execute("SELECT auth_key FROM sessions LIMIT 1").fetchone()
    except (sqlite3.Error, ValueError):
        row = None
    if row and isinstance(row[0], bytes) and len(row[0]) == AUTH_KEY_BYTES:
        return _auth_key_name(row[0])
    return f"file:{session_path}"


# Telegram's FloodWait is a floor, not an appointment: clients that all retry at the
# exact second collide again, so a few seconds of jitter are added.
JITTER_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post appeared in a watched channel."""

    post: RawPost


@dataclass(frozen=True, slots=True)
class EditedPost:
    """A post in a watched channel was edited; `post` is its new content."""

    post: RawPost


@dataclass(frozen=True, slots=True)
class DeletedPosts:
    """Posts were deleted from a channel (Telegram does not always say so)."""

    channel_id: int
    message_ids: tuple[int, ...]


Update = NewPost | EditedPost | DeletedPosts


class ChannelReader(Protocol):
    """Reads public channels: resolve a spec, page through history, fetch by id, follow live."""

    async def resolve(self, spec: ChannelSpec) -> Channel:
        """Return the channel a spec names; TelegramError if it is missing or not readable."""
        ...

    def history(
        self,
        channel: Channel,
        *,
        min_id: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[RawPost]:
        """Yield posts oldest first: id above `min_id`, `since` <= posted_at < `until`."""
        ...

    async def fetch(self, channel: Channel, ids: Sequence[int]) -> dict[int, RawPost | None]:
        """Return each asked id's current post, or None when it no longer exists."""
        ...

    def updates(self, channels: Sequence[Channel]) -> AsyncIterator[Update]:
        """Yield new, edited and deleted posts of `channels` as Telegram reports them."""
        ...


Sleep = Callable[[float], Awaitable[None]]
Uniform = Callable[[float, float], float]


class FloodWaitPolicy:
    """Sleeps through Telegram's FloodWait requests up to `max_seconds`, counting them.

    A longer request raises FloodWaitTooLong without sleeping, so a cron run ends
    cleanly and the next run picks up where this one stopped.
    """

    def __init__(
        self,
        max_seconds: int,
        *,
        sleep: Sleep = asyncio.sleep,
        uniform: Uniform = random.uniform,
    ) -> None:
        self.max_seconds = max_seconds
        self.waits = 0
        self.total_seconds = 0.0
        self._sleep = sleep
        self._uniform = uniform

    async def wait(self, seconds: int, method: str | None = None) -> None:
        """Sleep `seconds` plus up to 3 seconds of jitter, or raise FloodWaitTooLong."""
        if seconds > self.max_seconds:
            log.warning(
                "flood_wait_too_long", seconds=seconds, max_seconds=self.max_seconds, method=method
            )
            raise FloodWaitTooLong(seconds, self.max_seconds, method)
        delay = max(seconds, 0) + self._uniform(0.0, JITTER_SECONDS)
        self.waits += 1
        self.total_seconds += delay
        log.info("flood_wait_sleeping", seconds=seconds, delay=round(delay, 3), waits=self.waits)
        await self._sleep(delay)
