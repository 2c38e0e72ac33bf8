"""`civicquant prune` as cron and operators run it."""

from __future__ import annotations

from pathlib import Path

from civicquant.db import Database
from tests.acceptance.conftest import run_cli


def test_prune_archives_old_runs_then_restores_them(database_url: str, tmp_path: Path) -> None:
    with Database.connect(database_url) as db:
        db.connection.execute(
            "INSERT INTO job_runs (run_id, job_name, host, pid, status, started_at, finished_at) "
            "SELECT gen_random_uuid(), 'extract', 'h', 1, 'failed', "
            "now() - interval '60 days', now() - interval '60 days' FROM generate_series(1, 30)"
        )
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    preview = run_cli("prune", "--older-than", "45d", "--dry-run", env=env)
    assert preview.returncode == 0
    assert "job_runs" in preview.stdout

    archive = tmp_path / "archive"
    pruned = run_cli("prune", "--older-than", "45d", "--archive-dir", str(archive), env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert (archive / "manifest.json").is_file()
    with Database.connect(database_url) as db:
        left = db.connection.execute(
            "SELECT count(*) AS n FROM job_runs WHERE job_name = 'extract'"
        ).fetchone()
    assert left is not None
    assert left["n"] == 0

    [day_file] = sorted((archive / "job_runs").glob("*.jsonl.gz"))
    restored = run_cli("prune", "--restore", str(day_file), env=env)
    assert restored.returncode == 0, restored.stderr
    with Database.connect(database_url) as db:
        back = db.connection.execute(
            "SELECT count(*) AS n FROM job_runs WHERE job_name = 'extract'"
        ).fetchone()
    assert back is not None
    assert back["n"] == 30


def test_unknown_table_is_one_line_and_exit_2(database_url: str) -> None:
    result = run_cli("prune", "--tables", "users", env={"DATABASE_URL": database_url})
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("civicquant: error: --tables: unknown table users")
    )
