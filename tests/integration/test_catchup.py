"""listen's catch-up after downtime (issue 19): every post since the high-water mark, newest
chunk first, resumable, paused by the extraction backlog, with a recheck of recent posts.

A FakeReader stands in for Telegram; the raw log, the queue and channel_catchup are a real
PostgreSQL. Posts are dated relative to now, as the walk is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.ingest import catchup, live
from civicquant.ingest.catchup_state import CatchUpLog
from civicquant.ingest.channels import parse_channel_specs
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.ingest.reader import NewPost
from civicquant.ops import health
from civicquant.ops.health_render import render_json, render_prometheus, render_text
from civicquant.runtime.context import JobContext
from tests.fakes.reader import FakeReader
from tests.helpers.listen_process import past_posts

NEWS = Channel(4242, "wirewatch", "Wire Watch")
SPECS = parse_channel_specs("@wirewatch")
NOW = datetime.now(UTC).replace(microsecond=0)
DAYS_AWAY = 5
STEP = timedelta(minutes=30)
REPO = Path(__file__).resolve().parents[2]


class RecordingReader(FakeReader):
    """A FakeReader that remembers every post its history yielded, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.yielded: list[int] = []

    async def history(self, channel: Channel, **kwargs: Any) -> AsyncGenerator[RawPost, None]:
        async for post in super().history(channel, **kwargs):
            self.yielded.append(post.message_id)
            yield post


