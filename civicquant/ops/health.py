"""Health: whether every job is fresh, for cron-side monitoring.

A report holds checks, each `ok`, `stale` or `down`; the worst one decides the exit status
(the monitoring-plugin convention: 0 ok, 1 stale, 2 down or database unreachable). The
report renders as a text table, JSON, or a Prometheus textfile (`health_render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from civicquant import migrations
from civicquant.config import DEFAULT_JOB_INTERVALS, Settings
from civicquant.db import Database, open_database
from civicquant.errors import ConfigError, DatabaseUnavailable
from civicquant.ingest.catchup_state import CatchUpLog
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
    # listen's catch-up (channel_catchup): `caught up`, `catching up`, `paused` (the
    # extraction backlog is above CATCHUP_QUEUE_HIGH_WATERMARK) or `never` (not listened to).
    catch_up: str = "never"
    # While catching up: the mark's time it walks back to, how far back it has read (ISO
    # 8601), and the stretch between them still to read.
    catch_up_from: str | None = None
    catch_up_position: str | None = None
    catch_up_left_seconds: float = 0.0
    catch_up_posts_read: int = 0
    recheck_owed: bool = False


@dataclass(frozen=True, slots=True)
class QueueBacklog:
    """One pipeline version's extraction queue (only the current version is judged)."""

    state: State
    pipeline_version: str
    pending: int
    running: int
    dead: int
    oldest_pending_seconds: float | None


@dataclass(frozen=True, slots=True)
class PostsStored:
    """How many posts the raw log holds for one channel from one source (live, backfill, export)."""

    channel: str
    source: str
    posts: int


@dataclass(frozen=True, slots=True)
class ExtractionJobs:
    """How many extraction jobs of one pipeline version are in one status (ok, dead, ...)."""

    pipeline_version: str
    status: str
    jobs: int


@dataclass(frozen=True, slots=True)
class MessagesSent:
    """How many Telegram messages a route (a `published_posts` queue) has sent."""

    queue: str
    messages: int


@dataclass(frozen=True, slots=True)
class FloodWaits:
    """The FloodWaits Telegram asked of one job in the last day."""

    job: str
    waits: int
    seconds: int


@dataclass(frozen=True, slots=True)
class ActiveFloodWait:
    """A FloodWait not yet over: runs on its session skip until it ends."""

    session: str
    method: str
    job: str
    seconds_left: float


@dataclass
class HealthReport:
    """Everything `civicquant health` found, at one instant."""

    checked_at: datetime
    checks: list[Check] = field(default_factory=list)
    jobs: list[JobFreshness] = field(default_factory=list)
    channels: list[ChannelLag] = field(default_factory=list)
    queues: list[QueueBacklog] = field(default_factory=list)
    # Counts for dashboards, not judged: rows stored, so they fall when `prune` deletes.
    posts_stored: list[PostsStored] = field(default_factory=list)
    extraction_jobs: list[ExtractionJobs] = field(default_factory=list)
    messages_sent: list[MessagesSent] = field(default_factory=list)
    flood_waits: list[FloodWaits] = field(default_factory=list)
    active_flood_waits: list[ActiveFloodWait] = field(default_factory=list)
    # Publications left `reserved` (None: not looked at, the database was not reached).
    publications_in_doubt: int | None = None
    # The pipeline version health judges (EXTRACTION_PIPELINE_VERSION), for the textfile.
    pipeline_version: str | None = None

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
    report = HealthReport(
        checked_at=now or datetime.now(UTC), pipeline_version=settings.extraction_pipeline_version
    )
    try:
        db = open_database(settings, application_name="civicquant health")
    except DatabaseUnavailable as exc:
        report.checks.append(Check("database", "down", str(exc)))
        return report
    report.checks.extend(_permission_checks(settings))
    route_intervals = _route_intervals(settings, report)
    report.checks.extend(_interval_typos(settings, route_intervals, report))
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
        report.queues.extend(_queue_backlog(db, settings, report))
        report.checks.extend(_publication_checks(db, settings, report))
        report.checks.extend(_flood_wait_checks(db, settings, report))
        _count_rows(db, report)
    return report


