"""Catch-up: reading what a channel posted while nobody listened, newest first, resumably.

A listen run that finds a channel unread for longer than one chunk (CATCHUP_CHUNK_HOURS)
reads the stretch from the high-water mark to now in chunks: the newest chunk first, its
jobs at live priority, then (beside the live stream) chunk by chunk back to the mark at
backfill priority, pausing while the extraction backlog is above
CATCHUP_QUEUE_HIGH_WATERMARK. `channel_catchup` (migration 0017) holds the position; each
batch of posts commits with it, so the next run resumes exactly where a stopped or killed
one was. The high-water mark stays where the catch-up began until the walk reaches it.

After a downtime (the channel unread for longer than DOWNTIME_AFTER) the posts of the last
RECHECK_HOURS are read again: changed texts become revisions, and stored posts Telegram no
longer returns are marked deleted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from civicquant import queue
from civicquant.ingest import storing
from civicquant.ingest.catchup_state import CatchUp, CatchUpLog
from civicquant.ingest.posts import RawPost
from civicquant.ingest.rawlog import ChannelState, RawLog
from civicquant.ingest.reader import ChannelReader
from civicquant.ingest.storing import batches, channel_name, tally
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.ingest")

# A channel unread for longer than this was down, not handed over: the cron watchdog starts
# a new listen within 5 minutes of the last one ending (civicquant/cron/civicquant.crontab,
# `*/5`), and a running listen marks its channels read every minute; 15 minutes is three
# missed starts.
DOWNTIME_AFTER = timedelta(minutes=15)
# Posts stored (with the catch-up's position) per transaction: as every way in stores.
BATCH_SIZE = storing.BATCH_SIZE
# How often a paused catch-up looks at the extraction backlog again.
PAUSE_POLL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Head:
    """What a run reads of a channel before following it live: its newest stretch."""

    state: ChannelState
    started_at: datetime  # the moment the head read began: live following covers what follows
    min_id: int
    since: datetime | None
    walking: bool  # an older stretch is left to walk back through (the mark must not move)


def plan_head(
    progress: CatchUpLog,
    state: ChannelState,
    now: datetime,
    *,
    chunk: timedelta,
    recheck_hours: int,
) -> Head:
    """Decide what this run reads first of a channel, and record it in `channel_catchup`."""
    recheck = _recheck_span(progress, state, now, recheck_hours)
    row = progress.get(state.channel_id)
    if row is not None and not row.finished:
        if now - row.to_at <= chunk:
            progress.resume(state.channel_id, restart_at=None, recheck=recheck)
            return Head(state, now, row.from_id, row.to_at, walking=True)
        # Down again, longer than a chunk, in the middle of a catch-up: two unread stretches
        # cannot be one position, so the walk starts again from the newest chunk; what it
        # had read is read once more (stored posts are left as they are, not enqueued again).
        progress.resume(state.channel_id, restart_at=now - chunk, recheck=recheck)
        return Head(state, now, row.from_id, now - chunk, walking=True)
    if state.last_message_id is None or state.last_message_at is None:
        # Never read: there is no mark to catch up from. The newest chunk gives the channel
        # its recent posts; older history is `backfill --since`'s or `import-export`'s.
        progress.start(
            state.channel_id,
            from_id=0,
            from_at=now - chunk,
            position=now - chunk,
            finished=True,
            recheck=None,
        )
        return Head(state, now, 0, now - chunk, walking=False)
    # The walk's floor in time: the later of the mark and the last read (listen marks its
    # channels read while it follows them live), so a quiet channel's old mark does not
    # cost days of empty chunks. The last chunk is read by id alone (every post above the
    # mark), so a floor set too late never skips a post; it only makes that chunk bigger.
    floor = max(state.last_message_at, state.last_parsed_at or state.last_message_at)
    walking = floor < now - chunk
    progress.start(
        state.channel_id,
        from_id=state.last_message_id,
        from_at=floor,
        position=now - chunk if walking else floor,
        finished=not walking,
        recheck=recheck,
    )
    if not walking:
        return Head(state, now, state.last_message_id, None, walking=False)
    return Head(state, now, state.last_message_id, now - chunk, walking=True)


def _recheck_span(
    progress: CatchUpLog, state: ChannelState, now: datetime, recheck_hours: int
) -> tuple[datetime, datetime] | None:
    """The span of stored posts to read again, when the channel was left unread (a downtime)."""
    if recheck_hours <= 0 or state.last_parsed_at is None:
        return None
    if now - state.last_parsed_at <= DOWNTIME_AFTER:
        return None
    newest = progress.newest_stored(state.channel_id)
    if newest is None:
        return None
    since = now - timedelta(hours=recheck_hours)
    # Telegram dates are whole seconds: the newest stored post's second is read whole.
    until = newest[1] + timedelta(seconds=1)
    return (since, until) if since < until else None


async def store_read(
    ctx: JobContext,
    rawlog: RawLog,
    progress: CatchUpLog,
    state: ChannelState,
    posts: AsyncIterator[RawPost],
    *,
    in_chunk: bool,
    deadline: float | None = None,
) -> int | None:
    """Store a catch-up read batch by batch, each with its progress in one transaction.

    The mark is not moved. With `in_chunk`, the walk's chunk in hand is recorded as read up
    to each batch's newest id. Returns the posts read, or None when stopped before the end.
    """
    read = 0
    async for batch in batches(posts, BATCH_SIZE):
        with rawlog.db.transaction():
            result = rawlog.store(state.channel_id, batch, "live", advance_mark=False)
            progress.read(
                state.channel_id,
                len(batch),
                after_id=max(post.message_id for post in batch) if in_chunk else None,
            )
        tally(ctx, result)
        ctx.count("caught_up", len(batch))
        read += len(batch)
        if ctx.stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
            return None
    return read


async def walk_back(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    progress: CatchUpLog,
    state: ChannelState,
    *,
    chunk: timedelta,
    deadline: float,
) -> bool:
    """Read a channel's older chunks, newest first, down to the mark; True once caught up.

    `rawlog` enqueues at backfill priority. Before each chunk the extraction backlog is
    looked at; above CATCHUP_QUEUE_HIGH_WATERMARK the walk waits. Returns False when the run
    ends (stopped, or its deadline) first: the next run resumes from the stored position.
    """
    channel_id = state.channel_id
    while True:
        row = progress.get(channel_id)
        if row is None or row.finished:
            return True
        if row.position <= row.from_at:
            break
        if not await _backlog_allows(ctx, progress, state, deadline):
            return False
        low = max(row.from_at, row.position - chunk)
        # The last chunk is read by id alone: every post above the mark, whatever its date.
        since = None if low <= row.from_at else low
        posts = reader.history(
            state.channel,
            min_id=max(row.from_id, row.chunk_after_id or 0),
            since=since,
            until=row.position,
        )
        if (
            await store_read(ctx, rawlog, progress, state, posts, in_chunk=True, deadline=deadline)
            is None
        ):
            return False
        progress.walked(channel_id, low)
        log.info(
            "catch_up_chunk_read",
            channel=channel_name(state),
            since=low.isoformat(),
            until=row.position.isoformat(),
        )
    finish(rawlog, progress, state)
    return True


def finish(rawlog: RawLog, progress: CatchUpLog, state: ChannelState) -> None:
    """End a channel's catch-up: the mark moves to its newest stored post, all in between read."""
    with rawlog.db.transaction():
        newest = progress.newest_stored(state.channel_id)
        if newest is not None:
            rawlog.advance_mark(state.channel_id, *newest)
        progress.finish(state.channel_id)
    row = progress.get(state.channel_id)
    log.info(
        "channel_caught_up",
        channel=channel_name(state),
        posts=row.posts_read if row else None,
        mark=newest[0] if newest else None,
    )


