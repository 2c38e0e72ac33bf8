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

from civicquant.ops.health import HealthReport, State, duration
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
                        if j.last_status == "failed"
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


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
