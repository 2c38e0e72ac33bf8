"""Pausing jobs: an operator stops a job's cron runs for a while without touching crontab.

`civicquant pause JOB [--until ISO | --for 2h] [--reason TEXT]` keeps a `job_pauses` row;
while it applies, every run of the job exits 0 at once as `paused` (the runner checks it
before taking the job's lease) and `health` shows the job as paused, with who paused it,
when, why and until when. A pause with an end stops applying at that moment: the job runs
again and `health` judges its freshness from the pause's end, so a job that still does not
run turns stale. `civicquant resume JOB` lifts a pause at once.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from civicquant.db import Database, Row, hostname


@dataclass(frozen=True, slots=True)
class Pause:
    """A job's pause as stored: who, when, until when (None: until resumed), why."""

    job_name: str
    paused_by: str
    paused_at: datetime
    until: datetime | None
    reason: str | None
    active: bool  # it still applies (no end, or its end is ahead)

    def describe(self) -> str:
        """One line: `paused by root@host at 2026-12-02 10:00 UTC until ...: reason`."""
        text = f"paused by {self.paused_by} at {self.paused_at:%Y-%m-%d %H:%M} UTC"
        if self.until is not None:
            text += f" until {self.until:%Y-%m-%d %H:%M} UTC"
        return text + (f": {self.reason}" if self.reason else "")


def operator() -> str:
    """Who is pausing: the login name at this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (containers)
        user = "unknown"
    return f"{user}@{hostname()}"


def pause(db: Database, job_name: str, *, until: datetime | None, reason: str | None) -> Pause:
    """Pause `job_name` (replacing an earlier pause of it)."""
    row = db.fetch_one(
        "pause_job",
        {"job_name": job_name, "paused_by": operator(), "until": until, "reason": reason},
    )
    assert row is not None
    return _pause(row)


def resume(db: Database, job_name: str) -> Pause | None:
    """Lift the pause of `job_name`; the pause it had, or None."""
    row = db.fetch_one("resume_job", {"job_name": job_name})
    return _pause(row) if row else None


def pauses(db: Database, job_names: list[str] | None = None) -> dict[str, Pause]:
    """The stored pauses of these jobs (all when None), applying or not, by job."""
    return {
        str(row["job_name"]): _pause(row) for row in db.fetch_all("job_pauses", {"jobs": job_names})
    }


def _pause(row: Row) -> Pause:
    return Pause(
        job_name=str(row["job_name"]),
        paused_by=str(row["paused_by"]),
        paused_at=row["paused_at"],
        until=row["until"],
        reason=row["reason"],
        active=bool(row["active"]),
    )
