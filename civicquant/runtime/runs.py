"""Job runs: one `job_runs` row per subcommand run, from start to its final status."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
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


def abandon_gone(db: Database) -> list[str]:
    """Mark this host's `running` runs whose process is gone `abandoned`; return their run ids.

    A run killed by SIGKILL, the OOM killer or a reboot never records its end. Only runs of
    this host can be checked (by pid, and by the process's start time, since pids are reused).
    """
    own = os.getpid()
    gone = [
        str(row["run_id"])
        for row in db.fetch_all("running_job_runs_on_host", {"host": hostname()})
        if row["pid"] != own and not _running_since(int(row["pid"]), row["started_at"])
    ]
    if gone:
        db.execute("abandon_job_runs", {"run_ids": gone})
    return gone


# A live process that started this long after its row did is another one under a reused pid.
# The row's time is the database's clock and the process's this host's: the slack covers skew.
_PID_REUSE_SLACK = timedelta(seconds=60)


def _running_since(pid: int, started_at: datetime) -> bool:
    """Whether process `pid` is alive and could be the one that started at `started_at`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    except OverflowError:
        return False
    began = _process_start(pid)
    return began is None or began <= started_at + _PID_REUSE_SLACK


def _process_start(pid: int) -> datetime | None:
    """When process `pid` started (Linux /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22, starttime
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


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
    """Record how a run ended (`success`, `failed`, `interrupted`, `skipped`), its counts,
    and the error line."""
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
        detail = row["error"] or _counts_line(row["counts"])
        if row["status"] == "interrupted":  # the signal, then how far the run got
            detail = f"{row['error']}: {_counts_line(row['counts'] or {})}"
        lines.append(
            (
                f"{row['started_at']:%Y-%m-%d %H:%M:%S}",
                row["job_name"],
                row["status"],
                seconds,
                row["host"],
                str(row["pid"]),
                detail,
            )
        )
    return textual.table(header, lines)


def _counts_line(counts: dict[str, Any]) -> str:
    """A run's counts as `key=value` pairs: the table's last column, never cut short."""
    shown = [
        f"{key}={json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value}"
        for key, value in sorted(counts.items())
        if value not in (0, None, "")
    ]
    return ", ".join(shown) or "-"


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
