"""Importing a Telegram Desktop export (result.json) into the raw log, without Telegram.

Decoding the file is `export_file`'s concern; this module stores what it yields, batch by
batch over two connections, so a cut-off file keeps every post before the break and a
re-run duplicates nothing.
"""

from __future__ import annotations

import contextvars
import sys
from collections import deque
from concurrent.futures import Future
from datetime import tzinfo
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import PostColumns, RawLog, StoreResult, post_columns
from civicquant.ingest.storing import (
    ProgressCallback,
    ProgressTracker,
    channel_name,
    chunks,
    rawlog_for,
    tally,
    touches_mark,
)
from civicquant.runtime.context import JobContext

if TYPE_CHECKING:
    from civicquant.ingest.export_file import ExportFile

# An import stores larger batches: fewer round trips and commits, and the reading thread
# hands the GIL to the storing one less often (5% more posts/s than 500 on 2 cores).
IMPORT_BATCH_SIZE = 2000
_IMPORT_SWITCH_INTERVAL = 0.0005  # seconds; see import_export


def open_export(
    path: Path, *, timezone: tzinfo | None = None, chat: str | None = None
) -> ExportFile:
    """The export at `path`, its header read and checked: which channel, which chat.

    A path that is no readable export, or a --chat it does not hold, raises InputFormatError
    here, before any run is recorded: a mistake on the command line is no job failure.
    """
    from civicquant.ingest.export_file import ExportFile

    return ExportFile(path, timezone=timezone, chat=chat)


def import_export(
    ctx: JobContext,
    rawlog: RawLog,
    path: Path | ExportFile,
    *,
    username: str | None = None,
    timezone: tzinfo | None = None,
    chat: str | None = None,
    max_posts: int | None = None,
    batch_size: int = IMPORT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> None:
    """Import a Telegram Desktop export into the raw log; a re-run duplicates nothing.

    `path` is the file, or the export `open_export` already opened (then `timezone` and
    `chat` are the ones it was opened with).

    Posts are committed batch by batch, so a file that turns out to be cut off keeps what
    came before the break (the error names the position). Two threads store batches over two
    connections while this one reads the next (`_Storing`): the database works while Python
    parses and while the other batch's parameters are encoded.
    """
    from civicquant.ingest.export_file import ExportFile

    storing: _Storing | None = None

    def record_service_ids(ids: list[int]) -> None:
        # A service message (a pin, a join) has an id but is no post: recorded as a known
        # gap, so health and `backfill --gaps` do not count it missing.
        assert storing is not None
        storing.record_known_missing(ids)

    if isinstance(path, ExportFile):
        export = path
        export.watch(ctx.stop, record_service_ids)
    else:
        export = ExportFile(
            path, stop=ctx.stop, timezone=timezone, chat=chat, on_service_ids=record_service_ids
        )
    # Exports carry no @name; the operator may give it, for t.me links in digests. It is
    # recorded only once the whole file is stored: a failed import renames nothing.
    state = rawlog.save_channel(export.channel)
    ctx.notes["channel"] = channel_name(state)
    tracker = ProgressTracker(f"import {export.path.name}", progress)
    contiguous: bool | None = None
    # The reader thread never waits, so it would keep the GIL for the whole default switch
    # interval (5 ms) each time the server answers a writer: the database would idle.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(_IMPORT_SWITCH_INTERVAL)
    storing = _Storing(ctx, rawlog, state.channel_id)
    try:
        try:
            for batch in chunks(islice(export, max_posts), batch_size):
                # Negative ids (a supergroup's basic-group past, written first) are another
                # peer's history: the mark, and whether the file meets it, go by the others.
                first = next((post for post in batch if post.message_id > 0), None)
                if contiguous is None and first is not None:
                    contiguous = touches_mark(rawlog.channel_state(state.channel_id), first)
                # Columns are built here: the writer threads only encode and wait.
                storing.submit(post_columns(batch, "export"), advance_mark=bool(contiguous))
                tracker.advance(len(batch), channel_name(state))
                if ctx.stop.is_set():
                    break
        finally:
            try:
                export.flush_service_ids()
            finally:
                storing.close()  # the batches before a fault or a stop are kept all the same
        if username is not None and not ctx.stop.is_set():
            state = rawlog.save_channel(Channel(state.channel_id, username, state.title))
            ctx.notes["channel"] = channel_name(state)
    finally:
        sys.setswitchinterval(switch_interval)
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
        # Each batch in flight: its store, its connection, the post the mark may move over,
        # and its last post (how far the import got, once stored).
        self._in_flight: deque[
            tuple[Future[StoreResult], RawLog, RawPost | None, RawPost | None]
        ] = deque()
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
        last = columns.posts[-1] if columns.posts else None
        newest = last if advance_mark else None
        if newest is not None and newest.message_id < 0:
            newest = None  # the mark counts the channel's own (positive) ids only
        self._in_flight.append((future, rawlog, newest, last))

    def record_known_missing(self, message_ids: list[int]) -> None:
        """Record ids that hold no post on an idle connection, like a batch; no mark moves."""
        if not self._idle and not self._add_connection():
            self._finish_oldest()
        rawlog = self._idle.pop()
        future = self._pool.submit(
            contextvars.copy_context().run,
            _record_missing,
            rawlog,
            self._channel_id,
            message_ids,
        )
        self._in_flight.append((future, rawlog, None, None))

    def _add_connection(self) -> bool:
        """Open the second connection, once; False if there is none to be had."""
        if not self._may_add:
            return False
        self._may_add = False
        try:
            self._extra = self._rawlog.db.open_sibling("civicquant import writer")
        except CivicquantError:
            return False
        first = self._rawlog
        self._idle.append(
            RawLog(
                self._extra,
                pipeline_version=first.pipeline_version,
                enqueue=first.enqueue,
                fence=first.fence,
                priority=first.priority,
            )
        )
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
        future, rawlog, newest, last = self._in_flight.popleft()
        self._idle.append(rawlog)
        try:
            result = future.result()
        except BaseException:
            self._failed = True  # a hole: the mark moves no further
            raise
        tally(self._ctx, result)
        if last is not None and not self._failed:
            # Batches finish in file order: this is how far the file is stored.
            self._ctx.notes["last_message_id"] = last.message_id
        if newest is not None and not self._failed:
            rawlog.advance_mark(self._channel_id, newest.message_id, newest.posted_at)


def _record_missing(rawlog: RawLog, channel_id: int, message_ids: list[int]) -> StoreResult:
    rawlog.record_missing(channel_id, message_ids)
    return StoreResult()


def export_job(
    ctx: JobContext,
    path: Path | ExportFile,
    *,
    username: str | None = None,
    timezone: tzinfo | None = None,
    chat: str | None = None,
    max_posts: int | None = None,
    progress: ProgressCallback | None = None,
    priority: int | None = None,
) -> None:
    """`civicquant backfill --from-export`: no Telegram connection at all."""
    import_export(
        ctx,
        rawlog_for(ctx, priority),
        path,
        username=username,
        timezone=timezone,
        chat=chat,
        max_posts=max_posts,
        progress=progress,
    )