class CrashingReader(RecordingReader):
    """Its `call`-th history read fails after `after` posts, as a killed process stops mid-read."""

    def __init__(self, *args: Any, call: int, after: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call = call
        self.after = after

    async def history(self, channel: Channel, **kwargs: Any) -> AsyncGenerator[RawPost, None]:
        crash_here = len(self.calls_to("history")) + 1 == self.call
        yielded = 0
        async for post in super().history(channel, **kwargs):
            if crash_here and yielded == self.after:
                raise Crash
            yielded += 1
            yield post


class Crash(Exception):
    """The stand-in for a SIGKILL in the middle of a read."""


def make_ctx(settings: Settings, db: Database, **overrides: Any) -> JobContext:
    return JobContext(
        dataclasses.replace(settings, **overrides),
        db,
        "listen",
        "00000000-0000-0000-0000-000000000000",
        threading.Event(),
    )


@pytest.fixture
def rawlog(db: Database) -> RawLog:
    return RawLog(db, pipeline_version="v1")


def post(message_id: int, at: datetime, text: str | None = None) -> RawPost:
    return RawPost(NEWS.channel_id, message_id, at, text=text or f"Post number {message_id}")


def downtime_posts() -> tuple[list[RawPost], list[RawPost]]:
    """Three posts stored before a 5-day downtime, and one every 30 minutes during it."""
    left = NOW - timedelta(days=DAYS_AWAY)
    before = [post(i, left - timedelta(minutes=10 * (4 - i))) for i in range(1, 4)]
    during: list[RawPost] = []
    at = left + STEP
    while at < NOW - timedelta(minutes=1):
        during.append(post(len(before) + len(during) + 1, at))
        at += STEP
    return before, during


def seed(rawlog: RawLog, posts: list[RawPost], *, parsed_ago: timedelta) -> None:
    rawlog.save_channel(NEWS)
    rawlog.store(NEWS.channel_id, posts, "live")
    rawlog.db.connection.execute("UPDATE channels SET last_parsed_at = now() - %s", (parsed_ago,))


def listen(ctx: JobContext, reader: FakeReader, rawlog: RawLog, seconds: float = 60) -> None:
    options = live.ListenOptions(
        duration_seconds=seconds,
        catchup_chunk_hours=ctx.settings.catchup_chunk_hours,
        recheck_hours=ctx.settings.recheck_hours,
    )
    asyncio.run(live.listen(ctx, reader, rawlog, SPECS, options))


def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    return db.connection.execute(sql, params).fetchall()


def stored_ids(db: Database) -> list[int]:
    return [r["message_id"] for r in rows(db, "SELECT message_id FROM raw_messages ORDER BY 1")]


def mark(rawlog: RawLog) -> int | None:
    state = rawlog.channel_state(NEWS.channel_id)
    assert state is not None
    return state.last_message_id


def drain(db: Database) -> None:
    db.connection.execute("UPDATE extraction_jobs SET status = 'ok'")


def test_a_channel_left_five_days_gets_every_post_read_with_no_backfill(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    before, during = downtime_posts()
    seed(rawlog, before, parsed_ago=timedelta(days=DAYS_AWAY))
    reader = RecordingReader([*before, *during], channels=[NEWS])
    ctx = make_ctx(settings, db)
    listen(ctx, reader, rawlog)
    assert stored_ids(db) == [p.message_id for p in [*before, *during]]
    assert sorted(reader.yielded) == [p.message_id for p in during]  # each read once
    assert mark(rawlog) == during[-1].message_id
    progress = CatchUpLog(db).get(NEWS.channel_id)
    assert progress is not None
    assert progress.finished
    assert progress.posts_read == len(during)
    # Read newest chunk first, then walking back to the mark a chunk at a time.
    head, *walk = reader.calls_to("history")
    assert (head.args["min_id"], head.args["until"]) == (3, None)
    untils = [call.args["until"] for call in walk]
    assert untils == sorted(untils, reverse=True)
    assert len(walk) >= DAYS_AWAY * 24 // settings.catchup_chunk_hours - 1
    chunk = timedelta(hours=settings.catchup_chunk_hours)
    assert all(c.args["until"] - c.args["since"] <= chunk for c in walk if c.args["since"])
    assert walk[-1].args["since"] is None  # the last chunk: every post above the mark


def test_the_newest_chunk_is_enqueued_at_live_priority_and_older_chunks_at_backfill(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    before, during = downtime_posts()
    seed(rawlog, before, parsed_ago=timedelta(days=DAYS_AWAY))
    drain(db)
    started = datetime.now(UTC)
    listen(make_ctx(settings, db), FakeReader([*before, *during], channels=[NEWS]), rawlog)
    chunk_start = started - timedelta(hours=settings.catchup_chunk_hours)
    jobs = rows(
        db,
        "SELECT m.posted_at, j.priority FROM extraction_jobs j "
        "JOIN raw_messages m ON m.id = j.raw_message_id WHERE j.status = 'pending'",
    )
    assert len(jobs) == len(during)
    newest = {j["priority"] for j in jobs if j["posted_at"] >= chunk_start + timedelta(minutes=1)}
    older = {j["priority"] for j in jobs if j["posted_at"] < chunk_start - timedelta(minutes=1)}
    assert (newest, older) == ({30}, {20})


def test_a_backlog_above_the_watermark_pauses_old_chunks_and_the_next_run_finishes(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    before, during = downtime_posts()
    seed(rawlog, before, parsed_ago=timedelta(days=DAYS_AWAY))  # three jobs pending
    live_post = post(during[-1].message_id + 1, datetime.now(UTC), "Breaking: live")
    reader = FakeReader([*before, *during], channels=[NEWS], stream=[NewPost(live_post)])
    ctx = make_ctx(settings, db, catchup_queue_high_watermark=2)
    listen(ctx, reader, rawlog, seconds=1.5)

    newest_chunk = [
        p.message_id
        for p in during
        if p.posted_at >= NOW - timedelta(hours=settings.catchup_chunk_hours) + STEP
    ]
    stored = stored_ids(db)
    assert set(newest_chunk) | {live_post.message_id} <= set(stored)
    assert during[0].message_id not in stored  # no old chunk was read
    assert ctx.counts["catch_up_paused"] == 1
    assert mark(rawlog) == before[-1].message_id  # the live post did not move it
    progress = CatchUpLog(db).get(NEWS.channel_id)
    assert progress is not None
    assert progress.paused_at is not None
    assert not progress.finished
    # The stretch still to read is not a gap to heal, nor missing ids for health.
    assert rawlog.gaps(NEWS.channel_id) == []
    assert [row["missing_ids"] for row in rawlog.gap_counts()] == [0]

    drain(db)
    again = RecordingReader(reader.stored(NEWS.channel_id), channels=[NEWS])
    listen(make_ctx(settings, db), again, rawlog)
    assert stored_ids(db) == [p.message_id for p in [*before, *during]] + [live_post.message_id]
    assert not set(again.yielded) & set(stored)  # nothing read twice
    assert mark(rawlog) == live_post.message_id
    finished = CatchUpLog(db).get(NEWS.channel_id)
    assert finished is not None
    assert (finished.finished, finished.paused_at) == (True, None)


def test_a_run_killed_mid_walk_is_resumed_exactly_by_the_next_run(
    settings: Settings, db: Database, rawlog: RawLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, during = downtime_posts()
    seed(rawlog, before, parsed_ago=timedelta(days=DAYS_AWAY))
    # Batches of 5 in chunks of 12 posts: killed in the middle of an old chunk's read, after
    # some of its batches were stored.
    monkeypatch.setattr(catchup, "BATCH_SIZE", 5)
    crashing = CrashingReader([*before, *during], channels=[NEWS], call=6, after=7)
    with pytest.raises(Crash):
        listen(make_ctx(settings, db), crashing, rawlog)
    progress = CatchUpLog(db).get(NEWS.channel_id)
    assert progress is not None
    assert progress.chunk_after_id is not None  # stopped inside a chunk
    stored_before = set(stored_ids(db))
    assert len(stored_before) < len(before) + len(during)

    again = RecordingReader([*before, *during], channels=[NEWS])
    listen(make_ctx(settings, db), again, rawlog)
    assert stored_ids(db) == [p.message_id for p in [*before, *during]]
    assert not set(again.yielded) & stored_before  # the rest, and nothing twice
    assert sorted(again.yielded) == sorted({p.message_id for p in during} - stored_before)
    assert rows(db, "SELECT count(*) AS n FROM extraction_jobs")[0]["n"] == len(stored_ids(db))
    assert mark(rawlog) == during[-1].message_id


def test_edits_and_deletions_made_during_downtime_within_recheck_hours_are_recorded(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    old = post(1, NOW - timedelta(hours=60), "Old text")
    edited = post(2, NOW - timedelta(hours=30), "Oil rises 2%")
    deleted = post(3, NOW - timedelta(hours=20), "Wrong figure")
    kept = post(4, NOW - timedelta(hours=10), "Unchanged")
    seed(rawlog, [old, edited, deleted, kept], parsed_ago=timedelta(hours=12))
    drain(db)
    telegram = [
        post(1, old.posted_at, "Old text, edited (outside RECHECK_HOURS)"),
        post(2, edited.posted_at, "Oil rises 3%"),
        kept,
        post(5, NOW - timedelta(hours=1), "New while away"),
    ]
    ctx = make_ctx(settings, db)
    listen(ctx, FakeReader(telegram, channels=[NEWS]), rawlog)

    current = {
        r["message_id"]: (r["text"], r["deleted_at"] is not None)
        for r in rows(db, "SELECT message_id, text, deleted_at FROM raw_messages_current")
    }
    assert current == {
        1: ("Old text", False),
        2: ("Oil rises 3%", False),
        3: ("Wrong figure", True),
        4: ("Unchanged", False),
        5: ("New while away", False),
    }
    assert ctx.counts["deleted"] == 1
    revised = rows(
        db,
        "SELECT m.message_id, j.status, j.priority FROM extraction_jobs j "
        "JOIN raw_messages m ON m.id = j.raw_message_id WHERE j.status = 'pending' ORDER BY 1",
    )
    assert [(r["message_id"], r["priority"]) for r in revised] == [(2, 20), (5, 30)]
    progress = CatchUpLog(db).get(NEWS.channel_id)
    assert progress is not None
    assert progress.recheck_since is None  # done, not owed again


def test_a_routine_hand_over_rereads_nothing(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    stored = [post(1, NOW - timedelta(hours=30)), post(2, NOW - timedelta(hours=2))]
    seed(rawlog, stored, parsed_ago=timedelta(minutes=4))
    reader = FakeReader([*stored, post(3, NOW - timedelta(minutes=2))], channels=[NEWS])
    listen(make_ctx(settings, db), reader, rawlog)
    history = reader.calls_to("history")
    assert [(call.args["min_id"], call.args["since"]) for call in history] == [(2, None)]
    assert stored_ids(db) == [1, 2, 3]
    assert mark(rawlog) == 3


def test_a_recheck_cut_short_marks_nothing_deleted_and_stays_owed(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    stored = [post(i, NOW - timedelta(hours=20 - i)) for i in range(1, 6)]
    seed(rawlog, stored, parsed_ago=timedelta(hours=1))
    telegram = [stored[0], stored[1]]  # 3..5 not returned: the read breaks off first
    reader = FakeReader(telegram, channels=[NEWS])
    reader.script_error("history", Crash(), after=1)
    with pytest.raises(Crash):
        listen(make_ctx(settings, db), reader, rawlog)
    assert (
        rows(db, "SELECT count(*) AS n FROM raw_messages WHERE deleted_at IS NOT NULL")[0]["n"] == 0
    )
    progress = CatchUpLog(db).get(NEWS.channel_id)
    assert progress is not None
    assert progress.recheck_since is not None  # still owed: the next run reads it again


def test_health_shows_each_channels_catch_up_position(
    settings: Settings, db: Database, rawlog: RawLog
) -> None:
    before, during = downtime_posts()
    seed(rawlog, before, parsed_ago=timedelta(days=DAYS_AWAY))
    reader = FakeReader([*before, *during], channels=[NEWS])
    listen(make_ctx(settings, db, catchup_queue_high_watermark=2), reader, rawlog, seconds=1)
    report = health.check(settings)
    (channel,) = report.channels
    assert channel.catch_up == "paused"
    assert channel.catch_up_left_seconds > (DAYS_AWAY * 24 - 7) * 3600
    assert channel.catch_up_from is not None
    assert "paused: 4d left" in render_text(report)
    assert '"catch_up": "paused"' in render_json(report)
    prometheus = render_prometheus(report)
    assert 'civicquant_channel_catchup_paused{channel="@wirewatch"} 1' in prometheus
    assert 'civicquant_channel_catchup_remaining_seconds{channel="@wirewatch"} 4' in prometheus

    drain(db)
    listen(
        make_ctx(settings, db), FakeReader(reader.stored(NEWS.channel_id), channels=[NEWS]), rawlog
    )
    (done,) = health.check(settings).channels
    assert (done.catch_up, done.catch_up_left_seconds) == ("caught up", 0.0)


def test_a_listen_process_killed_mid_catch_up_leaves_the_rest_to_the_next_run_read_once(
    settings: Settings, db: Database, rawlog: RawLog, database_url: str
) -> None:
    since = NOW - timedelta(days=DAYS_AWAY)
    step = timedelta(minutes=10)
    seed(
        rawlog,
        past_posts(NEWS.channel_id, since, step, since + 3 * step),
        parsed_ago=timedelta(days=DAYS_AWAY),
    )
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.helpers.listen_process",
            "--channel-id",
            str(NEWS.channel_id),
            "--username",
            "wirewatch",
            "--interval",
            "0",
            "--duration",
            "120",
            "--history-since",
            since.isoformat(),
            "--history-step-minutes",
            "10",
            "--history-delay",
            "0.004",
            "--catchup-batch",
            "7",
        ],
        cwd=REPO,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "DATABASE_URL": database_url,
            "LOG_FORMAT": "json",
            "LEASE_TTL_SECONDS": "5",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as listener:
        try:
            # Killed once it has walked a good way back, far from the mark.
            while len(stored_ids(db)) < 300:
                assert listener.poll() is None, listener.stderr.read() if listener.stderr else ""
                time.sleep(0.02)
            listener.send_signal(signal.SIGKILL)
        finally:
            listener.kill()
            listener.wait(timeout=30)
    stored_before = set(stored_ids(db))
    progress = CatchUpLog(db).get(NEWS.channel_id)
    assert progress is not None
    assert not progress.finished

    channel_past = past_posts(NEWS.channel_id, since, step, datetime.now(UTC))
    again = RecordingReader(channel_past, channels=[NEWS])
    listen(make_ctx(settings, db), again, rawlog)
    assert stored_ids(db) == [p.message_id for p in channel_past]
    assert not set(again.yielded) & stored_before
    assert len(again.yielded) == len(set(again.yielded))
    assert rows(db, "SELECT count(*) AS n FROM extraction_jobs")[0]["n"] == len(channel_past)
    assert mark(rawlog) == channel_past[-1].message_id
