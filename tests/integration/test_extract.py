"""The extract worker on a real PostgreSQL: claiming, results, failures, merging, versions."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from civicquant import queue
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.extract.compare import compare
from civicquant.extract.providers import ExtractionValidationError, ProviderError, RulesAdapter
from civicquant.extract.worker import Worker, WorkerOptions, retry_delay
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.runtime.context import JobContext
from tests.fakes.providers import ScriptedProvider, failing_with

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WIRE = Channel(1001, "wirewatch")
PULSE = Channel(1002, "marketpulse")


def seed(db: Database, posts: list[RawPost], version: str = "v1") -> RawLog:
    rawlog = RawLog(db, pipeline_version=version)
    for channel in (WIRE, PULSE):
        rawlog.save_channel(channel)
        mine = [p for p in posts if p.channel_id == channel.channel_id]
        if mine:
            rawlog.store(channel.channel_id, mine, "live")
    return rawlog


def work(settings: Settings, db: Database, provider: Any = None, **options: Any) -> JobContext:
    ctx = JobContext(
        settings, db, "extract", "11111111-2222-3333-4444-555555555555", threading.Event()
    )
    opts = WorkerOptions(
        pipeline_version=options.pop("pipeline_version", "v1"), oneshot=True, **options
    )
    asyncio.run(Worker(ctx, provider or ScriptedProvider(), opts).run())
    return ctx


def two_workers_at_once(settings: Settings, database_url: str, *, max_jobs: int) -> None:
    """Two workers, each taking `max_jobs` posts, that merge at the same moment.

    Neither finishes its provider calls before both have read theirs, so both merge while
    the other is merging too: the second must see the first's events.
    """
    both_read = threading.Barrier(2)

    def hold(text: str) -> None:
        both_read.wait(timeout=30)

    def one_worker() -> None:
        with Database.connect(database_url) as own:
            work(settings, own, ScriptedProvider(hold), max_jobs=max_jobs)

    workers = [threading.Thread(target=one_worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)


def q(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    return db.connection.execute(sql, params).fetchall()


def test_oneshot_extracts_every_pending_job_and_exits(settings: Settings, db: Database) -> None:
    seed(
        db,
        [
            RawPost(
                1001,
                i,
                T0 + timedelta(minutes=i),
                text=f"Story number {i} about apples and {i * 7} pears",
            )
            for i in range(1, 41)
        ],
    )
    ctx = work(settings, db)
    assert ctx.counts["ok"] == 40
    assert queue.counts(db) == {"v1": {"ok": 40}}
    assert q(db, "SELECT count(*) AS n FROM extractions")[0]["n"] == 40
    meta = q(db, "SELECT DISTINCT provider, model, prompt_fingerprint FROM extractions")
    assert meta == [{"provider": "scripted", "model": "scripted-1", "prompt_fingerprint": "0" * 64}]


def test_oneshot_drains_a_queue_longer_than_one_claim(settings: Settings, db: Database) -> None:
    seed(
        db,
        [
            RawPost(1001, i, T0, text=f"Bulletin {i}: item {i * 13} of the day")
            for i in range(1, 351)
        ],
    )
    assert work(settings, db, concurrency=2).counts["ok"] == 350
    assert queue.counts(db) == {"v1": {"ok": 350}}


def test_max_jobs_stops_after_that_many(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, i, T0, text=f"Item {i} on the wire today") for i in range(1, 21)])
    ctx = work(settings, db, max_jobs=7)
    assert ctx.counts["ok"] == 7
    assert queue.counts(db)["v1"] == {"ok": 7, "pending": 13}


STORY_A = "BREAKING: Federal Reserve holds interest rates at 5.25%-5.5%, signals two cuts next year"
STORY_A2 = "🚨 Federal Reserve holds interest rates at 5.25%-5.5%, signals two cuts next year https://t.me/x/1"
STORY_B = "Brent crude jumps 4% after OPEC+ announces deeper output cuts of 1 million barrels a day"


def test_same_story_from_two_channels_is_one_event_with_two_sources(
    settings: Settings, db: Database
) -> None:
    seed(
        db,
        [
            RawPost(1001, 1, T0, text=STORY_A),
            RawPost(1002, 7, T0 + timedelta(minutes=3), text=STORY_A2),
            RawPost(1001, 2, T0 + timedelta(minutes=5), text=STORY_B),
        ],
    )
    work(settings, db)
    events = q(db, "SELECT id, source_count, importance, first_seen_at FROM events ORDER BY id")
    assert [e["source_count"] for e in events] == [2, 1]
    assert events[0]["first_seen_at"] == T0
    sources = q(
        db, "SELECT event_id, channel_id, message_id FROM event_sources ORDER BY channel_id"
    )
    assert {
        (s["channel_id"], s["message_id"]) for s in sources if s["event_id"] == events[0]["id"]
    } == {
        (1001, 1),
        (1002, 7),
    }
    single = q(db, "SELECT max(importance) AS i FROM extractions")[0]["i"]
    assert events[0]["importance"] > single - 1e-6 or events[0]["importance"] == 1.0


def test_same_story_merged_by_two_workers_at_once_is_one_event(
    settings: Settings, db: Database, database_url: str
) -> None:
    seed(db, [RawPost(1001, 1, T0, text=STORY_A), RawPost(1002, 7, T0, text=STORY_A2)])
    two_workers_at_once(settings, database_url, max_jobs=1)
    assert queue.counts(db) == {"v1": {"ok": 2}}
    assert q(db, "SELECT source_count FROM events") == [{"source_count": 2}]


def test_same_story_outside_the_merge_window_is_a_new_event(
    settings: Settings, db: Database
) -> None:
    seed(
        db,
        [
            RawPost(1001, 1, T0, text=STORY_A),
            RawPost(1002, 7, T0 + timedelta(hours=7), text=STORY_A),
        ],
    )
    work(settings, db)
    assert q(db, "SELECT count(*) AS n FROM events")[0]["n"] == 2


def test_edited_post_is_re_extracted_and_its_event_updated(
    settings: Settings, db: Database
) -> None:
    rawlog = seed(db, [RawPost(1001, 1, T0, text=STORY_A)])
    work(settings, db)
    [before] = q(db, "SELECT id, headline FROM events")
    rawlog.store(1001, [RawPost(1001, 1, T0, text=STORY_B)], "live")
    work(settings, db)
    events = q(db, "SELECT id, headline FROM events")
    assert len(events) == 1
    assert events[0]["headline"] != before["headline"]
    assert "Brent" in events[0]["headline"]
    assert q(db, "SELECT count(*) AS n FROM extractions")[0]["n"] == 1


def test_reextracting_an_unchanged_post_keeps_its_event(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, 1, T0, text=STORY_A), RawPost(1002, 7, T0, text=STORY_A2)])
    work(settings, db)
    before = q(db, "SELECT id, source_count FROM events")
    db.connection.execute("UPDATE extraction_jobs SET status = 'pending'")
    work(settings, db)
    assert q(db, "SELECT id, source_count FROM events") == before


def test_provider_error_retries_later_with_backoff(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, 1, T0, text="poison pill"), RawPost(1001, 2, T0, text=STORY_B)])
    provider = ScriptedProvider(failing_with(ProviderError("HTTP 503 from the provider"), "poison"))
    ctx = work(settings, db, provider)
    assert (ctx.counts["ok"], ctx.counts["failed"]) == (1, 1)
    [job] = q(
        db,
        "SELECT status, attempts, last_error, error_class, available_at > now() + interval '10 seconds' AS later "
        "FROM extraction_jobs WHERE status <> 'ok'",
    )
    assert (job["status"], job["attempts"], job["error_class"], job["later"]) == (
        "failed",
        1,
        "provider_error",
        True,
    )
    assert job["last_error"] == "HTTP 503 from the provider"


def test_job_is_dead_after_its_last_attempt(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, 1, T0, text="poison pill")])
    provider = ScriptedProvider(
        failing_with(ExtractionValidationError("importance: must be <= 1"), "poison")
    )
    for attempt in range(3):
        db.connection.execute("UPDATE extraction_jobs SET available_at = now()")
        ctx = work(settings, db, provider, max_attempts=3)
    [job] = q(db, "SELECT status, attempts, error_class, last_error FROM extraction_jobs")
    assert (job["status"], job["attempts"], job["error_class"]) == ("dead", 3, "validation_error")
    assert ctx.counts["dead"] == 1
    db.connection.execute("UPDATE extraction_jobs SET available_at = now()")
    assert work(settings, db, provider).counts["ok"] == 0  # dead jobs are never claimed


def test_retry_delay_grows_exponentially_within_jitter() -> None:
    import random

    rng = random.Random(7)
    for attempt, base in [(1, 30), (2, 60), (3, 120), (10, 3600)]:
        delay = retry_delay(attempt, rng)
        assert base * 0.5 <= delay <= base * 1.5


def test_expired_lease_of_a_dead_worker_is_reclaimed(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, i, T0, text=f"Item {i} on the wire") for i in range(1, 6)])
    db.connection.execute(
        "UPDATE extraction_jobs SET status = 'running', attempts = 1, leased_by = 'gone:1:x', "
        "lease_expires_at = now() - interval '1 second' WHERE raw_message_id <= 2"
    )
    ctx = work(settings, db)
    assert ctx.counts["ok"] == 5
    assert ctx.counts["reclaimed"] == 2
    assert queue.counts(db) == {"v1": {"ok": 5}}


def test_live_lease_of_another_worker_is_left_alone(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, i, T0, text=f"Item {i} on the wire") for i in range(1, 4)])
    db.connection.execute(
        "UPDATE extraction_jobs SET status = 'running', leased_by = 'other:1:x', "
        "lease_expires_at = now() + interval '1 hour' WHERE raw_message_id = 1"
    )
    assert work(settings, db).counts["ok"] == 2


def test_reparse_with_a_new_version_leaves_the_old_version_untouched(
    settings: Settings, db: Database
) -> None:
    seed(db, [RawPost(1001, 1, T0, text=STORY_A), RawPost(1002, 2, T0, text=STORY_A2)])
    work(settings, db)
    before = q(db, "SELECT * FROM extractions ORDER BY id") + q(
        db, "SELECT * FROM events ORDER BY id"
    )
    queue.enqueue_window(db, "v2")
    work(settings, db, pipeline_version="v2")
    after_v1 = q(db, "SELECT * FROM extractions WHERE pipeline_version = 'v1' ORDER BY id") + q(
        db, "SELECT * FROM events WHERE pipeline_version = 'v1' ORDER BY id"
    )
    assert after_v1 == before
    assert q(db, "SELECT count(*) AS n FROM events WHERE pipeline_version = 'v2'")[0]["n"] == 1


def test_stop_signal_releases_jobs_not_finished(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, i, T0, text=f"slow item {i}") for i in range(1, 5)])
    ctx = JobContext(
        settings, db, "extract", "11111111-2222-3333-4444-555555555555", threading.Event()
    )
    provider = ScriptedProvider(lambda text: 30.0)  # never finishes in time
    options = WorkerOptions(pipeline_version="v1", concurrency=4, shutdown_grace_seconds=0.2)
    worker = Worker(ctx, provider, options)

    async def run() -> None:
        asyncio.get_running_loop().call_later(0.5, ctx.stop.set)
        await worker.run()

    asyncio.run(run())
    assert ctx.counts["released"] == 4
    rows = q(db, "SELECT status, attempts, leased_by FROM extraction_jobs")
    assert {(r["status"], r["attempts"], r["leased_by"]) for r in rows} == {("pending", 0, None)}


def test_idle_worker_wakes_on_notify_when_a_post_is_stored(
    settings: Settings, db: Database, database_url: str
) -> None:
    seed(db, [])
    ctx = JobContext(
        settings, db, "extract", "11111111-2222-3333-4444-555555555555", threading.Event()
    )
    options = WorkerOptions(pipeline_version="v1", idle_poll_seconds=60.0, max_runtime_seconds=30)
    worker = Worker(ctx, ScriptedProvider(), options)

    def store_later() -> None:
        from civicquant.db import Database as Db

        time_to_idle = threading.Event()
        time_to_idle.wait(0.5)
        with Db.connect(database_url) as other:
            RawLog(other, pipeline_version="v1").store(
                1001, [RawPost(1001, 1, T0, text=STORY_B)], "live"
            )

    def stop_when_done() -> None:
        from civicquant.db import Database as Db

        with Db.connect(database_url) as other:
            for _ in range(300):
                if queue.counts(other).get("v1") == {"ok": 1}:
                    break
                threading.Event().wait(0.1)
        ctx.stop.set()

    threading.Thread(target=store_later).start()
    watcher = threading.Thread(target=stop_when_done)
    watcher.start()
    asyncio.run(worker.run())
    watcher.join()
    assert ctx.counts["ok"] == 1
    assert ctx.counts["woken_by_notify"] >= 1


REPOST = "🚨 Brent crude jumps 4% to $82 after a tanker is hit in the Red Sea. #oil"
REPOST_AGAIN = "Brent crude jumps 4% to $82 after a tanker is hit in the Red Sea.  @energydesk"


def test_a_repost_reuses_the_extraction_instead_of_calling_the_provider(
    settings: Settings, db: Database
) -> None:
    seed(
        db,
        [
            RawPost(1001, 1, T0, text=REPOST),
            RawPost(1002, 2, T0 + timedelta(minutes=1), text=REPOST_AGAIN),  # same batch
            RawPost(1001, 3, T0 + timedelta(minutes=2), text=STORY_B),
        ],
    )
    provider = ScriptedProvider()
    ctx = work(settings, db, provider)
    assert sorted(provider.calls) == sorted([REPOST, STORY_B])
    assert ctx.counts["reused"] == 1
    # A later run finds the stored extraction: still no call for the same text.
    seed(db, [RawPost(1002, 4, T0 + timedelta(minutes=30), text=REPOST + " ")])
    again = ScriptedProvider()
    work(settings, db, again)
    assert again.calls == []
    rows = q(
        db,
        "SELECT m.message_id, e.topic, e.headline, e.reused_from IS NOT NULL AS reused,"
        " e.latency_ms FROM extractions e JOIN raw_messages m ON m.id = e.raw_message_id"
        " ORDER BY m.message_id",
    )
    first = rows[0]
    assert [r["reused"] for r in rows] == [False, True, False, True]
    assert {(r["topic"], r["headline"]) for r in rows if r["reused"]} == {
        (first["topic"], first["headline"])
    }
    assert all(r["latency_ms"] == 0 for r in rows if r["reused"])


def test_the_rules_extractor_reads_every_repost_itself(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, 1, T0, text=REPOST), RawPost(1002, 2, T0, text=REPOST_AGAIN)])
    ctx = work(settings, db, RulesAdapter())
    assert "reused" not in ctx.counts
    assert q(db, "SELECT count(*) AS n FROM extractions WHERE reused_from IS NULL")[0]["n"] == 2


def test_compare_reports_the_calls_reuse_saved(settings: Settings, db: Database) -> None:
    seed(db, [RawPost(1001, 1, T0, text=REPOST), RawPost(1002, 2, T0, text=REPOST_AGAIN)])
    work(settings, db, ScriptedProvider())
    queue.enqueue_window(db, "v2")
    work(settings, db, RulesAdapter(), pipeline_version="v2")
    found = compare(db, "v1", "v2")
    assert (found.a.calls_saved, found.b.calls_saved) == (1, 0)
