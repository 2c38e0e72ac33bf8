"""The work queue's own statements on a real PostgreSQL: claim, complete, complete-and-claim."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from civicquant import queue
from civicquant.db import Database
from civicquant.errors import UsageError
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WIRE = Channel(1001, "wirewatch")
LEASE = 60.0


def seed(db: Database, count: int) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(WIRE)
    posts = [
        RawPost(1001, i, T0 + timedelta(minutes=i), text=f"post {i}") for i in range(1, count + 1)
    ]
    rawlog.store(1001, posts, "live")


def jobs(db: Database) -> list[dict[str, Any]]:
    return db.connection.execute(
        "SELECT j.id, m.message_id, j.status, j.attempts, j.leased_by FROM extraction_jobs j"
        " JOIN raw_messages m ON m.id = j.raw_message_id ORDER BY m.message_id"
    ).fetchall()


def test_claims_take_the_highest_priority_first_and_fifo_within_it(db: Database) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(WIRE)
    old = [RawPost(1001, i, T0 + timedelta(minutes=i), text=f"old {i}") for i in range(1, 6)]
    rawlog.store(1001, old, "backfill")  # a week-long backfill, queued first
    rawlog.store(1001, [RawPost(1001, 10, T0, text="backfill 10")], "backfill")
    RawLog(db, pipeline_version="v1", priority=queue.PRIORITIES["reparse"]).store(
        1001, [RawPost(1001, 11, T0, text="reparse 11")], "backfill"
    )
    rawlog.store(1001, [RawPost(1001, 20, T0 + timedelta(hours=1), text="new 20")], "live")
    rawlog.store(1001, [RawPost(1001, 21, T0 + timedelta(hours=1), text="new 21")], "live")
    # A claim's rows come back in no particular order: what matters is which were taken.
    assert {row["text"] for row in queue.claim(db, "v1", "w1", 2, LEASE)} == {"new 20", "new 21"}
    assert {row["text"] for row in queue.claim(db, "v1", "w1", 2, LEASE)} == {"old 1", "old 2"}
    assert {row["text"] for row in queue.claim(db, "v1", "w1", 4, LEASE)} == {
        "old 3",
        "old 4",
        "old 5",
        "backfill 10",
    }
    assert [row["text"] for row in queue.claim(db, "v1", "w1", 4, LEASE)] == ["reparse 11"]


def test_priority_names_and_numbers_parse() -> None:
    assert [queue.parse_priority(p) for p in ("live", "Backfill", "reparse", "0", "100")] == [
        30,
        20,
        10,
        0,
        100,
    ]
    for bad in ("urgent", "-1", "101", "1.5"):
        with pytest.raises(UsageError, match="--priority"):
            queue.parse_priority(bad)


def test_complete_and_claim_completes_held_jobs_and_leases_the_next(db: Database) -> None:
    seed(db, 5)
    first = queue.claim(db, "v1", "w1", 2, LEASE)
    assert [row["text"] for row in first] == ["post 1", "post 2"]

    completed, claimed = queue.complete_and_claim(
        db, [row["id"] for row in first], "v1", "w1", 2, LEASE
    )

    assert completed == {row["id"] for row in first}
    assert [row["text"] for row in claimed] == ["post 3", "post 4"]
    assert set(claimed[0]) == set(first[0])  # the same columns as claim's rows
    assert [(j["message_id"], j["status"], j["leased_by"]) for j in jobs(db)] == [
        (1, "ok", None),
        (2, "ok", None),
        (3, "running", "w1"),
        (4, "running", "w1"),
        (5, "pending", None),
    ]


def test_complete_and_claim_until_the_queue_is_empty_runs_each_job_once(db: Database) -> None:
    seed(db, 7)
    done: list[int] = []
    claimed = queue.claim(db, "v1", "w1", 1, LEASE)
    while claimed:
        completed, claimed = queue.complete_and_claim(
            db, [row["id"] for row in claimed], "v1", "w1", 1, LEASE
        )
        done.extend(completed)

    assert len(done) == len(set(done)) == 7
    assert {(j["status"], j["attempts"]) for j in jobs(db)} == {("ok", 1)}


def test_a_job_whose_lease_another_worker_took_over_is_not_completed(db: Database) -> None:
    seed(db, 2)
    mine = queue.claim(db, "v1", "w1", 1, LEASE)
    # w1's lease expired and w2 took the job over.
    db.connection.execute(
        "UPDATE extraction_jobs SET leased_by = 'w2' WHERE id = %s", (mine[0]["id"],)
    )

    completed, claimed = queue.complete_and_claim(db, [mine[0]["id"]], "v1", "w1", 1, LEASE)

    assert completed == set()
    assert [row["text"] for row in claimed] == ["post 2"]
    assert [(j["status"], j["leased_by"]) for j in jobs(db)] == [
        ("running", "w2"),
        ("running", "w1"),
    ]


def test_complete_and_claim_with_nothing_done_is_a_claim(db: Database) -> None:
    seed(db, 1)
    completed, claimed = queue.complete_and_claim(db, [], "v1", "w1", 5, LEASE)
    assert completed == set()
    assert [row["text"] for row in claimed] == ["post 1"]
    assert queue.complete_and_claim(db, [], "v1", "w1", 5, LEASE) == (set(), [])


def claim_plans(db: Database) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL made for this session's prepared claim statement."""
    row = db.connection.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
        " WHERE statement LIKE '%%FOR UPDATE SKIP LOCKED%%'"
    ).fetchone()
    assert row is not None, "the claim statement was never prepared"
    return int(row["generic_plans"]), int(row["custom_plans"])


