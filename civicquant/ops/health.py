"""Health: whether every job is fresh, for cron-side monitoring.

A report holds checks, each `ok`, `stale` or `down`; the worst one decides the exit status
(the monitoring-plugin convention: 0 ok, 1 stale, 2 down or database unreachable). The
report renders as a text table, JSON, or a Prometheus textfile.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from civicquant import migrations
from civicquant.config import Settings
from civicquant.db import Database, open_database
from civicquant.errors import DatabaseUnavailable
from civicquant.ingest.rawlog import RawLog

State = Literal["ok", "stale", "down"]
_SEVERITY: dict[State, int] = {"ok": 0, "stale": 1, "down": 2}


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


@dataclass(frozen=True, slots=True)
class ChannelLag:
    """A source channel: how old its high-water mark is and how many ids are missing."""

    state: State
    channel: str
    channel_id: int
    last_message_id: int | None
    mark_age_seconds: float | None
    parsed_age_seconds: float | None
    missing_ids: int


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
        return max(states, key=lambda s: _SEVERITY[s], default="ok")

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
        report.jobs.extend(_job_freshness(db, settings, report.checked_at))
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
                f"{len(stuck)} left reserved by a crash (oldest: {first['queue']} "
                f"{first['window_start']:%Y-%m-%d %H:%M}, {first['parts_sent']}/"
                f"{first['parts_total']} parts sent); see `civicquant digest --force`",
            )
        )
    for row in db.fetch_all("last_sent_per_queue"):
        queue, sent_at = row["queue"], row["last_sent_at"]
        checks.append(
            Check(f"last {queue} post", "ok", f"{_duration((now - sent_at).total_seconds())} ago")
        )
    return checks


def _flood_wait_checks(db: Database, settings: Settings, now: datetime) -> list[Check]:
    rows = db.fetch_all("flood_waits_since", {"since": now - timedelta(days=1)})
    return [
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


def _job_freshness(db: Database, settings: Settings, now: datetime) -> list[JobFreshness]:
    intervals = settings.job_intervals()
    rows = db.fetch_all("job_freshness", {"jobs": sorted(intervals)})
    result = []
    for row in rows:
        last = row["last_success_at"]
        age = (now - last).total_seconds() if last else None
        expected = intervals[row["job_name"]]
        result.append(
            JobFreshness(
                job=row["job_name"],
                state=job_state(age, expected, settings.health_grace_minutes),
                expected_minutes=expected,
                last_success_at=last,
                age_seconds=age,
                consecutive_failures=int(row["consecutive_failures"]),
                last_status=row["last_status"],
                last_error=row["last_error"],
            )
        )
    return result


# -- rendering ------------------------------------------------------------------------


def render_text(report: HealthReport) -> str:
    """A table for people: overall state, checks, then one row per job."""
    lines = [
        f"civicquant health: {report.state.upper()} "
        f"(checked {report.checked_at:%Y-%m-%d %H:%M:%S} UTC)",
        "",
    ]
    width = max((len(c.name) for c in report.checks), default=8)
    for item in report.checks:
        lines.append(f"{item.name:<{width}}  {item.state:<5}  {item.detail}")
    if report.jobs:
        lines.append("")
        header = ("JOB", "STATE", "LAST SUCCESS", "AGE", "EVERY", "FAILS", "LAST ERROR")
        rows = [header] + [
            (
                j.job,
                j.state,
                f"{j.last_success_at:%Y-%m-%d %H:%M}" if j.last_success_at else "never",
                _duration(j.age_seconds),
                _duration(j.expected_minutes * 60),
                str(j.consecutive_failures),
                (j.last_error or "")[:60] if j.last_status == "failed" else "",
            )
            for j in report.jobs
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            lines.append(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
    if report.channels:
        lines.append("")
        lines.extend(
            _columns(
                ("CHANNEL", "STATE", "LAST ID", "LAST POST AGE", "READ AGO", "MISSING IDS"),
                [
                    (
                        c.channel,
                        c.state,
                        str(c.last_message_id or "-"),
                        _duration(c.mark_age_seconds),
                        _duration(c.parsed_age_seconds),
                        str(c.missing_ids),
                    )
                    for c in report.channels
                ],
            )
        )
    if report.queues:
        lines.append("")
        lines.extend(
            _columns(
                ("QUEUE", "STATE", "PENDING", "OLDEST", "RUNNING", "DEAD"),
                [
                    (
                        q.pipeline_version,
                        q.state,
                        str(q.pending),
                        _duration(q.oldest_pending_seconds),
                        str(q.running),
                        str(q.dead),
                    )
                    for q in report.queues
                ],
            )
        )
    return "\n".join(lines) + "\n"


def _columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def render_json(report: HealthReport) -> str:
    """The report as one JSON document."""
    payload: dict[str, Any] = {
        "state": report.state,
        "exit_code": report.exit_code,
        "checked_at": report.checked_at.isoformat(),
        "checks": [asdict(c) for c in report.checks],
        "jobs": [
            {
                **asdict(j),
                "last_success_at": j.last_success_at.isoformat() if j.last_success_at else None,
            }
            for j in report.jobs
        ],
        "channels": [asdict(c) for c in report.channels],
        "queues": [asdict(q) for q in report.queues],
    }
    return json.dumps(payload, indent=2) + "\n"


def render_prometheus(report: HealthReport) -> str:
    """The report in the Prometheus text format, for the node_exporter textfile collector."""
    out: list[str] = []

    def metric(
        name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]
    ) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(
                f"{name}{{{label_text}}} {_number(value)}" if labels else f"{name} {_number(value)}"
            )

    metric("civicquant_health_status", "gauge", "0 ok, 1 stale, 2 down.", [({}, report.exit_code)])
    metric(
        "civicquant_check_ok",
        "gauge",
        "1 when the named check is ok.",
        [({"check": c.name, "state": c.state}, 1 if c.state == "ok" else 0) for c in report.checks],
    )
    metric(
        "civicquant_job_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the job's last successful run (0: never).",
        [
            ({"job": j.job}, j.last_success_at.timestamp() if j.last_success_at else 0)
            for j in report.jobs
        ],
    )
    metric(
        "civicquant_job_expected_interval_seconds",
        "gauge",
        "How often the job is expected to succeed.",
        [({"job": j.job}, j.expected_minutes * 60) for j in report.jobs],
    )
    metric(
        "civicquant_job_consecutive_failures",
        "gauge",
        "Failed runs since the job's last success.",
        [({"job": j.job}, j.consecutive_failures) for j in report.jobs],
    )
    metric(
        "civicquant_job_state",
        "gauge",
        "1 for the job's current state (ok, stale, down).",
        [
            ({"job": j.job, "state": s}, 1 if j.state == s else 0)
            for j in report.jobs
            for s in _SEVERITY
        ],
    )
    metric(
        "civicquant_channel_missing_ids",
        "gauge",
        "Message ids missing between the channel's first and last stored post.",
        [({"channel": c.channel}, c.missing_ids) for c in report.channels],
    )
    metric(
        "civicquant_channel_high_water_mark_age_seconds",
        "gauge",
        "Age of the newest stored post of the channel.",
        [
            ({"channel": c.channel}, c.mark_age_seconds)
            for c in report.channels
            if c.mark_age_seconds is not None
        ],
    )
    metric(
        "civicquant_queue_pending_jobs",
        "gauge",
        "Extraction jobs waiting (pending or failed awaiting retry).",
        [({"pipeline_version": q.pipeline_version}, q.pending) for q in report.queues],
    )
    metric(
        "civicquant_queue_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest waiting extraction job.",
        [
            ({"pipeline_version": q.pipeline_version}, q.oldest_pending_seconds)
            for q in report.queues
            if q.oldest_pending_seconds is not None
        ],
    )
    metric(
        "civicquant_queue_dead_jobs",
        "gauge",
        "Extraction jobs that used up their attempts.",
        [({"pipeline_version": q.pipeline_version}, q.dead) for q in report.queues],
    )
    metric(
        "civicquant_health_checked_timestamp_seconds",
        "gauge",
        "Unix time this report was made.",
        [({}, report.checked_at.timestamp())],
    )
    return "\n".join(out) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same directory and a rename."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # the textfile collector runs as another user
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m" if minutes else f"{int(seconds)}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
