"""Getting posts into the raw log: listen, backfill a window, heal gaps, import an export.

The services talk to Telegram only through a `ChannelReader` and to the database only
through a `RawLog`; posts are stored in batches, each batch one transaction.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

import structlog

from civicquant.db import Database
from civicquant.errors import CivicquantError, FloodWaitTooLong, UsageError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost, Source
from civicquant.ingest.rawlog import ChannelState, PostColumns, RawLog, StoreResult, post_columns
from civicquant.ingest.reader import ChannelReader, DeletedPosts, EditedPost, NewPost, Update
from civicquant.runtime.runner import JobContext
from civicquant.timeparse import Window

log = structlog.get_logger("civicquant.ingest.live")

BATCH_SIZE = 500
# An import stores larger batches: fewer round trips and commits, and the reading thread
# hands the GIL to the storing one less often (5% more posts/s than 500 on 2 cores).
IMPORT_BATCH_SIZE = 2000
_IMPORT_SWITCH_INTERVAL = 0.0005  # seconds; see import_export
FETCH_IDS_PER_CALL = 100  # Telegram's limit for messages.getChannelMessages
PARSED_MARK_EVERY_SECONDS = 60.0

T = TypeVar("T")


def _tally(ctx: JobContext, result: StoreResult) -> None:
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
        states.append(rawlog.save_channel(channel))
    return states


class _Progress:
    """A progress line on a terminal; a log line every few thousand posts otherwise."""

    def __init__(self, what: str, *, every: int = 5000) -> None:
        self.what = what
        self.every = every
        self.done = 0
        self.tty = sys.stderr.isatty()
        self._next_log = every

    def advance(self, amount: int, channel: str) -> None:
        self.done += amount
        if self.tty:
            sys.stderr.write(f"\r{self.what}: {self.done} posts ({channel})\x1b[K")
            sys.stderr.flush()
        elif self.done >= self._next_log:
            log.info("ingest_progress", what=self.what, posts=self.done, channel=channel)
            self._next_log = self.done + self.every

    def close(self) -> None:
        if self.tty and self.done:
            sys.stderr.write("\n")


async def _batches(posts: AsyncIterator[RawPost], size: int) -> AsyncIterator[list[RawPost]]:
    batch: list[RawPost] = []
    async for post in posts:
        batch.append(post)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
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


def _touches_mark(state: ChannelState | None, first: RawPost) -> bool:
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
    progress: _Progress | None = None,
) -> int:
    """Store posts as they arrive, in batches; return how many were read."""
    contiguous: bool | None = None
    read = 0
    async for batch in _batches(posts, BATCH_SIZE):
        if contiguous is None:
            contiguous = _touches_mark(rawlog.channel_state(channel.channel_id), batch[0])
        result = rawlog.store(
            channel.channel_id, batch, source, force_enqueue=force_enqueue, advance_mark=contiguous
        )
        _tally(ctx, result)
        read += len(batch)
        if progress:
            progress.advance(len(batch), _name(channel))
        if ctx.stop.is_set():
            break
    return read


def _name(channel: ChannelState | Channel) -> str:
    return f"@{channel.username}" if channel.username else str(channel.channel_id)


# -- listen ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenOptions:
    duration_seconds: float
    lpa_max_age_hours: int


async def listen(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    specs: Sequence[ChannelSpec],
    options: ListenOptions,
) -> None:
    """Catch every channel up from its high-water mark, then follow it live until told to stop."""
    deadline = time.monotonic() + options.duration_seconds
    channels = await resolve_channels(reader, rawlog, specs)
    for state in channels:
        if ctx.stop.is_set():
            return
        await _catch_up(ctx, reader, rawlog, state, options.lpa_max_age_hours)
    if ctx.stop.is_set() or time.monotonic() >= deadline:
        return
    log.info("listen_streaming", channels=[_name(state) for state in channels])
    await _follow(ctx, reader, rawlog, [state.channel for state in channels], deadline)


async def _catch_up(
    ctx: JobContext, reader: ChannelReader, rawlog: RawLog, state: ChannelState, max_age_hours: int
) -> None:
    now = datetime.now(UTC)
    window_floor = now - timedelta(hours=max_age_hours)
    since = None
    if state.last_parsed_at is None or state.last_parsed_at < window_floor:
        # Too long unattended (or never read): catch up only the recent window; the rest
        # is backfill's job, so one start after a long outage does not read for hours.
        since = window_floor
        ctx.notes.setdefault("catch_up_bounded", []).append(_name(state))
        log.warning(
            "catch_up_bounded",
            channel=_name(state),
            last_parsed_at=str(state.last_parsed_at),
            since=since.isoformat(),
            hint="run `civicquant backfill --since` for the older stretch",
        )
    posts = reader.history(state.channel, min_id=state.last_message_id or 0, since=since)
    read = await store_stream(ctx, rawlog, state, posts, "live")
    ctx.count("caught_up", read)
    if not ctx.stop.is_set():
        rawlog.mark_parsed(state.channel_id)
    log.info("channel_caught_up", channel=_name(state), posts=read)


async def _follow(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    channels: Sequence[Channel],
    deadline: float,
) -> None:
    inbox: asyncio.Queue[Update | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for update in reader.updates(channels):
                await inbox.put(update)
        finally:
            await inbox.put(None)

    pumping = asyncio.create_task(pump())
    next_parsed_mark = time.monotonic() + PARSED_MARK_EVERY_SECONDS
    try:
        while not ctx.stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                update = await asyncio.wait_for(inbox.get(), timeout=min(0.25, remaining))
            except TimeoutError:
                continue
            if update is None:
                break
            # Each update is stored in its own transaction before the next is taken, so a
            # stop between updates never leaves a half-written post.
            _apply(ctx, rawlog, update)
            if time.monotonic() >= next_parsed_mark:
                for channel in channels:
                    rawlog.mark_parsed(channel.channel_id)
                next_parsed_mark = time.monotonic() + PARSED_MARK_EVERY_SECONDS
    finally:
        pumping.cancel()
        results = await asyncio.gather(pumping, return_exceptions=True)
    for channel in channels:
        rawlog.mark_parsed(channel.channel_id)
    error = results[0]
    if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
        raise error


def _apply(ctx: JobContext, rawlog: RawLog, update: Update) -> None:
    if isinstance(update, NewPost):
        _tally(ctx, rawlog.store(update.post.channel_id, [update.post], "live"))
        ctx.count("live_new")
    elif isinstance(update, EditedPost):
        _tally(ctx, rawlog.store(update.post.channel_id, [update.post], "live", advance_mark=False))
        ctx.count("live_edited")
    elif isinstance(update, DeletedPosts):
        ctx.count("deleted", rawlog.mark_deleted(update.channel_id, update.message_ids))


# -- backfill -------------------------------------------------------------------------


async def backfill(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    specs: Sequence[ChannelSpec],
    span: Window,
    *,
    max_messages: int | None = None,
    force_enqueue: bool = False,
) -> None:
    """Read each channel's history for the window into the raw log."""
    channels = await resolve_channels(reader, rawlog, specs)
    progress = _Progress("backfill")
    remaining = max_messages
    try:
        for state in channels:
            if ctx.stop.is_set() or remaining == 0:
                break
            posts = reader.history(
                state.channel, since=span.since, until=span.until, limit=remaining
            )
            read = await store_stream(
                ctx,
                rawlog,
                state,
                posts,
                "backfill",
                force_enqueue=force_enqueue,
                progress=progress,
            )
            ctx.count("read", read)
            if remaining is not None:
                remaining -= read
            log.info("channel_backfilled", channel=_name(state), posts=read)
    finally:
        progress.close()


