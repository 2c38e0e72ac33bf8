"""Job runs: one `job_runs` row per subcommand run, from start to its final status."""

from __future__ import annotations

import json
import os
from typing import Any

from civicquant import textual
from civicquant.db import Database, Row, hostname


def start(db: Database, job_name: str, run_id: str) -> None:
    """Record a run as `running`."""
    db.execute(
        "start_job_run",
        {
            "run_id": run_id,
            "job_name": job_name,
            "host": hostname(),
            "pid": os.getpid(),
            "status": "running",
        },
    )


def record_skipped(db: Database, job_name: str, run_id: str, held_by: str) -> None:
    """Record a run that did nothing because another live process holds the job's lease."""
    db.execute(
        "record_skipped_run",
        {
            "run_id": run_id,
            "job_name": job_name,
            "host": hostname(),
            "pid": os.getpid(),
            "counts": json.dumps({"lease_held_by": held_by}),
        },
    )


def finish(
    db: Database,
    run_id: str,
    status: str,
    counts: dict[str, Any],
    error: str | None = None,
) -> None:
    """Record how a run ended: `success` or `failed`, its counts, and the error line."""
    db.execute(
        "finish_job_run",
        {
            "run_id": run_id,
            "status": status,
            "counts": json.dumps(counts, default=str),
            "error": error,
        },
    )


def recent(db: Database, job_name: str | None = None, limit: int = 20) -> list[Row]:
    """The latest runs, newest first."""
    return db.fetch_all("recent_job_runs", {"job_name": job_name, "limit": limit})


def render_table(rows: list[dict[str, Any]]) -> str:
    """Recent runs as the aligned table `civicquant runs` prints."""
    if not rows:
        return "no job runs yet"
    header = ("STARTED", "JOB", "STATUS", "SECONDS", "HOST", "PID", "COUNTS / ERROR")
    lines = []
    for row in rows:
        seconds = (
            f"{(row['finished_at'] - row['started_at']).total_seconds():.1f}"
            if row["finished_at"]
            else "-"
        )
        detail = row["error"] or json.dumps(row["counts"], sort_keys=True)
        lines.append(
            (
                f"{row['started_at']:%Y-%m-%d %H:%M:%S}",
                row["job_name"],
                row["status"],
                seconds,
                row["host"],
                str(row["pid"]),
                detail[:80],
            )
        )
    return textual.table(header, lines)


def record_paused(db: Database, job_name: str, run_id: str, pause: dict[str, Any]) -> None:
    """Record a run that did nothing because its job is paused."""
    db.execute(
        "record_paused_run",
        {
            "run_id": run_id,
            "job_name": job_name,
            "host": hostname(),
            "pid": os.getpid(),
            "counts": json.dumps(pause),
        },
    )
