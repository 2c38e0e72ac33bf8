"""The installed executable, run as cron runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import run_cli


def test_health_before_any_job_has_run_is_down_with_a_table(database_url: str) -> None:
    result = run_cli("health", env={"DATABASE_URL": database_url})
    assert result.returncode == 2, result.stderr
    assert "civicquant health: DOWN" in result.stdout
    assert "listen" in result.stdout
    assert "never" in result.stdout
    assert "Traceback" not in result.stderr


def test_health_json_and_prometheus_textfile(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    payload = json.loads(run_cli("health", "--format", "json", env=env).stdout)
    assert payload["state"] == "down"
    assert {check["name"] for check in payload["checks"]} == {"database", "migrations"}

    textfile = tmp_path / "collector" / "civicquant.prom"
    result = run_cli("health", "--format", "prometheus", "--output", str(textfile), env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "civicquant_health_status 2" in textfile.read_text()


def test_unreachable_database_is_one_line_naming_the_host_not_the_password() -> None:
    env = {"DATABASE_URL": "postgresql://cq:pw-s3cr3t-9@127.0.0.1:1/civicquant"}
    for args in (("db", "migrate"), ("runs",)):
        result = run_cli(*args, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "127.0.0.1:1/civicquant" in lines[0]
        assert "pw-s3cr3t-9" not in result.stderr + result.stdout
    health = run_cli("health", env=env)
    assert health.returncode == 2
    assert "pw-s3cr3t-9" not in health.stdout + health.stderr


def test_bad_setting_is_one_line_and_exit_2() -> None:
    result = run_cli("health", env={"LEASE_TTL_SECONDS": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "civicquant: error: LEASE_TTL_SECONDS: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_db_status_then_migrate_then_runs(empty_database_url: str) -> None:
    env = {"DATABASE_URL": empty_database_url}
    assert "pending" in run_cli("db", "status", env=env).stdout
    migrated = run_cli("db", "migrate", env=env)
    assert migrated.returncode == 0
    assert "applied 0001_foundation" in migrated.stdout
    assert "nothing to apply" in run_cli("db", "migrate", env=env).stdout
    assert "pending" not in run_cli("db", "status", env=env).stdout
    assert run_cli("runs", env=env).stdout.strip() == "no job runs yet"
    assert json.loads(run_cli("runs", "--format", "json", env=env).stdout) == []


def test_cron_prints_the_crontab_with_this_executable(tmp_path: Path) -> None:
    env_file = tmp_path / "cq.env"
    env_file.write_text("LOG_LEVEL=INFO\n")
    result = run_cli(
        "--env-file", str(env_file), "cron", env={"CIVICQUANT_HOME": str(tmp_path / "home")}
    )
    assert result.returncode == 0, result.stderr
    assert f"CIVICQUANT_ENV_FILE={env_file}" in result.stdout
    from tests.acceptance.conftest import CIVICQUANT

    assert f"{CIVICQUANT} extract --max-runtime 55s" in result.stdout
    assert (tmp_path / "home" / "logs").is_dir()


def test_embedded_database_is_the_default(stable_tmp: Path) -> None:
    """No DATABASE_URL: an embedded PostgreSQL for CIVICQUANT_HOME, left running."""
    home = stable_tmp / "home"
    env = {"CIVICQUANT_HOME": str(home)}
    try:
        assert run_cli("db", "migrate", env=env, timeout=180).returncode == 0
        data_dir = json.loads((home / "embedded.json").read_text())["data_dir"]
        result = run_cli("health", env=env)
        assert result.returncode == 2
        assert f"reachable at {data_dir}/civicquant" in result.stdout
    finally:
        _stop_embedded(home)


def _stop_embedded(home: Path) -> None:
    from tests.pg import remove_embedded

    remove_embedded(home)


def test_digest_of_an_empty_window_says_so_on_stdout(empty_database_url: str) -> None:
    env = {"DATABASE_URL": empty_database_url}
    assert run_cli("db", "migrate", env=env).returncode == 0
    result = run_cli("digest", "--dry-run", "--at", "2026-11-20T10:00:00Z", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nothing to post: no events in 2026-11-20 08:00-12:00 UTC\n"


def test_monitoring_prints_the_shipped_dashboard_and_rules_with_no_database(
    tmp_path: Path,
) -> None:
    # An operator pipes these into Grafana and Prometheus: no settings, no database needed.
    env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    dashboard = run_cli("monitoring", "dashboard", env=env, cwd=tmp_path)
    assert dashboard.returncode == 0, dashboard.stderr
    assert json.loads(dashboard.stdout)["uid"] == "civicquant"
    rules = run_cli("monitoring", "rules", env=env, cwd=tmp_path)
    assert rules.returncode == 0, rules.stderr
    assert "alert: CivicquantJobStale" in rules.stdout
    assert "Traceback" not in dashboard.stderr + rules.stderr