async def heal_gaps(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    specs: Sequence[ChannelSpec],
) -> None:
    """Fetch exactly the ids missing between each channel's first and last stored post."""
    states = await resolve_channels(reader, rawlog, specs) if specs else rawlog.channels()
    for state in states:
        ranges = rawlog.gaps(state.channel_id)
        ids = (i for first, last in ranges for i in range(first, last + 1))
        for chunk in _chunks(ids, FETCH_IDS_PER_CALL):
            if ctx.stop.is_set():
                return
            found = await reader.fetch(state.channel, chunk)
            posts = [post for post in found.values() if post is not None]
            missing = [i for i in chunk if found.get(i) is None]
            result = rawlog.store(state.channel_id, posts, "backfill", advance_mark=False)
            rawlog.record_missing(state.channel_id, missing)
            _tally(ctx, result)
            ctx.count("gap_ids_found", len(posts))
            ctx.count("gap_ids_missing", len(missing))
        log.info("channel_gaps_healed", channel=_name(state), ranges=len(ranges))


def record_flood_waits(ctx: JobContext, rawlog: RawLog, waits: int, total_seconds: float) -> None:
    """Count the FloodWaits slept in this run (health reports the last day's)."""
    if waits:
        ctx.count("flood_waits", waits)
        ctx.notes["flood_wait_seconds"] = round(total_seconds, 1)
        rawlog.record_flood_wait(ctx.job_name, int(total_seconds), slept=True)