def _count_rows(db: Database, report: HealthReport) -> None:
    """The dashboard's counts: posts per channel and source, messages sent per queue."""
    report.posts_stored.extend(
        PostsStored(_channel_label(row), row["source"], int(row["posts"]))
        for row in db.fetch_all("posts_per_channel_source")
    )
    report.messages_sent.extend(
        MessagesSent(row["queue"], int(row["messages"]))
        for row in db.fetch_all("messages_sent_per_queue")
    )


def _publication_checks(db: Database, settings: Settings, report: HealthReport) -> list[Check]:
    now = report.checked_at
    checks = []
    stuck = db.fetch_all(
        "stale_reservations", {"older_than_seconds": settings.health_reserved_minutes * 60}
    )
    report.publications_in_doubt = len(stuck)
    if stuck:
        first = stuck[0]
        checks.append(
            Check(
                "publications",
                "stale",
                f"{len(stuck)} in doubt, left reserved by a crash or a lost answer (oldest: "
                f"{first['queue']} "
                f"{first['window_start']:%Y-%m-%d %H:%M}, {first['parts_sent']}/"
                f"{first['parts_total']} parts sent); {_resend_hint(first, settings)}",
            )
        )
    for row in db.fetch_all("last_sent_per_queue"):
        queue, sent_at = row["queue"], row["last_sent_at"]
        checks.append(
            Check(f"last {queue} post", "ok", f"{duration((now - sent_at).total_seconds())} ago")
        )
    return checks


def _scheduled_routes(settings: Settings) -> set[str]:
    """The names of the digest and breaking routes (what `digest --queue` takes)."""
    try:
        return {route.name for route in routes.load_routes(settings).of_kind("digest", "breaking")}
    except ConfigError:
        return set()


def _resend_hint(reservation: Mapping[str, Any], settings: Settings) -> str:
    """The exact command that resends a window left in doubt, once the chat has been checked."""
    queue = str(reservation["queue"])
    part = int(reservation["parts_sent"]) + 1
    check = f"check chat {reservation['chat_id']} for part {part}"
    if queue not in _scheduled_routes(settings):  # a flash or ops alert: never resent
        return f"{check}; a {queue} alert is never resent"
    start: datetime = reservation["window_start"]
    # `--at` inside a published window addresses that very window (chained or aligned).
    command = [
        "civicquant digest",
        f"--queue {queue}",
        f"--at {start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        f"--chat {reservation['chat_id']}",
    ]
    return f"{check}, then if it did not arrive run `{' '.join([*command, '--force'])}`"


