"""Health: whether every job is fresh, for cron-side monitoring.

A report holds checks, each `ok`, `stale` or `down`; the worst one decides the exit status
(the monitoring-plugin convention: 0 ok, 1 stale, 2 down or database unreachable). The
report renders as a text table, JSON, or a Prometheus textfile (`health_render`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from civicquant import migrations
from civicquant.config import Settings
from civicquant.db import Database, open_database
from civicquant.errors import ConfigError, DatabaseUnavailable
from civicquant.ingest.rawlog import RawLog
from civicquant.publish import routes
from civicquant.runtime import pauses

# `paused`: a job an operator paused (`civicquant pause`); as healthy as `ok`.
State = Literal["ok", "paused", "stale", "down"]
_SEVERITY: dict[State, int] = {"ok": 0, "paused": 0, "stale": 1, "down": 2}


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: a thing checked, its state and a short human detail."""

    name: str
    state: State
    detail: str


@dataclass(frozen=True, slots=True)
class JobFreshness:
    """How recently a monitored job last succeeded, against how often it should."""

    job: str
    state: State
    expected_minutes: int
    last_success_at: datetime | None
    age_seconds: float | None
    consecutive_failures: int
    last_status: str | None
    last_error: str | None
    # Its pause (`civicquant pause`), when it has one: who, when, until when, why.
    pause: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelLag:
    """A source channel: how old its high-water mark is, how many ids are missing, and its
    weight (TG_SOURCE_CHANNELS `@name:2`) as events' importance uses it."""

    state: State
    channel: str
    channel_id: int
    last_message_id: int | None
    mark_age_seconds: float | None
    parsed_age_seconds: float | None
    missing_ids: int
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class QueueBacklog:
    """One pipeline version's extraction queue (only the current version is judged)."""

    state: State
    pipeline_version: str
    pending: int
    running: int
    dead: int
    oldest_pending_seconds: float | None


@dataclass
class HealthReport:
    """Everything `civicquant health` found, at one instant."""

    checked_at: datetime
    checks: list[Check] = field(default_factory=list)
    jobs: list[JobFreshness] = field(default_factory=list)
    channels: list[ChannelLag] = field(default_factory=list)
    queues: list[QueueBacklog] = field(default_factory=list)

    @property
    def state(self) -> State:
        states: list[State] = [
            *(c.state for c in self.checks),
            *(j.state for j in self.jobs),
            *(c.state for c in self.channels),
            *(q.state for q in self.queues),
        ]
        # The worst state; among equals `ok` before `paused` (one paused job is no news).
        return max(states, key=lambda s: (_SEVERITY[s], s != "paused"), default="ok")

    @property
    def exit_code(self) -> int:
        return _SEVERITY[self.state]


def job_state(age_seconds: float | None, expected_minutes: int, grace_minutes: int) -> State:
    """`ok` within interval + grace, `stale` past it, `down` past twice that or never run."""
    if age_seconds is None:
        return "down"
    limit = (expected_minutes + grace_minutes) * 60
    if age_seconds <= limit:
        return "ok"
    return "stale" if age_seconds <= 2 * limit else "down"


def check(settings: Settings, *, now: datetime | None = None) -> HealthReport:
    """Connect and build the report; an unreachable database is a `down` check, not an error."""
    report = HealthReport(checked_at=now or datetime.now(UTC))
    try:
        db = open_database(settings, application_name="civicquant health")
    except DatabaseUnavailable as exc:
        report.checks.append(Check("database", "down", str(exc)))
        return report
    report.checks.extend(_permission_checks(settings))
    route_intervals = _route_intervals(settings, report)
    with db:
        report.checks.append(Check("database", "ok", f"reachable at {db.where}"))
        waiting = migrations.pending(db)
        if waiting:
            names = ", ".join(f"{m.version}_{m.name}" for m in waiting)
            report.checks.append(
                Check("migrations", "down", f"{len(waiting)} pending ({names}): run db migrate")
            )
            return report
        report.checks.append(Check("migrations", "ok", "current"))
        report.jobs.extend(_job_freshness(db, settings, route_intervals, report.checked_at))
        report.channels.extend(_channel_lag(db, settings, report.checked_at))
        report.queues.extend(_queue_backlog(db, settings))
        report.checks.extend(_publication_checks(db, settings, report.checked_at))
        report.checks.extend(_flood_wait_checks(db, settings, report.checked_at))
    return report


def _publication_checks(db: Database, settings: Settings, now: datetime) -> list[Check]:
    checks = []
    stuck = db.fetch_all(
        "stale_reservations", {"older_than_seconds": settings.health_reserved_minutes * 60}
    )
    if stuck:
        first = stuck[0]
        checks.append(
            Check(
                "publications",
                "stale",
                f"{len(stuck)} in doubt, left reserved by a crash or a lost answer (oldest: "
                f"{first['queue']} "
                f"{first['window_start']:%Y-%m-%d %H:%M}, {first['parts_sent']}/"
                f"{first['parts_total']} parts sent); see `civicquant digest --force`",
            )
        )
    for row in db.fetch_all("last_sent_per_queue"):
        queue, sent_at = row["queue"], row["last_sent_at"]
        checks.append(
            Check(f"last {queue} post", "ok", f"{duration((now - sent_at).total_seconds())} ago")
        )
    return checks