def flood_wait_too_long(ctx: JobContext, rawlog: RawLog, exc: FloodWaitTooLong) -> None:
    rawlog.record_flood_wait(ctx.job_name, exc.seconds, slept=False)


# -- Telegram Desktop export ----------------------------------------------------------


def import_export(
    ctx: JobContext,
    rawlog: RawLog,
    path: Path,
    *,
    username: str | None = None,
    batch_size: int = IMPORT_BATCH_SIZE,
) -> None:
    """Import a Telegram Desktop export into the raw log; a re-run duplicates nothing.

    Posts are committed batch by batch, so a file that turns out to be cut off keeps what
    came before the break (the error names the position). Two threads store batches over two
    connections while this one reads the next (`_Storing`): the database works while Python
    parses and while the other batch's parameters are encoded.
    """
    from civicquant.ingest.export_file import ExportFile

    export = ExportFile(path)
    channel = export.channel
    if username is not None:
        # Exports carry no @name; the operator may give it, for t.me links in digests.
        channel = Channel(channel.channel_id, username, channel.title)
    state = rawlog.save_channel(channel)
    ctx.notes["channel"] = _name(state)
    progress = _Progress(f"import {path.name}")
    contiguous: bool | None = None
    # The reader thread never waits, so it would keep the GIL for the whole default switch
    # interval (5 ms) each time the server answers a writer: the database would idle.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(_IMPORT_SWITCH_INTERVAL)
    storing = _Storing(ctx, rawlog, state.channel_id)
    try:
        try:
            for batch in _chunks(iter(export), batch_size):
                if contiguous is None:
                    contiguous = _touches_mark(rawlog.channel_state(state.channel_id), batch[0])
                # Columns are built here: the writer threads only encode and wait.
                storing.submit(post_columns(batch, "export"), advance_mark=contiguous)
                progress.advance(len(batch), _name(state))
                if ctx.stop.is_set():
                    break
        finally:
            storing.close()  # the batches before a fault or a stop are kept all the same
    finally:
        sys.setswitchinterval(switch_interval)
        progress.close()
        ctx.count("posts", export.stats.posts)
        ctx.count("service_skipped", export.stats.service_skipped)
        ctx.count("unsupported_skipped", export.stats.unsupported_skipped)


