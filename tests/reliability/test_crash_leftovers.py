"""Crash leftovers clear themselves: a run killed before it could record its end.

Real processes on a real database: SIGKILL leaves a `running` job_runs row; the next run
started on the host marks it `abandoned`, naming the process, and health counts it as a
failure. A run whose process is alive is left alone.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.reliability.support import Processes, cli_env, query, wait_until


def running_rows(url: str) -> list[dict[str, object]]:
    return query(url, "SELECT run_id, pid, status, error FROM job_runs WHERE job_name = 'extract'")


def test_a_killed_run_becomes_abandoned_and_counts_as_a_failure(
    database_url: str, procs: Processes, tmp_path: Path
) -> None:
    env = cli_env(database_url, tmp_path / "home", HEALTH_JOB_INTERVALS=json.dumps({"extract": 5}))
    killed = procs.spawn_cli("extract", "--max-runtime", "120s", env=env)
    wait_until(lambda: running_rows(database_url), timeout=60, what="the first worker's run row")
    killed.kill(signal.SIGKILL)
    killed.wait(timeout=30)
    alive = procs.spawn_cli("extract", "--max-runtime", "120s", env=env)
    wait_until(
        lambda: len(running_rows(database_url)) == 2, timeout=60, what="the second worker's row"
    )

    # The second worker's start already swept the first one's row; a third run sweeps again.
    swept = procs.cli("prune", "--dry-run", "--older-than", "45d", env=env)
    assert swept.returncode == 0, swept.describe()

    by_pid = {row["pid"]: row for row in running_rows(database_url)}
    assert by_pid[killed.pid]["status"] == "abandoned"
    assert by_pid[killed.pid]["error"] == (
        f"abandoned: process {killed.pid} on {query(database_url, 'SELECT host FROM job_runs')[0]['host']}"
        " ended without recording its end (killed or crashed)"
    )
    assert by_pid[alive.pid]["status"] == "running"
    health = procs.cli("health", "--format", "json", env=env)
    [extract] = [job for job in json.loads(health.stdout)["jobs"] if job["job"] == "extract"]
    assert extract["consecutive_failures"] == 1
    alive.kill(signal.SIGTERM)
    assert alive.wait(timeout=30).returncode == 0
