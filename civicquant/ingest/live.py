"""Listening: catch each channel up from its high-water mark, then follow it live.

`civicquant listen` holds the `listen` lease for its whole run, so one process reads the
live session at a time; each update is stored in its own transaction before the next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel
from civicquant.ingest.rawlog import ChannelState, RawLog
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
    log.info("listen_streaming", channels=[channel_name(state) for state in channels])
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
        ctx.notes.setdefault("catch_up_bounded", []).append(channel_name(state))
        log.warning(
            "catch_up_bounded",
            channel=channel_name(state),
            last_parsed_at=str(state.last_parsed_at),
            since=since.isoformat(),
            hint="run `civicquant backfill --since` for the older stretch",
        )
    posts = reader.history(state.channel, min_id=state.last_message_id or 0, since=since)
    read = await store_stream(ctx, rawlog, state, posts, "live")
    ctx.count("caught_up", read)
    if not ctx.stop.is_set():
        rawlog.mark_parsed(state.channel_id)
    log.info("channel_caught_up", channel=channel_name(state), posts=read)


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
        tally(ctx, rawlog.store(update.post.channel_id, [update.post], "live"))
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