async def _backlog_allows(
    ctx: JobContext, progress: CatchUpLog, state: ChannelState, deadline: float
) -> bool:
    """Wait while the extraction backlog is above the watermark; False if the run ends first."""
    settings = ctx.settings
    if not settings.extraction_queue_enabled:
        return True
    watermark = settings.catchup_queue_high_watermark
    paused = False
    while not ctx.stop.is_set() and time.monotonic() < deadline:
        waiting = queue.waiting(ctx.db, settings.extraction_pipeline_version, at_most=watermark + 1)
        if waiting <= watermark:
            if paused:
                progress.paused(state.channel_id, False)
                log.info("catch_up_resumed", channel=channel_name(state), waiting=waiting)
            return True
        if not paused:
            progress.paused(state.channel_id, True)
            ctx.count("catch_up_paused")
            log.info(
                "catch_up_paused",
                channel=channel_name(state),
                waiting=f">{watermark}",
                watermark=watermark,
            )
            paused = True
        await asyncio.sleep(min(PAUSE_POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
    return False


async def recheck(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    progress: CatchUpLog,
    state: ChannelState,
    span: tuple[datetime, datetime],
    *,
    deadline: float,
) -> bool:
    """Read the span's posts again: edits become revisions, vanished posts are marked deleted.

    Only stored, not yet deleted posts of the span that Telegram no longer returns are
    marked, and only after the whole span was read; service messages are never stored, so
    they are never taken for deletions. False when the run ended first (the recheck stays
    owed).
    """
    since, until = span
    returned: set[int] = set()
    read = 0
    async for batch in batches(reader.history(state.channel, since=since, until=until), BATCH_SIZE):
        tally(ctx, rawlog.store(state.channel_id, batch, "live", advance_mark=False))
        returned.update(post.message_id for post in batch)
        read += len(batch)
        if ctx.stop.is_set() or time.monotonic() >= deadline:
            return False
    gone = [
        message_id
        for message_id in progress.stored_ids_between(state.channel_id, since, until)
        if message_id not in returned
    ]
    with rawlog.db.transaction():
        deleted = rawlog.mark_deleted(state.channel_id, gone) if gone else 0
        progress.rechecked(state.channel_id)
    ctx.count("rechecked", read)
    ctx.count("deleted", deleted)
    log.info(
        "channel_rechecked",
        channel=channel_name(state),
        since=since.isoformat(),
        until=until.isoformat(),
        posts=read,
        deleted=deleted,
    )
    return True


def owed_recheck(row: CatchUp | None) -> tuple[datetime, datetime] | None:
    if row is None or row.recheck_since is None or row.recheck_until is None:
        return None
    return row.recheck_since, row.recheck_until


async def catch_up_in_background(
    ctx: JobContext,
    reader: ChannelReader,
    rawlog: RawLog,
    progress: CatchUpLog,
    states: Sequence[ChannelState],
    catching_up: set[int],
    *,
    chunk: timedelta,
    deadline: float,
) -> None:
    """Beside the live stream: every owed recheck, then each channel's walk back to its mark.

    A channel leaves `catching_up` when its walk is done, so its live posts move the mark
    again.
    """
    for state in states:
        span = owed_recheck(progress.get(state.channel_id))
        if span is not None and not await recheck(
            ctx, reader, rawlog, progress, state, span, deadline=deadline
        ):
            return
    for state in states:
        if state.channel_id not in catching_up:
            continue
        if not await walk_back(
            ctx, reader, rawlog, progress, state, chunk=chunk, deadline=deadline
        ):
            ctx.notes.setdefault("catching_up", []).append(channel_name(state))
            return
        catching_up.discard(state.channel_id)