class _Storing:
    """An import's batches being stored, over two connections, their marks moved in file order.

    Two batches can be in flight, each on its own connection, so they may commit in either
    order: each is stored without touching the high-water mark, and the mark moves over a
    batch only once it and every batch before it are stored, so it never passes a hole.
    Without a second connection (one not opened by `Database.connect`) batches go one by one.
    """

    def __init__(self, ctx: JobContext, rawlog: RawLog, channel_id: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._ctx = ctx
        self._channel_id = channel_id
        self._rawlog = rawlog
        self._idle = [rawlog]
        self._extra: Database | None = None  # opened for a second batch, not before
        self._may_add = True
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="civicquant-import")
        self._in_flight: deque[tuple[Future[StoreResult], RawLog, RawPost | None]] = deque()
        self._failed = False

    def submit(self, columns: PostColumns, *, advance_mark: bool) -> None:
        """Store a batch on an idle connection (waiting for the oldest batch if none is)."""
        if not self._idle and not self._add_connection():
            self._finish_oldest()
        rawlog = self._idle.pop()
        future = self._pool.submit(
            contextvars.copy_context().run,  # the run's log context goes along
            rawlog.store_columns,
            self._channel_id,
            columns,
            advance_mark=False,
        )
        newest = columns.posts[-1] if advance_mark and columns.posts else None
        self._in_flight.append((future, rawlog, newest))

    def _add_connection(self) -> bool:
        """Open the second connection, once; False if there is none to be had."""
        if not self._may_add:
            return False
        self._may_add = False
        try:
            self._extra = self._rawlog.db.open_sibling("civicquant import writer")
        except CivicquantError:
            return False
        version, enqueue = self._rawlog.pipeline_version, self._rawlog.enqueue
        self._idle.append(RawLog(self._extra, pipeline_version=version, enqueue=enqueue))
        return True

    def close(self) -> None:
        """Wait for every batch in flight, moving the mark over each up to any that failed."""
        failure: CivicquantError | None = None
        try:
            while self._in_flight:
                try:
                    self._finish_oldest()
                except CivicquantError as exc:
                    failure = failure or exc
        finally:
            self._pool.shutdown()
            if self._extra is not None:
                self._extra.close()
        if failure is not None:
            raise failure

    def _finish_oldest(self) -> None:
        future, rawlog, newest = self._in_flight.popleft()
        self._idle.append(rawlog)
        try:
            result = future.result()
        except BaseException:
            self._failed = True  # a hole: the mark moves no further
            raise
        _tally(self._ctx, result)
        if newest is not None and not self._failed:
            rawlog.advance_mark(self._channel_id, newest.message_id, newest.posted_at)


# -- job entry points: what the CLI runs under run_job --------------------------------


def _rawlog(ctx: JobContext) -> RawLog:
    return RawLog(
        ctx.db,
        pipeline_version=ctx.settings.extraction_pipeline_version,
        enqueue=ctx.settings.extraction_queue_enabled,
    )


async def _with_telegram(ctx: JobContext, *, recovery: bool, work: _Work) -> None:
    from civicquant.ingest.reader import FloodWaitPolicy
    from civicquant.telegram.sessions import telegram_reader

    rawlog = _rawlog(ctx)
    flood = FloodWaitPolicy(ctx.settings.floodwait_max_seconds)
    try:
        async with telegram_reader(ctx.settings, flood, recovery=recovery) as reader:
            await work(reader, rawlog)
    except FloodWaitTooLong as exc:
        flood_wait_too_long(ctx, rawlog, exc)
        raise
    finally:
        record_flood_waits(ctx, rawlog, flood.waits, flood.total_seconds)


class _Work(Protocol):
    async def __call__(self, reader: ChannelReader, rawlog: RawLog) -> None: ...


def listen_job(ctx: JobContext, specs: Sequence[ChannelSpec], options: ListenOptions) -> None:
    """`civicquant listen`: catch up, then stream, on the live session."""

    async def work(reader: ChannelReader, rawlog: RawLog) -> None:
        await listen(ctx, reader, rawlog, specs, options)

    asyncio.run(_with_telegram(ctx, recovery=False, work=work))


def backfill_job(
    ctx: JobContext,
    specs: Sequence[ChannelSpec],
    span: Window,
    *,
    max_messages: int | None,
    force_enqueue: bool,
) -> None:
    """`civicquant backfill --since`: a window of history, on the recovery session if any."""

    async def work(reader: ChannelReader, rawlog: RawLog) -> None:
        await backfill(
            ctx, reader, rawlog, specs, span, max_messages=max_messages, force_enqueue=force_enqueue
        )

    asyncio.run(_with_telegram(ctx, recovery=True, work=work))


def gaps_job(ctx: JobContext, specs: Sequence[ChannelSpec]) -> None:
    """`civicquant backfill --gaps`: fetch the missing ids of each channel."""

    async def work(reader: ChannelReader, rawlog: RawLog) -> None:
        await heal_gaps(ctx, reader, rawlog, specs)

    asyncio.run(_with_telegram(ctx, recovery=True, work=work))


def export_job(ctx: JobContext, path: Path, *, username: str | None = None) -> None:
    """`civicquant backfill --from-export`: no Telegram connection at all."""
    import_export(ctx, _rawlog(ctx), path, username=username)
