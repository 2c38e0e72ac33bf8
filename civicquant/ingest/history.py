"""History: a window of each channel's past read into the raw log, and its gaps healed.

`civicquant backfill --since` reads a window (on the recovery session when there is one);
`backfill --gaps` fetches exactly the ids missing inside each channel's stored range.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.rawlog import RawLog
from civicquant.ingest.reader import ChannelReader
from civicquant.ingest.storing import (
    ProgressCallback,
    ProgressTracker,
    ReaderFactory,
    channel_name,
    chunks,
    resolve_channels,
    store_stream,
    tally,
    with_reader,
)
from civicquant.runtime.context import JobContext
from civicquant.timeparse import Window

log = structlog.get_logger("civicquant.ingest")

FETCH_IDS_PER_CALL = 100  # Telegram's limit for messages.getChannelMessages


async def backfill(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    specs: Sequence[ChannelSpec],
    span: Window,
    *,
    max_messages: int | None = None,
    force_enqueue: bool = False,
    progress: ProgressCallback | None = None,
) -> None:
    """Read each channel's history for the window into the raw log."""
    channels = await resolve_channels(reader, rawlog, specs)
    tracker = ProgressTracker("backfill", progress)
    remaining = max_messages
    for state in channels:
        if ctx.stop.is_set() or remaining == 0:
            break
        posts = reader.history(state.channel, since=span.since, until=span.until, limit=remaining)
        read = await store_stream(
            ctx,
            rawlog,
            state,
            posts,
            "backfill",
            force_enqueue=force_enqueue,
            progress=tracker,
        )
        ctx.count("read", read)
        if remaining is not None:
            remaining -= read
        log.info("channel_backfilled", channel=channel_name(state), posts=read)


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
        for chunk in chunks(ids, FETCH_IDS_PER_CALL):
            if ctx.stop.is_set():
                return
            found = await reader.fetch(state.channel, chunk)
            posts = [post for post in found.values() if post is not None]
            missing = [i for i in chunk if found.get(i) is None]
            result = rawlog.store(state.channel_id, posts, "backfill", advance_mark=False)
            rawlog.record_missing(state.channel_id, missing)
            tally(ctx, result)
            ctx.count("gap_ids_found", len(posts))
            ctx.count("gap_ids_missing", len(missing))
        log.info("channel_gaps_healed", channel=channel_name(state), ranges=len(ranges))


def backfill_job(
    ctx: JobContext,
    specs: Sequence[ChannelSpec],
    span: Window,
    open_reader: ReaderFactory,
    *,
    max_messages: int | None,
    force_enqueue: bool,
    progress: ProgressCallback | None = None,
    priority: int | None = None,
) -> None:
    """`civicquant backfill --since`: a window of history, on the recovery session if any."""

    async def work(reader: ChannelReader, rawlog: RawLog) -> None:
        await backfill(
            ctx,
            reader,
            rawlog,
            specs,
            span,
            max_messages=max_messages,
            force_enqueue=force_enqueue,
            progress=progress,
        )

    asyncio.run(with_reader(ctx, open_reader, recovery=True, work=work, priority=priority))


def gaps_job(
    ctx: JobContext,
    specs: Sequence[ChannelSpec],
    open_reader: ReaderFactory,
    priority: int | None = None,
) -> None:
    """`civicquant backfill --gaps`: fetch the missing ids of each channel."""

    async def work(reader: ChannelReader, rawlog: RawLog) -> None:
        await heal_gaps(ctx, reader, rawlog, specs)

    asyncio.run(with_reader(ctx, open_reader, recovery=True, work=work, priority=priority))