def drain_one_at_a_time(db: Database) -> None:
    claimed = queue.claim(db, "v1", "w1", 1, LEASE)
    while claimed:
        _, claimed = queue.complete_and_claim(
            db, [row["id"] for row in claimed], "v1", "w1", 1, LEASE
        )


def test_the_queue_connection_plans_its_claims_once(database_url: str) -> None:
    with Database.connect(database_url) as db:
        seed(db, 12)
        drain_one_at_a_time(db)
        # PostgreSQL's default: the first five executions of a prepared statement are
        # planned anew each time (after that it compares costs).
        assert claim_plans(db)[1] >= 5

    with Database.connect(database_url) as db:
        db.connection.execute("UPDATE extraction_jobs SET status = 'pending'")
        assert db.use_generic_plans() is True
        drain_one_at_a_time(db)
        generic, custom = claim_plans(db)
        assert (generic >= 5, custom) == (True, 0)
        assert all(row["status"] == "ok" for row in jobs(db))

        db.use_generic_plans(False)
        assert db.connection.execute("SHOW plan_cache_mode").fetchone() == {
            "plan_cache_mode": "auto"
        }


def test_without_prepared_statements_plans_are_left_alone(database_url: str) -> None:
    # PgBouncer in transaction mode: a session setting would outlive this client.
    with Database.connect(database_url, prepared_statements=False) as db:
        assert db.use_generic_plans() is False
        assert db.connection.execute("SHOW plan_cache_mode").fetchone() == {
            "plan_cache_mode": "auto"
        }


def test_complete_and_claim_that_loses_a_deadlock_is_run_again(
    database_url: str, db: Database
) -> None:
    """A real deadlock: the statement waits on a lock another session holds while that
    session waits on the statement. PostgreSQL aborts the statement; it is run again."""
    seed(db, 3)
    held = queue.claim(db, "v1", "w1", 1, LEASE)
    # Every UPDATE of the queue takes advisory locks 1 then 2 first.
    db.connection.execute(
        "CREATE FUNCTION lock_one_then_two() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " PERFORM pg_advisory_xact_lock(1); PERFORM pg_advisory_xact_lock(2); RETURN NULL; END $$"
    )
    db.connection.execute(
        "CREATE TRIGGER lock_one_then_two BEFORE UPDATE ON extraction_jobs"
        " FOR EACH STATEMENT EXECUTE FUNCTION lock_one_then_two()"
    )
    outcome: dict[str, Any] = {}
    with (
        Database.connect(database_url) as worker,
        psycopg.connect(database_url, autocommit=True) as other,
    ):
        worker.connection.execute("SET deadlock_timeout = '50ms'")  # the worker is the victim
        other.execute("SET deadlock_timeout = '30s'")
        worker_pid = worker.connection.info.backend_pid
        with other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(2)")

            def run() -> None:
                try:
                    outcome["result"] = queue.complete_and_claim(
                        worker, [row["id"] for row in held], "v1", "w1", 1, LEASE
                    )
                except Exception as exc:
                    outcome["error"] = exc

            thread = threading.Thread(target=run)
            thread.start()
            wait_until_waiting_for_a_lock(db, worker_pid)
            # The cycle closes here. The worker, with the shorter deadlock_timeout, is aborted
            # and this gets lock 1; had the worker not been, this would fail after 30 s.
            other.execute("SELECT pg_advisory_xact_lock(1)")
        thread.join(timeout=30)

    assert "error" not in outcome, outcome.get("error")
    completed, claimed = outcome["result"]
    assert completed == {held[0]["id"]}
    assert [row["text"] for row in claimed] == ["post 2"]


def wait_until_waiting_for_a_lock(db: Database, pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = db.connection.execute(
            "SELECT count(*) AS n FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)
        ).fetchone()
        if row is not None and row["n"]:
            return
        time.sleep(0.01)
    raise AssertionError("the worker never waited for the lock")
