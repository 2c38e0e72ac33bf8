"""A new user's first commands: version and help, readable runs, typos refused up front."""

from __future__ import annotations

import json
from datetime import datetime

from civicquant import __version__
from civicquant.db import Database
from tests.acceptance.conftest import run_cli


def job_runs(database_url: str) -> list[tuple[str, str]]:
    with Database.connect(database_url) as db:
        rows = db.connection.execute("SELECT job_name, status FROM job_runs ORDER BY id").fetchall()
    return [(row["job_name"], row["status"]) for row in rows]


def test_version_and_short_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"civicquant {__version__}"
    for args in (("-h",), ("runs", "-h"), ("db", "-h")):
        shown = run_cli(*args)
        assert shown.returncode == 0, (args, shown.stderr)
        assert shown.stdout.startswith("Usage: civicquant")


def test_runs_json_times_are_iso_8601_and_the_table_keeps_its_last_column(
    database_url: str,
) -> None:
    # A run with many counts: its COUNTS column is longer than a terminal's last column.
    with Database.connect(database_url) as db:
        db.connection.execute(
            "INSERT INTO job_runs (run_id, job_name, host, pid, finished_at, status, counts) "
            "VALUES (gen_random_uuid(), 'extract', 'h', 1, now(), 'success', %s)",
            (json.dumps({f"count_{i:02d}": i for i in range(1, 16)}),),
        )
    listed = run_cli("runs", "--format", "json", env={"DATABASE_URL": database_url})
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    for key in ("started_at", "finished_at"):
        assert "T" in run[key]
        assert datetime.fromisoformat(run[key]).tzinfo is not None
    table = run_cli("runs", env={"DATABASE_URL": database_url})
    assert table.returncode == 0, table.stderr
    row = table.stdout.splitlines()[1]
    assert row.rstrip().endswith("count_15=15")
    assert "count_01=1, count_02=2" in row


def test_a_misspelt_job_in_health_job_intervals_is_named(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "HEALTH_JOB_INTERVALS": "lisen=60,extract=2"}
    report = run_cli("health", env=env)
    assert report.returncode == 2
    assert "HEALTH_JOB_INTERVALS names lisen, which civicquant does not run" in report.stdout
    shown = run_cli("health", "--format", "json", env=env)
    checks = {check["name"]: check["state"] for check in json.loads(shown.stdout)["checks"]}
    assert checks["settings"] == "down"
    fine = run_cli("health", "--format", "json", env={**env, "HEALTH_JOB_INTERVALS": "extract=2"})
    assert "settings" not in {check["name"] for check in json.loads(fine.stdout)["checks"]}


def test_openai_without_a_key_for_openai_is_refused_before_any_run(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "LLM_PROVIDER": "openai"}
    refused = run_cli("extract", "--oneshot", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "civicquant: error: LLM_PROVIDER=openai needs LLM_API_KEY for "
        "https://api.openai.com/v1 (or LLM_API_URL for a server that takes no key)"
    )
    assert job_runs(database_url) == []
    # A local OpenAI-compatible server may take no key.
    local = run_cli("extract", "--oneshot", env={**env, "LLM_API_URL": "http://127.0.0.1:9/v1"})
    assert local.returncode == 0, local.stderr
    assert job_runs(database_url) == [("extract", "success")]


def test_channels_naming_an_unknown_channel_is_refused_before_any_run(
    database_url: str,
) -> None:
    with Database.connect(database_url) as db:
        db.connection.execute(
            "INSERT INTO channels (channel_id, username, title) VALUES (77, 'StoredWire', 'S')"
        )
    env = {"DATABASE_URL": database_url, "TG_SOURCE_CHANNELS": "@alphanews"}
    for args in (
        ("backfill", "--gaps", "--channels", "@alphanwes"),
        ("enqueue", "--since", "2026-11-01T00:00:00Z", "--channels", "@alphanwes"),
        ("compare", "v1", "v2", "--channels", "@alphanwes,@storedwire"),
    ):
        refused = run_cli(*args, env=env)
        assert refused.returncode == 2, (args, refused.stderr)
        assert refused.stderr.strip().startswith(
            "civicquant: error: --channels: @alphanwes is not a channel civicquant knows"
        ), refused.stderr
    assert job_runs(database_url) == []
    # Listed in TG_SOURCE_CHANNELS, or stored (any case): known.
    for channels in ("@AlphaNews", "@storedwire", "77"):
        known = run_cli(
            "enqueue", "--since", "2026-11-01T00:00:00Z", "--channels", channels, env=env
        )
        assert known.returncode == 0, (channels, known.stderr)
