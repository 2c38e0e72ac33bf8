"""Pausing and resuming jobs as an operator does: cron runs exit 0 as paused, health says so."""

from __future__ import annotations

import json

import pytest

from civicquant.db import Database
from tests.acceptance.conftest import run_cli


def job_runs(database_url: str, job: str) -> list[str]:
    with Database.connect(database_url) as db:
        rows = db.connection.execute(
            "SELECT status FROM job_runs WHERE job_name = %s ORDER BY id", (job,)
        ).fetchall()
    return [row["status"] for row in rows]


def health_job(database_url: str, job: str) -> dict[str, object]:
    result = run_cli("health", "--format", "json", env={"DATABASE_URL": database_url})
    [found] = [j for j in json.loads(result.stdout)["jobs"] if j["job"] == job]
    return dict(found)


def test_a_paused_job_exits_at_once_as_paused_until_resumed(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    paused = run_cli("pause", "extract", "--for", "2h", "--reason", "provider outage", env=env)
    assert paused.returncode == 0, paused.stderr
    assert "extract: paused by " in paused.stdout
    assert "provider outage" in paused.stdout

    run = run_cli("extract", "--oneshot", env=env)
    assert run.returncode == 0, run.stderr
    assert "paused" in run.stdout
    assert job_runs(database_url, "extract") == ["paused"]
    shown = health_job(database_url, "extract")
    assert shown["state"] == "paused"
    assert "provider outage" in str(shown["pause"])
    text = run_cli("health", env=env).stdout
    assert "paused by " in text

    resumed = run_cli("resume", "extract", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "extract: resumed" in resumed.stdout
    assert run_cli("extract", "--oneshot", env=env).returncode == 0
    assert job_runs(database_url, "extract") == ["paused", "success"]
    assert run_cli("resume", "extract", env=env).stdout.strip() == "extract: was not paused"


def test_each_route_can_be_paused_under_its_health_name(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    assert run_cli("pause", "digest:vip", env=env).returncode == 0
    run = run_cli("digest", "--queue", "vip", env=env)  # cron's line for the route
    assert run.returncode == 0, run.stderr
    assert job_runs(database_url, "digest:vip") == ["paused"]
    # An operator's preview is not the cron job: it still shows the window.
    preview = run_cli("digest", "--queue", "vip", "--dry-run", env=env)
    assert preview.returncode == 0, preview.stderr
    assert job_runs(database_url, "digest:vip:dry-run") == ["success"]


def test_a_pause_that_outlived_its_end_lets_the_job_run_and_health_judge_it_again(
    database_url: str,
) -> None:
    env = {"DATABASE_URL": database_url}
    assert run_cli("pause", "prune", "--for", "1h", env=env).returncode == 0
    with Database.connect(database_url) as db:  # the hour has passed, two days ago
        db.connection.execute(
            "UPDATE job_pauses SET paused_at = now() - interval '3 days',"
            " until = now() - interval '2 days'"
        )
    shown = health_job(database_url, "prune")
    assert shown["state"] in ("stale", "down")  # prune runs daily: two days without a run
    assert run_cli("prune", "--older-than", "45d", env=env).returncode == 0
    assert job_runs(database_url, "prune")[-1] == "success"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pause", "extrct"), "no job named 'extrct' (jobs health monitors:"),
        (("pause", "extract", "--for", "2h", "--until", "2030-01-01T00:00:00Z"), "not both"),
        (("pause", "extract", "--until", "2020-01-01T00:00:00Z"), "has already passed"),
        (("pause", "extract", "--for", "soon"), "is not a duration"),
        (("resume", "nope"), "no job named 'nope'"),
    ],
)
def test_bad_pause_input_is_one_line_and_exit_2(
    database_url: str, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args, env={"DATABASE_URL": database_url})
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("civicquant:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
