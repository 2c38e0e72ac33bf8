"""listen, backfill and gap healing over a FakeReader, into a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicquant import queue
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import FloodWaitTooLong
from civicquant.ingest import history, live
from civicquant.ingest.channels import parse_channel_specs
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.ingest.reader import DeletedPosts, EditedPost, FloodWaitPolicy, NewPost, Update
from civicquant.ops import health
from civicquant.runtime.context import JobContext
from civicquant.runtime.runner import JobOutcome, run_job
from civicquant.timeparse import Window
from tests.fakes.reader import FakeReader

NEWS = Channel(4242, "wirewatch", "Wire Watch")
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SPECS = parse_channel_specs("@wirewatch")


def post(message_id: int, text: str | None = None, minutes: int | None = None) -> RawPost:
    return RawPost(
        channel_id=NEWS.channel_id,
        message_id=message_id,
        posted_at=T0 + timedelta(minutes=message_id if minutes is None else minutes),
        text=f"Post number {message_id}" if text is None else text,
    )


@pytest.fixture
def ctx(settings: Settings, db: Database) -> JobContext:
    return JobContext(
        settings, db, "test", "00000000-0000-0000-0000-000000000000", threading.Event()
    )


@pytest.fixture
def rawlog(db: Database) -> RawLog:
    return RawLog(db, pipeline_version="v1")


def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    return db.connection.execute(sql, params).fetchall()


def stored_ids(db: Database) -> list[int]:
    return [r["message_id"] for r in rows(db, "SELECT message_id FROM raw_messages ORDER BY 1")]


def seed(
    rawlog: RawLog, *posts: RawPost, parsed_ago: timedelta | None = timedelta(minutes=5)
) -> None:
    rawlog.save_channel(NEWS)
    rawlog.store(NEWS.channel_id, list(posts), "live")
    if parsed_ago is not None:
        rawlog.db.connection.execute(
            "UPDATE channels SET last_parsed_at = now() - %s", (parsed_ago,)
        )


def listen(ctx: JobContext, reader: FakeReader, rawlog: RawLog, seconds: float = 0.5) -> None:
    options = live.ListenOptions(duration_seconds=seconds)
    asyncio.run(live.listen(ctx, reader, rawlog, SPECS, options))


def test_listen_catches_up_from_the_high_water_mark(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    seed(rawlog, post(1), post(2), post(3))
    reader = FakeReader([post(i) for i in range(1, 7)], channels=[NEWS])
    listen(ctx, reader, rawlog)
    assert reader.calls_to("history")[0].args["min_id"] == 3
    assert reader.calls_to("history")[0].args["since"] is None
    assert stored_ids(db) == [1, 2, 3, 4, 5, 6]
    state = rawlog.channel_state(NEWS.channel_id)
    assert state is not None
    assert state.last_message_id == 6
    assert ctx.counts["caught_up"] == 3


def test_listen_stores_new_edits_as_revisions_and_marks_deletions(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    seed(rawlog, post(1, "Oil rises 2%"), post(2))
    db.connection.execute("UPDATE extraction_jobs SET status = 'ok'")
    stream: list[Update] = [
        NewPost(post(3, "Gold at record")),
        EditedPost(post(1, "Oil rises 3%")),
        DeletedPosts(NEWS.channel_id, (2,)),
    ]
    reader = FakeReader([post(1, "Oil rises 2%"), post(2)], channels=[NEWS], stream=stream)
    listen(ctx, reader, rawlog)

    original = rows(db, "SELECT text, deleted_at FROM raw_messages WHERE message_id = 1")[0]
    assert original["text"] == "Oil rises 2%"
    current = rows(db, "SELECT text FROM raw_messages_current WHERE message_id = 1")[0]
    assert current["text"] == "Oil rises 3%"
    deleted = rows(db, "SELECT deleted_at FROM raw_messages WHERE message_id = 2")[0]
    assert deleted["deleted_at"] is not None
    jobs = {
        r["message_id"]: r["status"]
        for r in rows(
            db,
            "SELECT m.message_id, j.status FROM extraction_jobs j "
            "JOIN raw_messages m ON m.id = j.raw_message_id",
        )
    }
    assert jobs == {1: "pending", 2: "ok", 3: "pending"}  # the edit re-enqueued post 1
    assert (ctx.counts["live_new"], ctx.counts["live_edited"], ctx.counts["deleted"]) == (1, 1, 1)


def test_listen_returns_when_its_duration_passes(ctx: JobContext, rawlog: RawLog) -> None:
    seed(rawlog, post(1))
    reader = FakeReader([post(1)], channels=[NEWS], end_stream_when_drained=False)
    started = time.monotonic()
    listen(ctx, reader, rawlog, seconds=0.6)
    assert 0.5 < time.monotonic() - started < 5


def test_listen_returns_promptly_when_stopped(ctx: JobContext, rawlog: RawLog) -> None:
    seed(rawlog, post(1))
    reader = FakeReader([post(1)], channels=[NEWS], end_stream_when_drained=False)
    threading.Timer(0.3, ctx.stop.set).start()
    started = time.monotonic()
    listen(ctx, reader, rawlog, seconds=600)
    assert time.monotonic() - started < 5


def backfill(ctx: JobContext, reader: FakeReader, rawlog: RawLog, span: Window, **kw: Any) -> None:
    asyncio.run(history.backfill(ctx, reader, rawlog, SPECS, span, **kw))


def test_backfill_reads_since_inclusive_until_exclusive(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    reader = FakeReader([post(i) for i in range(1, 11)], channels=[NEWS])
    backfill(ctx, reader, rawlog, Window(T0 + timedelta(minutes=3), T0 + timedelta(minutes=7)))
    assert stored_ids(db) == [3, 4, 5, 6]
    assert ctx.counts["read"] == 4


def test_backfill_stops_at_max_messages(ctx: JobContext, rawlog: RawLog, db: Database) -> None:
    reader = FakeReader([post(i) for i in range(1, 11)], channels=[NEWS])
    backfill(ctx, reader, rawlog, Window(T0), max_messages=4)
    assert stored_ids(db) == [1, 2, 3, 4]


def test_backfill_of_a_later_window_does_not_move_the_mark(ctx: JobContext, rawlog: RawLog) -> None:
    seed(rawlog, post(1), post(2))
    reader = FakeReader([post(i) for i in range(1, 21)], channels=[NEWS])
    backfill(ctx, reader, rawlog, Window(T0 + timedelta(minutes=10)))
    state = rawlog.channel_state(NEWS.channel_id)
    assert state is not None
    assert state.last_message_id == 2  # 3..9 were never read


def test_backfill_rerun_is_idempotent_and_force_enqueue_resets_jobs(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    reader = FakeReader([post(i) for i in range(1, 4)], channels=[NEWS])
    backfill(ctx, reader, rawlog, Window(T0))
    db.connection.execute("UPDATE extraction_jobs SET status = 'ok'")
    backfill(ctx, reader, rawlog, Window(T0))
    assert rows(db, "SELECT count(*) AS n FROM raw_messages")[0]["n"] == 3
    assert {r["status"] for r in rows(db, "SELECT status FROM extraction_jobs")} == {"ok"}
    backfill(ctx, reader, rawlog, Window(T0), force_enqueue=True)
    assert {r["status"] for r in rows(db, "SELECT status FROM extraction_jobs")} == {"pending"}
    assert rows(db, "SELECT count(*) AS n FROM extraction_jobs")[0]["n"] == 3


def test_short_flood_wait_is_slept_and_counted(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    reader = FakeReader([post(i) for i in range(1, 4)], channels=[NEWS])
    reader.script_flood_wait("history", 30, after=1)
    backfill(ctx, reader, rawlog, Window(T0))
    assert stored_ids(db) == [1, 2, 3]
    assert reader.flood.waits == 1


def test_long_flood_wait_ends_the_run_keeping_what_was_stored(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    reader = FakeReader([post(i) for i in range(1, 4)], channels=[NEWS])
    reader.script_flood_wait("history", 3600, after=0)
    with pytest.raises(FloodWaitTooLong, match="3600s"):
        backfill(ctx, reader, rawlog, Window(T0))
    assert stored_ids(db) == []


def test_gap_healing_fetches_exactly_the_missing_ids_once(
    ctx: JobContext, rawlog: RawLog, db: Database
) -> None:
    seed(rawlog, post(1), post(2), post(5), post(9))
    reader = FakeReader([post(i) for i in (1, 2, 3, 5, 7, 9)], channels=[NEWS])
    asyncio.run(history.heal_gaps(ctx, reader, rawlog, SPECS))
    assert reader.calls_to("fetch")[0].args["ids"] == [3, 4, 6, 7, 8]
    assert stored_ids(db) == [1, 2, 3, 5, 7, 9]
    assert rawlog.gaps(NEWS.channel_id) == []
    assert [
        r["message_id"] for r in rows(db, "SELECT message_id FROM missing_messages ORDER BY 1")
    ] == [4, 6, 8]

    again = FakeReader([post(i) for i in (1, 2, 3, 5, 7, 9)], channels=[NEWS])
    asyncio.run(history.heal_gaps(ctx, again, rawlog, SPECS))
    assert again.calls_to("fetch") == []


def test_gap_counts_report_missing_ids_per_channel(rawlog: RawLog) -> None:
    seed(rawlog, post(1), post(4), post(10))
    [channel] = rawlog.gap_counts()
    assert channel["missing_ids"] == 7
    assert channel["last_message_id"] == 10


def test_enqueue_without_force_leaves_existing_jobs_alone(rawlog: RawLog, db: Database) -> None:
    seed(rawlog, post(1), post(2), post(3, ""))
    db.connection.execute("UPDATE extraction_jobs SET status = 'ok'")
    assert queue.enqueue_window(db, "v1") == (0, 0)
    assert queue.enqueue_window(db, "v2", limit=1) == (1, 1)
    assert queue.enqueue_window(db, "v2") == (1, 1)
    assert queue.counts(db) == {"v1": {"ok": 2}, "v2": {"pending": 2}}  # empty post 3 skipped
    assert queue.enqueue_window(db, "v1", force=True) == (2, 2)
    assert queue.counts(db)["v1"] == {"pending": 2}


def test_enqueue_window_and_channels_filter(rawlog: RawLog, db: Database) -> None:
    seed(rawlog, *(post(i) for i in range(1, 6)))
    other = Channel(777, "marketpulse")
    rawlog.save_channel(other)
    rawlog.store(777, [RawPost(777, 1, T0, text="elsewhere")], "live")
    selected, _ = queue.enqueue_window(
        db,
        "v3",
        since=T0 + timedelta(minutes=2),
        until=T0 + timedelta(minutes=4),
        channel_ids=[NEWS.channel_id],
    )
    assert selected == 2


def test_disabled_queue_collects_raw_only(db: Database) -> None:
    raw_only = RawLog(db, pipeline_version="v1", enqueue=False)
    raw_only.save_channel(NEWS)
    result = raw_only.store(NEWS.channel_id, [post(1)], "live")
    assert (result.inserted, result.enqueued) == (1, 0)
    assert queue.counts(db) == {}


class Opened:
    """A reader factory over one FakeReader that counts how often a run connected."""

    def __init__(self, reader: FakeReader) -> None:
        self.reader = reader
        self.times = 0

    @contextlib.asynccontextmanager
    async def __call__(
        self, settings: Settings, flood: FloodWaitPolicy, *, recovery: bool = False
    ) -> AsyncIterator[FakeReader]:
        self.times += 1
        self.reader.flood = flood  # the run's own policy, as the Telethon adapter gets it
        yield self.reader


def backfill_run(settings: Settings, opened: Opened) -> JobOutcome[None]:
    return run_job(
        settings,
        "backfill",
        lambda ctx: history.backfill_job(
            ctx, SPECS, Window(T0), opened, max_messages=None, force_enqueue=False
        ),
    )


def test_a_long_flood_wait_is_remembered_and_later_runs_skip_until_it_ends(
    settings: Settings, db: Database
) -> None:
    flooded = FakeReader([post(i) for i in range(1, 4)], channels=[NEWS])
    flooded.script_flood_wait("history", 3600, after=0)
    with pytest.raises(FloodWaitTooLong):
        backfill_run(settings, Opened(flooded))

    # The next cron start does not reconnect into the same wait: it is skipped, saying why.
    opened = Opened(FakeReader([post(i) for i in range(1, 4)], channels=[NEWS]))
    outcome = backfill_run(settings, opened)
    assert outcome.skipped
    assert opened.times == 0
    assert "s left) after history" in outcome.counts["skip_reason"]
    assert 3500 < outcome.counts["flood_wait_seconds_left"] <= 3601
    last = rows(db, "SELECT status FROM job_runs ORDER BY id DESC LIMIT 1")
    assert last == [{"status": "skipped"}]
    report = health.check(settings)
    [waiting] = [c for c in report.checks if c.name.startswith("floodwait none")]
    assert "after history in backfill" in waiting.detail

    # Once the wait is over, the run connects and reads.
    db.connection.execute("UPDATE flood_waits SET wait_until = now() - interval '1 second'")
    assert not backfill_run(settings, opened).skipped
    assert opened.times == 1
    assert stored_ids(db) == [1, 2, 3]