def _flood_wait_checks(db: Database, settings: Settings, report: HealthReport) -> list[Check]:
    rows = db.fetch_all("flood_waits_since", {"since": report.checked_at - timedelta(days=1)})
    active = db.fetch_all("active_flood_waits", {"session": None})
    report.flood_waits.extend(
        FloodWaits(row["job_name"], int(row["waits"]), int(row["seconds"] or 0)) for row in rows
    )
    report.active_flood_waits.extend(
        ActiveFloodWait(
            row["session"] or "", row["method"] or "", row["job_name"], float(row["seconds_left"])
        )
        for row in active
    )
    waiting = [
        Check(
            f"floodwait {row['session']}",
            "stale",
            f"waiting until {row['wait_until']:%Y-%m-%d %H:%M} UTC "
            f"({duration(float(row['seconds_left']))} left) after {row['method'] or 'a call'} "
            f"in {row['job_name']}; runs on this session skip until then",
        )
        for row in active
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


def _channel_label(row: dict[str, Any]) -> str:
    """A channel as the report and its metrics name it: `@username`, else its id."""
    return f"@{row['username']}" if row["username"] else str(row["channel_id"])


def _channel_lag(db: Database, settings: Settings, now: datetime) -> list[ChannelLag]:
    limit = settings.channel_stale_minutes * 60
    catch_ups = {row["channel_id"]: row for row in CatchUpLog(db).positions()}
    return [
        ChannelLag(
            state="stale"
            if row["last_message_at"] is not None
            and (now - row["last_message_at"]).total_seconds() > limit
            else "ok",
            channel=_channel_label(row),
            channel_id=row["channel_id"],
            last_message_id=row["last_message_id"],
            mark_age_seconds=_age(now, row["last_message_at"]),
            parsed_age_seconds=_age(now, row["last_parsed_at"]),
            missing_ids=int(row["missing_ids"]),
            weight=float(row["weight"]),
            **_catch_up(catch_ups.get(row["channel_id"])),
        )
        for row in RawLog(db, pipeline_version=settings.extraction_pipeline_version).gap_counts()
    ]


def _catch_up(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """A channel's catch-up as ChannelLag's fields."""
    if row is None:
        return {}
    owed = bool(row["recheck_owed"])
    if row["finished_at"] is not None:
        return {
            "catch_up": "caught up",
            "catch_up_posts_read": int(row["posts_read"]),
            "recheck_owed": owed,
        }
    return {
        "catch_up": "paused" if row["paused_at"] is not None else "catching up",
        "catch_up_from": row["from_at"].isoformat(),
        "catch_up_position": row["position"].isoformat(),
        "catch_up_left_seconds": max((row["position"] - row["from_at"]).total_seconds(), 0.0),
        "catch_up_posts_read": int(row["posts_read"]),
        "recheck_owed": owed,
    }


def _queue_state(row: dict[str, Any], settings: Settings) -> State:
    if row["pipeline_version"] != settings.extraction_pipeline_version:
        return "ok"  # a reparse or an A/B run: reported, not judged
    oldest = row["oldest_pending_seconds"]
    if oldest is not None and oldest > settings.health_queue_max_age_minutes * 60:
        return "stale"
    return "stale" if int(row["dead"]) > settings.health_max_dead_jobs else "ok"


_WAITING = ("pending", "failed")  # a failed job waits for its retry


def _queue_backlog(db: Database, settings: Settings, report: HealthReport) -> list[QueueBacklog]:
    """Each pipeline version with jobs not `ok`; every version's counts go to the report."""
    rows = db.fetch_all("queue_backlog")
    report.extraction_jobs.extend(
        ExtractionJobs(row["pipeline_version"], row["status"], int(row["jobs"])) for row in rows
    )
    versions: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["status"] == "ok":
            continue  # millions of finished jobs: counted above, no backlog
        version = versions.setdefault(
            row["pipeline_version"],
            {
                "pipeline_version": row["pipeline_version"],
                "pending": 0,
                "running": 0,
                "dead": 0,
                "oldest_pending_seconds": None,
            },
        )
        if row["status"] in _WAITING:
            version["pending"] += int(row["jobs"])
            oldest = version["oldest_pending_seconds"]
            version["oldest_pending_seconds"] = max(oldest or 0.0, row["oldest_seconds"])
        elif row["status"] in ("running", "dead"):
            version[row["status"]] += int(row["jobs"])
    return [
        QueueBacklog(
            state=_queue_state(version, settings),
            pipeline_version=version["pipeline_version"],
            pending=version["pending"],
            running=version["running"],
            dead=version["dead"],
            oldest_pending_seconds=version["oldest_pending_seconds"],
        )
        for version in versions.values()
    ]


def _route_intervals(settings: Settings, report: HealthReport) -> dict[str, int]:
    """Each route's `digest:NAME` job at its cadence; a bad routes file is a `down` check."""
    try:
        return routes.load_routes(settings).job_intervals()
    except ConfigError as exc:
        report.checks.append(Check("routes", "down", str(exc)))
        return {}


# Jobs that run by hand, not on a schedule: HEALTH_JOB_INTERVALS may still watch them.
_UNSCHEDULED_JOBS = ("backfill", "enqueue")


def _interval_typos(
    settings: Settings, route_intervals: dict[str, int], report: HealthReport
) -> list[Check]:
    """A `down` check naming each HEALTH_JOB_INTERVALS entry that is no job civicquant runs.

    A misspelt name would otherwise be watched for ever as a job that never ran (down),
    while the job meant keeps its default interval. Skipped when the routes file is bad:
    its `digest:NAME` jobs are unknown then (that is a `down` check of its own).
    """
    if any(check.name == "routes" for check in report.checks):
        return []
    known = {*DEFAULT_JOB_INTERVALS, *route_intervals, *_UNSCHEDULED_JOBS}
    typos = sorted(set(settings.health_job_intervals) - known)
    if not typos:
        return []
    return [
        Check(
            "settings",
            "down",
            f"HEALTH_JOB_INTERVALS names {', '.join(typos)}, which civicquant does not run "
            f"(its jobs: {', '.join(sorted(known))})",
        )
    ]


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