def _flood_wait_checks(db: Database, settings: Settings, now: datetime) -> list[Check]:
    rows = db.fetch_all("flood_waits_since", {"since": now - timedelta(days=1)})
    waiting = [
        Check(
            f"floodwait {row['session']}",
            "stale",
            f"waiting until {row['wait_until']:%Y-%m-%d %H:%M} UTC "
            f"({duration(float(row['seconds_left']))} left) after {row['method'] or 'a call'} "
            f"in {row['job_name']}; runs on this session skip until then",
        )
        for row in db.fetch_all("active_flood_waits", {"session": None})
    ]
    return waiting + [
        Check(
            f"floodwait {row['job_name']}",
            "stale"
            if row["any_too_long"] or int(row["waits"]) > settings.health_max_flood_waits
            else "ok",
            f"{row['waits']} FloodWait(s) in the last day, {row['seconds']}s in all"
            + (
                ", one longer than FLOODWAIT_MAX_SECONDS ended a run" if row["any_too_long"] else ""
            ),
        )
        for row in rows
    ]


def _permission_checks(settings: Settings) -> list[Check]:
    """A secret-holding file others can read gets a warning."""
    from civicquant.config import env_file

    candidates: list[tuple[str, Path | None]] = [("env file", env_file())]
    for name, session in (
        ("TG_SESSION", settings.tg_session),
        ("TG_SESSION_RECOVERY", settings.tg_session_recovery),
    ):
        if session is not None:
            file = session.expanduser()
            if not file.name.endswith(".session") and not file.exists():
                file = file.with_name(file.name + ".session")  # Telethon's own naming
            candidates.append((name, file))
    checks = []
    for label, path in candidates:
        if path is None or not path.exists():
            continue
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            checks.append(
                Check(
                    "permissions",
                    "stale",
                    f"{label} {path} is readable by others (mode {mode:o}): chmod 600 {path}",
                )
            )
    return checks


def _age(now: datetime, then: datetime | None) -> float | None:
    return (now - then).total_seconds() if then else None


def _channel_lag(db: Database, settings: Settings, now: datetime) -> list[ChannelLag]:
    limit = settings.channel_stale_minutes * 60
    return [
        ChannelLag(
            state="stale"
            if row["last_message_at"] is not None
            and (now - row["last_message_at"]).total_seconds() > limit
            else "ok",
            channel=f"@{row['username']}" if row["username"] else str(row["channel_id"]),
            channel_id=row["channel_id"],
            last_message_id=row["last_message_id"],
            mark_age_seconds=_age(now, row["last_message_at"]),
            parsed_age_seconds=_age(now, row["last_parsed_at"]),
            missing_ids=int(row["missing_ids"]),
            weight=float(row["weight"]),
        )
        for row in RawLog(db, pipeline_version=settings.extraction_pipeline_version).gap_counts()
    ]


def _queue_state(row: dict[str, Any], settings: Settings) -> State:
    if row["pipeline_version"] != settings.extraction_pipeline_version:
        return "ok"  # a reparse or an A/B run: reported, not judged
    oldest = row["oldest_pending_seconds"]
    if oldest is not None and oldest > settings.health_queue_max_age_minutes * 60:
        return "stale"
    return "stale" if int(row["dead"]) > settings.health_max_dead_jobs else "ok"


def _queue_backlog(db: Database, settings: Settings) -> list[QueueBacklog]:
    return [
        QueueBacklog(
            state=_queue_state(row, settings),
            pipeline_version=row["pipeline_version"],
            pending=int(row["pending"]),
            running=int(row["running"]),
            dead=int(row["dead"]),
            oldest_pending_seconds=row["oldest_pending_seconds"],
        )
        for row in db.fetch_all("queue_backlog")
    ]


def _route_intervals(settings: Settings, report: HealthReport) -> dict[str, int]:
    """Each route's `digest:NAME` job at its cadence; a bad routes file is a `down` check."""
    try:
        return routes.load_routes(settings).job_intervals()
    except ConfigError as exc:
        report.checks.append(Check("routes", "down", str(exc)))
        return {}


def _job_freshness(
    db: Database, settings: Settings, route_intervals: dict[str, int], now: datetime
) -> list[JobFreshness]:
    intervals = settings.job_intervals(route_intervals)
    rows = db.fetch_all("job_freshness", {"jobs": sorted(intervals)})
    paused = pauses.pauses(db, sorted(intervals))
    result = []
    for row in rows:
        last = row["last_success_at"]
        pause = paused.get(row["job_name"])
        # A pause that has ended counts like a success at its end: the job has had its
        # interval since then to run again, and turns stale if it does not.
        since = last
        if pause is not None and pause.until is not None and not pause.active:
            since = max(last, pause.until) if last else pause.until
        age = (now - since).total_seconds() if since else None
        expected = intervals[row["job_name"]]
        state: State = job_state(age, expected, settings.health_grace_minutes)
        if pause is not None and pause.active:
            state = "paused"
        result.append(
            JobFreshness(
                job=row["job_name"],
                state=state,
                expected_minutes=expected,
                last_success_at=last,
                age_seconds=age,
                consecutive_failures=int(row["consecutive_failures"]),
                last_status=row["last_status"],
                last_error=row["last_error"],
                pause=pause.describe() if pause is not None else None,
            )
        )
    return result


def duration(seconds: float | None) -> str:
    """A short human age: `45s`, `12m`, `3h05m` (under two days), `4d`; `-` for none."""
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m" if minutes else f"{int(seconds)}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d"
