"""Storing what a reader gives into the raw log: channels resolved, posts in batches.

What every way in (listen, backfill, gap healing, an export import) shares: resolving the
channels named on the command line, storing a stream of posts batch by batch (each batch
one transaction, the high-water mark moved only over a contiguous stretch), the run's
tallies, progress reporting through a callback the CLI supplies, and the FloodWait
bookkeeping around a Telegram session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Protocol, TypeVar

import structlog

from civicquant.config import Settings
from civicquant.errors import CivicquantError, FloodWaitTooLong, JobSkipped, UsageError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost, Source
from civicquant.ingest.rawlog import ChannelState, RawLog, StoreResult
from civicquant.ingest.reader import ChannelReader, FloodWaitPolicy, session_key
from civicquant.runtime import leases
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.ingest")

BATCH_SIZE = 500

T = TypeVar("T")

# Told how many posts a run has stored so far, and from which channel: the CLI draws a
# progress line with it on a terminal. Without one, progress goes to the log.
ProgressCallback = Callable[[int, str], None]


class ReaderFactory(Protocol):
    """Opens a connected ChannelReader (civicquant.wiring.telegram_reader)."""

    def __call__(
        self, settings: Settings, flood: FloodWaitPolicy, *, recovery: bool = False
    ) -> AbstractAsyncContextManager[ChannelReader]: ...


def rawlog_for(ctx: JobContext, priority: int | None = None) -> RawLog:
    """The raw log a job writes, enqueueing for EXTRACTION_PIPELINE_VERSION when enabled.

    `priority`: the queue priority of its jobs (None: by the posts' source).
    """
    return RawLog(
        ctx.db,
        pipeline_version=ctx.settings.extraction_pipeline_version,
        enqueue=ctx.settings.extraction_queue_enabled,
        fence=ctx.fence,
        priority=priority,
    )


def tally(ctx: JobContext, result: StoreResult) -> None:
    ctx.count("inserted", result.inserted)
    ctx.count("unchanged", result.unchanged)
    ctx.count("revised", result.revised)
    ctx.count("enqueued", result.enqueued)


async def resolve_channels(
    reader: ChannelReader, rawlog: RawLog, specs: Sequence[ChannelSpec]
) -> list[ChannelState]:
    """Resolve each spec through Telegram and record the channel."""
    if not specs:
        raise UsageError("no channels: set TG_SOURCE_CHANNELS or pass --channels")
    states = []
    for spec in specs:
        channel = await reader.resolve(spec)
        states.append(rawlog.save_channel(channel, weight=spec.weight))
    return states


class ProgressTracker:
    """Posts stored so far: told to the callback each batch, else logged every few thousand."""

    def __init__(self, what: str, report: ProgressCallback | None, *, every: int = 5000) -> None:
        self.what = what
        self.every = every
        self.done = 0
        self._report = report
        self._next_log = every

    def advance(self, amount: int, channel: str) -> None:
        self.done += amount
        if self._report is not None:
            self._report(self.done, channel)
        elif self.done >= self._next_log:
            log.info("ingest_progress", what=self.what, posts=self.done, channel=channel)
            self._next_log = self.done + self.every


async def batches(posts: AsyncIterator[RawPost], size: int) -> AsyncIterator[list[RawPost]]:
    batch: list[RawPost] = []
    async for post in posts:
        batch.append(post)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items; should reading fail, the items read before it come first."""
    chunk: list[T] = []
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except CivicquantError:
        if chunk:
            yield chunk  # a cut-off export keeps every post before the break
        raise
    if chunk:
        yield chunk


def touches_mark(state: ChannelState | None, first: RawPost) -> bool:
    """Whether storing from `first` on keeps the channel's log contiguous with its mark.

    The high-water mark says "everything up to here is stored"; a backfill of a window
    that starts after the mark must not move it, or listen's catch-up would skip the
    unread stretch between them.
    """
    if state is None or state.last_message_id is None:
        return True
    return first.message_id <= state.last_message_id + 1 or (
        state.last_message_at is not None and first.posted_at <= state.last_message_at
    )


async def store_stream(
    ctx: JobContext,
    rawlog: RawLog,
    channel: ChannelState,
    posts: AsyncIterator[RawPost],
    source: Source,
    *,
    force_enqueue: bool = False,
    progress: ProgressTracker | None = None,
) -> int:
    """Store posts as they arrive, in batches; return how many were read."""
    contiguous: bool | None = None
    read = 0
    async for batch in batches(posts, BATCH_SIZE):
        if contiguous is None:
            contiguous = touches_mark(rawlog.channel_state(channel.channel_id), batch[0])
        result = rawlog.store(
            channel.channel_id, batch, source, force_enqueue=force_enqueue, advance_mark=contiguous
        )
        tally(ctx, result)
        read += len(batch)
        if progress:
            # How far a tracked run (a backfill) got, should it be interrupted: the channel
            # and its last post stored.
            ctx.notes["channel"] = channel_name(channel)
            ctx.notes["last_message_id"] = batch[-1].message_id
            progress.advance(len(batch), channel_name(channel))
        if ctx.stop.is_set():
            break
    return read


def channel_name(channel: ChannelState | Channel) -> str:
    return f"@{channel.username}" if channel.username else str(channel.channel_id)


def record_flood_waits(
    ctx: JobContext, rawlog: RawLog, waits: int, total_seconds: float, session: str
) -> None:
    """Count the FloodWaits slept in this run (health reports the last day's)."""
    if waits:
        ctx.count("flood_waits", waits)
        ctx.notes["flood_wait_seconds"] = round(total_seconds, 1)
        rawlog.record_flood_wait(ctx.job_name, int(total_seconds), slept=True, session=session)


def flood_wait_too_long(
    ctx: JobContext, rawlog: RawLog, exc: FloodWaitTooLong, session: str
) -> None:
    """Remember a wait not slept: runs on this session skip until it is over."""
    rawlog.record_flood_wait(
        ctx.job_name, exc.seconds, slept=False, session=session, method=exc.method
    )


def skip_while_flood_waiting(rawlog: RawLog, session: str) -> None:
    """JobSkipped while a FloodWait asked of this session is not over (no reconnecting)."""
    waits = rawlog.active_flood_waits(session)
    if not waits:
        return
    longest = max(waits, key=lambda row: row["wait_until"])
    left = int(longest["seconds_left"]) + 1
    method = longest["method"] or "a call"
    raise JobSkipped(
        f"Telegram asked this session to wait until {longest['wait_until']:%Y-%m-%d %H:%M:%S} "
        f"UTC ({left}s left) after {method}; not connecting before then",
        flood_wait_seconds_left=left,
        flood_wait_method=method,
    )


class TelegramWork(Protocol):
    async def __call__(self, reader: ChannelReader, rawlog: RawLog) -> None: ...


async def with_reader(
    ctx: JobContext,
    open_reader: ReaderFactory,
    *,
    recovery: bool,
    work: TelegramWork,
    priority: int | None = None,
) -> None:
    """Run `work` with a connected reader, recording the FloodWaits it met."""
    rawlog = rawlog_for(ctx, priority)
    session = session_key(ctx.settings, recovery=recovery)
    skip_while_flood_waiting(rawlog, session)
    with session_lock(ctx, session):
        flood = FloodWaitPolicy(ctx.settings.floodwait_max_seconds)
        try:
            async with open_reader(ctx.settings, flood, recovery=recovery) as reader:
                await work(reader, rawlog)
        except FloodWaitTooLong as exc:
            flood_wait_too_long(ctx, rawlog, exc, session)
            raise
        finally:
            record_flood_waits(ctx, rawlog, flood.waits, flood.total_seconds, session)


SESSION_LEASE_PREFIX = "telegram-session:"


@contextmanager
def session_lock(ctx: JobContext, session: str) -> Iterator[None]:
    """Hold the lease of the Telegram login a job reads with, for as long as it reads.

    One login serving two processes at once makes Telegram revoke it (AUTH_KEY_DUPLICATED).
    A job's own lease keeps two listeners apart; this one keeps apart any two jobs, on any
    host sharing the database, that read with one login: a session string copied into two
    installations' env files, or a file and a string of the same login. The second exits
    as `skipped`, naming the holder.
    """
    if session == "none":
        yield
        return
    name = SESSION_LEASE_PREFIX + session
    holder = ctx.fence.holder if ctx.fence is not None else f"{ctx.job_name}:{ctx.run_id[:8]}"
    with leases.held(ctx.db, name, holder, ctx.settings.lease_ttl_seconds, ctx.stop) as taken:
        if taken is None:
            held = leases.current(ctx.db, name)
            held_by = str(held["holder"]) if held else "unknown"
            raise JobSkipped(
                f"the Telegram session ({session}) is in use by {held_by}; "
                "one login serves one process at a time",
                lease_held_by=held_by,
            )
        yield
