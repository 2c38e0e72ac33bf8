"""The Telegram reading seam: what listen and backfill need from Telegram, and FloodWait pacing.

`ChannelReader` is implemented by `civicquant.telegram.telethon_reader.TelethonReader` against a
real account and by `tests.fakes.reader.FakeReader` in tests. Nothing here imports
Telethon, so commands that only read the database start fast.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from civicquant.config import Settings
from civicquant.errors import FloodWaitTooLong
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost

log = structlog.stdlib.get_logger(__name__)


def session_key(settings: Settings, *, recovery: bool = False) -> str:
    """Which Telegram session a command reads with, named without its secret.

    A session file by its path; TG_SESSION_STRING by the first 16 hex digits of its SHA-256
    (the string itself is the account's login key and is never stored).
    """
    if recovery and settings.tg_session_recovery:
        return f"file:{settings.tg_session_recovery.expanduser()}"
    if settings.tg_session_string:
        secret = settings.tg_session_string.get_secret_value().encode()
        return f"string:{hashlib.sha256(secret).hexdigest()[:16]}"
    if settings.tg_session:
        return f"file:{settings.tg_session.expanduser()}"
    return "none"


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
