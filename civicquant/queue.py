"""The extraction work queue: jobs keyed by (raw message, pipeline version).

Ingest adds jobs here as posts are stored; `civicquant enqueue` adds them from the raw log
for a reparse. Adding jobs notifies waiting `extract` workers on the `civicquant_extract`
channel when the transaction commits.

Jobs carry a priority, and claims take the highest first, first in first out within it:
live posts (30) before backfill and imports (20) before reparses (10), so a week-long
backfill never puts a new post behind 100,000 old ones. `enqueue` and `backfill` take
`--priority` (a name below, or a number from 0 to 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from civicquant.db import Database
from civicquant.errors import DatabaseError, UsageError

NOTIFY_CHANNEL = "civicquant_extract"
PRIORITIES = {"live": 30, "backfill": 20, "reparse": 10}
MAX_PRIORITY = 100


def parse_priority(text: str) -> int:
    """`--priority`: a name (live, backfill, reparse) or a number from 0 to MAX_PRIORITY."""
    value = text.strip().lower()
    if value in PRIORITIES:
        return PRIORITIES[value]
    if value.isdigit() and int(value) <= MAX_PRIORITY:
        return int(value)
    names = ", ".join(PRIORITIES)
    raise UsageError(
        f"--priority {text!r}: expected one of {names} or a number from 0 to {MAX_PRIORITY}"
    )


_DEADLOCK_ATTEMPTS = 3


def enqueue(
    db: Database,
    raw_message_ids: Sequence[int],
    pipeline_version: str,
    *,
    force: bool = False,
    priority: int = PRIORITIES["live"],
) -> int:
    """Add a job per message for the version (with `force`, reset existing ones to pending).

    Returns how many jobs were added or reset. Run it inside the caller's transaction so the
    jobs and the posts they point at commit together.
    """
    if not raw_message_ids:
        return 0
    touched = db.execute(
        "requeue_messages" if force else "enqueue_messages",
        {
            "raw_message_ids": list(raw_message_ids),
            "pipeline_version": pipeline_version,
            "priority": priority,
        },
    )
    if touched:
        db.execute(
            "notify_extract", {"channel": NOTIFY_CHANNEL, "pipeline_version": pipeline_version}
        )
    return touched


def enqueue_window(
    db: Database,
    pipeline_version: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel_ids: Sequence[int] | None = None,
    limit: int | None = None,
    force: bool = False,
    priority: int = PRIORITIES["reparse"],
) -> tuple[int, int]:
    """Enqueue stored posts for a window; returns (posts selected, jobs added or reset).

    Without `force` only posts with no job for the version are selected, so `--max-messages`
    counts new work; with it every post in the window is selected and its job reset.
    """
    with db.transaction():
        rows = db.fetch_all(
            "select_for_enqueue",
            {
                "since": since,
                "until": until,
                "channel_ids": list(channel_ids) if channel_ids is not None else None,
                "only_new": not force,
                "pipeline_version": pipeline_version,
                "limit": limit,
            },
        )
        ids = [row["id"] for row in rows]
        return len(ids), enqueue(db, ids, pipeline_version, force=force, priority=priority)


def counts(db: Database) -> dict[str, dict[str, int]]:
    """{pipeline_version: {status: jobs}}."""
    result: dict[str, dict[str, int]] = {}
    for row in db.fetch_all("queue_counts"):
        result.setdefault(row["pipeline_version"], {})[row["status"]] = int(row["jobs"])
    return result


def waiting(db: Database, pipeline_version: str, *, at_most: int) -> int:
    """Jobs of the version waiting (pending, or failed awaiting retry), counted up to `at_most`."""
    row = db.fetch_one("waiting_jobs", {"pipeline_version": pipeline_version, "at_most": at_most})
    return int(row["jobs"]) if row else 0


def reclaim_expired(db: Database) -> int:
    """Make jobs whose worker died (lease expired while running) claimable again."""
    return db.execute("reclaim_expired_jobs")


def claim(
    db: Database, pipeline_version: str, worker: str, limit: int, lease_seconds: float
) -> list[dict[str, Any]]:
    """Lease up to `limit` runnable jobs in one statement; each row carries its post's text."""
    return complete_and_claim(db, [], pipeline_version, worker, limit, lease_seconds)[1]


def complete(db: Database, job_ids: Sequence[int], worker: str) -> set[int]:
    """Mark jobs done; returns the ids this worker still held (only those may be written)."""
    rows = db.fetch_all("complete_jobs", {"ids": list(job_ids), "worker": worker})
    return {int(row["id"]) for row in rows}


def complete_and_claim(
    db: Database,
    done_ids: Sequence[int],
    pipeline_version: str,
    worker: str,
    limit: int,
    lease_seconds: float,
) -> tuple[set[int], list[dict[str, Any]]]:
    """Complete `done_ids` and lease up to `limit` more in one statement (one commit a cycle).

    For a worker with nothing to write but the job's status; returns (the completed ids this
    worker still held, the newly claimed rows as `claim` returns them).
    """
    params = {
        "done_ids": list(done_ids),
        "pipeline_version": pipeline_version,
        "limit": limit,
        "worker": worker,
        "lease_seconds": lease_seconds,
    }
    for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
        try:
            rows = db.fetch_all("complete_and_claim_jobs", params)
            break
        except DatabaseError as exc:
            # Workers completing and claiming at the same moment can deadlock inside
            # PostgreSQL's row locking (SKIP LOCKED still waits for a row's newer version
            # being written); the statement rolled back whole, so it is run again.
            if attempt == _DEADLOCK_ATTEMPTS or not db.deadlock_victim(exc):
                raise
    completed = {int(row["id"]) for row in rows if row["done"]}
    claimed = [{k: v for k, v in row.items() if k != "done"} for row in rows if not row["done"]]
    return completed, claimed


def fail(
    db: Database,
    worker: str,
    failures: Sequence[tuple[int, str, str, float]],
    max_attempts: int,
) -> dict[int, str]:
    """Record (job id, error class, error, retry delay) failures; returns {id: new status}."""
    rows = db.fetch_all(
        "fail_jobs",
        {
            "ids": [job_id for job_id, _, _, _ in failures],
            "error_classes": [error_class for _, error_class, _, _ in failures],
            "errors": [error[:2000] for _, _, error, _ in failures],
            "delays": [delay for _, _, _, delay in failures],
            "max_attempts": max_attempts,
            "worker": worker,
        },
    )
    return {int(row["id"]): str(row["status"]) for row in rows}


def release(db: Database, job_ids: Sequence[int], worker: str) -> None:
    """Give jobs back untouched, not counting the attempt."""
    db.execute("release_jobs", {"ids": list(job_ids), "worker": worker})


def extend_leases(db: Database, worker: str, lease_seconds: float) -> None:
    """Keep the leases of the jobs this worker still holds."""
    db.execute("extend_job_leases", {"worker": worker, "lease_seconds": lease_seconds})
