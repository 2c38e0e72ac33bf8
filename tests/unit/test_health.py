from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicquant.ops.health import Check, HealthReport, JobFreshness, job_state
from civicquant.ops.health_render import (
    render_json,
    render_prometheus,
    render_text,
    write_atomic,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age_minutes", "expected"),
    [(None, "down"), (0, "ok"), (65, "ok"), (66, "stale"), (130, "stale"), (131, "down")],
)
def test_job_state_follows_interval_plus_grace(age_minutes: int | None, expected: str) -> None:
    age = None if age_minutes is None else age_minutes * 60
    assert job_state(age, expected_minutes=60, grace_minutes=5) == expected


def report(*states: str) -> HealthReport:
    jobs = [
        JobFreshness(f"job{i}", state, 60, NOW - timedelta(minutes=5), 300.0, 0, "success", None)  # type: ignore[arg-type]
        for i, state in enumerate(states)
    ]
    return HealthReport(checked_at=NOW, checks=[Check("database", "ok", "reachable")], jobs=jobs)


@pytest.mark.parametrize(
    ("states", "code"), [(("ok", "ok"), 0), (("ok", "stale"), 1), (("stale", "down"), 2)]
)
def test_exit_code_is_the_worst_state(states: tuple[str, ...], code: int) -> None:
    assert report(*states).exit_code == code


def test_database_down_check_makes_the_report_down() -> None:
    down = HealthReport(checked_at=NOW, checks=[Check("database", "down", "unreachable")])
    assert down.exit_code == 2
    assert "DOWN" in render_text(down)


PROM_LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? -?[0-9.e+]+$')


def test_prometheus_output_is_valid_exposition_format() -> None:
    text = render_prometheus(report("ok", "stale"))
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or PROM_LINE.match(line), (
            line
        )
    assert 'civicquant_job_last_success_timestamp_seconds{job="job0"}' in text
    assert "civicquant_health_status 1" in text


def test_json_output_carries_state_and_jobs() -> None:
    import json

    payload = json.loads(render_json(report("ok", "down")))
    assert payload["state"] == "down"
    assert [job["job"] for job in payload["jobs"]] == ["job0", "job1"]


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "textfile" / "civicquant.prom"
    write_atomic(target, "first\n")
    write_atomic(target, "second\n")
    assert target.read_text() == "second\n"
    assert os.listdir(target.parent) == ["civicquant.prom"]
