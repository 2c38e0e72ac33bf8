"""Listening: follow each channel live while catching it up from its high-water mark.

`civicquant listen` holds the `listen` lease for its whole run, so one process reads the
live session at a time; each update is stored in its own transaction before the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from civicquant import queue
from civicquant.ingest import catchup
from civicquant.ingest.catchup import Head
from civicquant.ingest.catchup_state import CatchUpLog
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel
from civicquant.ingest.rawlog import RawLog
from civicquant.ingest.reader import ChannelReader, DeletedPosts, EditedPost, NewPost, Update
from civicquant.ingest.storing import (
    ReaderFactory,
    channel_name,
    resolve_channels,
    store_stream,
    tally,
    with_reader,
)
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.ingest")

PARSED_MARK_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ListenOptions:
    duration_seconds: float
    # CATCHUP_CHUNK_HOURS and RECHECK_HOURS (civicquant.config); the queue watermark is read
    # from the job's settings.
    catchup_chunk_hours: int = 6
    recheck_hours: int = 48


async def listen(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    specs: Sequence[ChannelSpec],
    options: ListenOptions,
) -> None:
    """Catch every channel up from its high-water mark while following it live, until told to stop.

    Each channel's newest stretch is read first (live priority); then the live stream and
    the catch-up of older chunks (backfill priority) run side by side on one reader.
    """
    deadline = time.monotonic() + options.duration_seconds
    chunk = timedelta(hours=options.catchup_chunk_hours)
    channels = await resolve_channels(reader, rawlog, specs)
    progress = CatchUpLog(rawlog.db)
    catching_up: set[int] = set()
    for state in channels:
        if ctx.stop.is_set():
            return
        head = catchup.plan_head(
            progress,
            state,
            datetime.now(UTC),
            chunk=chunk,
            recheck_hours=options.recheck_hours,
        )
        if not await _read_head(ctx, reader, rawlog, progress, head):
            return
        if head.walking:
            catching_up.add(state.channel_id)
    if ctx.stop.is_set() or time.monotonic() >= deadline:
        return
    log.info("listen_streaming", channels=[channel_name(state) for state in channels])
    background = asyncio.create_task(
        catchup.catch_up_in_background(
            ctx,
            reader,
            rawlog.at_priority(queue.PRIORITIES["backfill"]),
            progress,
            channels,
            catching_up,
            chunk=chunk,
            deadline=deadline,
        )
    )

    def background_failed() -> bool:
        return (
            background.done() and not background.cancelled() and background.exception() is not None
        )

    try:
        await _follow(
            ctx,
            reader,
            rawlog,
            [state.channel for state in channels],
            deadline,
            catching_up=catching_up,
            progress=progress,
            halt=background_failed,
        )
        # A stream can end before the deadline (a test's scripted one): the catch-up goes on.
        while not background.done() and not ctx.stop.is_set() and time.monotonic() < deadline:
            await asyncio.wait({background}, timeout=min(0.25, deadline - time.monotonic()))
    finally:
        if not background.done():
            background.cancel()
        results = await asyncio.gather(background, return_exceptions=True)
    if catching_up:
        ctx.notes["catching_up"] = [
            channel_name(state) for state in channels if state.channel_id in catching_up
        ]
    error = results[0]
    if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
        raise error


async def _read_head(
    ctx: JobContext, reader: ChannelReader, rawlog: RawLog, progress: CatchUpLog, head: Head
) -> bool:
    """Read a channel's newest stretch; False when stopped before its end."""
    state = head.state
    posts = reader.history(state.channel, min_id=head.min_id, since=head.since)
    if head.walking:
        read = await catchup.store_read(ctx, rawlog, progress, state, posts, in_chunk=False)
        if read is None:
            return False
        progress.followed(state.channel_id, head.started_at)
        # Read up to now and followed live from here on: not a downtime for the next run,
        # even if this one is killed before following marks it read.
        rawlog.mark_parsed(state.channel_id)
        row = progress.get(state.channel_id)
        log.info(
            "catch_up_started" if row and row.posts_read == read else "catch_up_resumed",
            channel=channel_name(state),
            newest_posts=read,
            mark=row.from_id if row else None,
            walk_from=row.position.isoformat() if row else None,
            walk_to=row.from_at.isoformat() if row else None,
        )
        return not ctx.stop.is_set()
    read = await store_stream(ctx, rawlog, state, posts, "live")
    ctx.count("caught_up", read)
    progress.read(state.channel_id, read)
    if ctx.stop.is_set():
        return False
    rawlog.mark_parsed(state.channel_id)
    log.info("channel_caught_up", channel=channel_name(state), posts=read)
    return True


async def _follow(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    channels: Sequence[Channel],
    deadline: float,
    *,
    catching_up: set[int],
    progress: CatchUpLog,
    halt: Callable[[], bool],
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
        while not ctx.stop.is_set() and not halt():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                update = await asyncio.wait_for(inbox.get(), timeout=min(0.25, remaining))
            except TimeoutError:
                pass  # a quiet moment: still mark the channels read on time
            else:
                if update is None:
                    break
                # Each update is stored in its own transaction before the next is taken, so a
                # stop between updates never leaves a half-written post.
                _apply(ctx, rawlog, update, catching_up)
            if time.monotonic() >= next_parsed_mark:
                _mark_followed(rawlog, progress, channels, catching_up)
                next_parsed_mark = time.monotonic() + PARSED_MARK_EVERY_SECONDS
    finally:
        pumping.cancel()
        results = await asyncio.gather(pumping, return_exceptions=True)
    for channel in channels:
        rawlog.mark_parsed(channel.channel_id)
    error = results[0]
    if isinstance(error, BaseException) and not isinstance(error, asyncio.CancelledError):
        raise error


def _mark_followed(
    rawlog: RawLog, progress: CatchUpLog, channels: Sequence[Channel], catching_up: set[int]
) -> None:
    """Every minute: the channels were read live just now; a catch-up's live top moves up.

    The top lags a minute behind: an update still on its way (in the inbox, or in Telegram's
    pipe) when a run is killed is read again by the next run's head, not lost.
    """
    followed_to = datetime.now(UTC) - timedelta(seconds=PARSED_MARK_EVERY_SECONDS)
    for channel in channels:
        rawlog.mark_parsed(channel.channel_id)
        if channel.channel_id in catching_up:
            progress.followed(channel.channel_id, followed_to)


def _apply(ctx: JobContext, rawlog: RawLog, update: Update, catching_up: set[int]) -> None:
    if isinstance(update, NewPost):
        # While a channel catches up its mark stays where the catch-up began: a live post
        # must not move it over the stretch still unread.
        advance = update.post.channel_id not in catching_up
        tally(
            ctx, rawlog.store(update.post.channel_id, [update.post], "live", advance_mark=advance)
        )
        ctx.count("live_new")
    elif isinstance(update, EditedPost):
        tally(ctx, rawlog.store(update.post.channel_id, [update.post], "live", advance_mark=False))
        ctx.count("live_edited")
    elif isinstance(update, DeletedPosts):
        ctx.count("deleted", rawlog.mark_deleted(update.channel_id, update.message_ids))


def listen_job(
    ctx: JobContext,
    specs: Sequence[ChannelSpec],
    options: ListenOptions,
    open_reader: ReaderFactory,
) -> None:
    """`civicquant listen`: catch up, then stream, on the live session."""

    async def work(reader: ChannelReader, rawlog: RawLog) -> None:
        await listen(ctx, reader, rawlog, specs, options)

    asyncio.run(with_reader(ctx, open_reader, recovery=False, work=work))
