"""Health reports rendered: a text table for people, JSON, and a Prometheus textfile.

The checks and the report types are in `health`; this module only formats a finished
`HealthReport`, and writes the textfile atomically for node_exporter's collector.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, get_args

from civicquant import __version__
from civicquant.errors import UsageError
from civicquant.ops.health import ChannelLag, HealthReport, State, duration
from civicquant.textual import aligned


def render_text(report: HealthReport) -> str:
    """A table for people: overall state, checks, then one row per job."""
    lines = [
        f"civicquant health: {report.state.upper()} "
        f"(checked {report.checked_at:%Y-%m-%d %H:%M:%S} UTC)",
        "",
    ]
    width = max((len(c.name) for c in report.checks), default=8)
    lines.extend(f"{item.name:<{width}}  {item.state:<5}  {item.detail}" for item in report.checks)
    if report.jobs:
        lines.append("")
        lines += aligned(
            [
                ("JOB", "STATE", "LAST SUCCESS", "AGE", "EVERY", "FAILS", "LAST ERROR / PAUSE"),
                *(
                    (
                        j.job,
                        j.state,
                        f"{j.last_success_at:%Y-%m-%d %H:%M}" if j.last_success_at else "never",
                        duration(j.age_seconds),
                        duration(j.expected_minutes * 60),
                        str(j.consecutive_failures),
                        j.pause
                        if j.state == "paused" and j.pause
                        else (j.last_error or "")[:60]
                        if j.last_status in ("failed", "interrupted")
                        else "",
                    )
                    for j in report.jobs
                ),
            ]
        )
    if report.channels:
        lines.append("")
        lines += aligned(
            [
                (
                    "CHANNEL",
                    "STATE",
                    "WEIGHT",
                    "LAST ID",
                    "LAST POST AGE",
                    "READ AGO",
                    "MISSING IDS",
                    "CATCH-UP",
                ),
                *(
                    (
                        c.channel,
                        c.state,
                        f"{c.weight:g}",
                        str(c.last_message_id or "-"),
                        duration(c.mark_age_seconds),
                        duration(c.parsed_age_seconds),
                        str(c.missing_ids),
                        _catch_up(c),
                    )
                    for c in report.channels
                ),
            ]
        )
    if report.queues:
        lines.append("")
        lines += aligned(
            [
                ("QUEUE", "STATE", "PENDING", "OLDEST", "RUNNING", "DEAD"),
                *(
                    (
                        q.pipeline_version,
                        q.state,
                        str(q.pending),
                        duration(q.oldest_pending_seconds),
                        str(q.running),
                        str(q.dead),
                    )
                    for q in report.queues
                ),
            ]
        )
    return "\n".join(lines) + "\n"


def _catch_up(channel: ChannelLag) -> str:
    """`caught up`, or how far a catch-up has come: `paused, 3d 2h left (read back to ...)`."""
    recheck = ", recheck owed" if channel.recheck_owed else ""
    if channel.catch_up in ("caught up", "never") or channel.catch_up_position is None:
        return channel.catch_up + recheck
    position = channel.catch_up_position[:16].replace("T", " ")
    start = (channel.catch_up_from or "")[:16].replace("T", " ")
    return (
        f"{channel.catch_up}: {duration(channel.catch_up_left_seconds)} left "
        f"(read back to {position}, walking to {start}){recheck}"
    )


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
        "posts_stored": [asdict(p) for p in report.posts_stored],
        "extraction_jobs": [asdict(j) for j in report.extraction_jobs],
        "messages_sent": [asdict(m) for m in report.messages_sent],
        "flood_waits": [asdict(f) for f in report.flood_waits],
        "active_flood_waits": [asdict(w) for w in report.active_flood_waits],
        "publications_in_doubt": report.publications_in_doubt,
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

    metric(
        "civicquant_build_info",
        "gauge",
        "1, labelled with the version of civicquant that wrote this report.",
        [({"version": __version__}, 1)],
    )
    metric("civicquant_health_status", "gauge", "0 ok, 1 stale, 2 down.", [({}, report.exit_code)])
    metric(
        "civicquant_current_pipeline_version",
        "gauge",
        "1, labelled with the pipeline version health judges (EXTRACTION_PIPELINE_VERSION).",
        [({"pipeline_version": report.pipeline_version}, 1)] if report.pipeline_version else [],
    )
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
        "1 for the job's current state (ok, paused, stale, down).",
        [
            ({"job": j.job, "state": s}, 1 if j.state == s else 0)
            for j in report.jobs
            for s in get_args(State)
        ],
    )
    metric(
        "civicquant_channel_missing_ids",
        "gauge",
        "Message ids missing between the channel's first and last stored post.",
        [({"channel": c.channel}, c.missing_ids) for c in report.channels],
    )
    metric(
        "civicquant_channel_weight",
        "gauge",
        "The operator's weight of the channel (TG_SOURCE_CHANNELS @name:2), 1 by default.",
        [({"channel": c.channel}, c.weight) for c in report.channels],
    )
    metric(
        "civicquant_channel_catchup_remaining_seconds",
        "gauge",
        "Seconds of the channel's past listen's catch-up has still to read (0: caught up).",
        [({"channel": c.channel}, c.catch_up_left_seconds) for c in report.channels],
    )
    metric(
        "civicquant_channel_catchup_paused",
        "gauge",
        "1 while the channel's catch-up waits for the extraction backlog to fall.",
        [({"channel": c.channel}, 1 if c.catch_up == "paused" else 0) for c in report.channels],
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
    # Counts of stored rows, for dashboards: typed gauges, not counters, because `prune`
    # deletes old rows (and `enqueue --force` moves jobs back to pending), and rate() would
    # read every such fall as a counter reset, a spike of the whole count.
    metric(
        "civicquant_posts_stored",
        "gauge",
        "Posts in the raw log, per channel and source (live, backfill, export).",
        [({"channel": p.channel, "source": p.source}, p.posts) for p in report.posts_stored],
    )
    metric(
        "civicquant_extraction_jobs",
        "gauge",
        "Extraction jobs per pipeline version and status (ok: done, dead: failed for good).",
        [
            ({"pipeline_version": j.pipeline_version, "status": j.status}, j.jobs)
            for j in report.extraction_jobs
        ],
    )
    metric(
        "civicquant_messages_sent",
        "gauge",
        "Telegram messages of sent publications, per queue (a route, or ops).",
        [({"queue": m.queue}, m.messages) for m in report.messages_sent],
    )
    metric(
        "civicquant_publications_in_doubt",
        "gauge",
        "Publications left reserved by a crash or a lost answer (see digest --force).",
        [({}, report.publications_in_doubt)] if report.publications_in_doubt is not None else [],
    )
    metric(
        "civicquant_flood_waits_last_day",
        "gauge",
        "FloodWaits Telegram asked of the job in the last 24 hours.",
        [({"job": f.job}, f.waits) for f in report.flood_waits],
    )
    metric(
        "civicquant_flood_wait_seconds_last_day",
        "gauge",
        "Seconds of FloodWait Telegram asked of the job in the last 24 hours.",
        [({"job": f.job}, f.seconds) for f in report.flood_waits],
    )
    metric(
        "civicquant_flood_wait_remaining_seconds",
        "gauge",
        "Seconds left of a FloodWait not yet over; runs on the session skip until then.",
        [
            ({"session": w.session, "method": w.method, "job": w.job}, w.seconds_left)
            for w in report.active_flood_waits
        ],
    )
    metric(
        "civicquant_health_checked_timestamp_seconds",
        "gauge",
        "Unix time this report was made.",
        [({}, report.checked_at.timestamp())],
    )
    return "\n".join(out) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same directory and a rename.

    UsageError (exit 2, as health's contract has it) names the path when it cannot be
    written: a directory, a missing permission, a parent that is a file.
    """
    path = path.expanduser()
    if path.is_dir():
        raise UsageError(f"--output {path}: is a directory; give the file to write")
    temp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # the textfile collector runs as another user
        os.replace(temp, path)
    except OSError as exc:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        raise UsageError(f"--output {path}: cannot write it ({exc.strerror or exc})") from None
    except BaseException:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        raise


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
