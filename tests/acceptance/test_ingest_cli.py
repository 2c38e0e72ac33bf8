"""Ingest commands as cron and operators run them."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicquant.db import Database
from tests.acceptance.conftest import run_cli

SHARED_EXPORT = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "trantor_library_result.json"
)
SAMPLES = Path(__file__).resolve().parents[2] / "civicquant" / "samples"
EXPORTS = Path(__file__).resolve().parents[1] / "unit" / "exports"


def test_export_import_then_reimport_then_enqueue_a_new_version(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    sample = SAMPLES / "demo_wirewatch.json"
    first = run_cli("backfill", "--from-export", str(sample), env=env)
    assert first.returncode == 0, first.stderr
    assert "inserted=" in first.stdout
    second = run_cli("backfill", "--from-export", str(sample), env=env)
    assert "inserted=" not in second.stdout
    assert "unchanged=" in second.stdout

    reparse = run_cli("enqueue", "--pipeline-version", "v2", env=env)
    assert reparse.returncode == 0
    assert "enqueued=" in reparse.stdout
    again = run_cli("enqueue", "--pipeline-version", "v2", env=env)
    assert again.returncode == 0
    assert "enqueued=" not in again.stdout
    with Database.connect(database_url) as db:
        versions = {
            r["pipeline_version"]
            for r in db.connection.execute(
                "SELECT DISTINCT pipeline_version FROM extraction_jobs"
            ).fetchall()
        }
    assert versions == {"v1", "v2"}


@pytest.mark.skipif(not SHARED_EXPORT.exists(), reason="shared export absent")
def test_real_export_imports_through_the_cli(database_url: str) -> None:
    result = run_cli(
        "backfill", "--from-export", str(SHARED_EXPORT), env={"DATABASE_URL": database_url}
    )
    assert result.returncode == 0, result.stderr
    assert "inserted=908" in result.stdout
    assert "service_skipped=16" in result.stdout


def test_a_file_that_is_not_an_export_is_one_line_and_exit_2(
    database_url: str, tmp_path: Path
) -> None:
    bogus = tmp_path / "notes.json"
    bogus.write_text('{"hello": "world"}')
    result = run_cli("backfill", "--from-export", str(bogus), env={"DATABASE_URL": database_url})
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("civicquant:")]
    assert "notes.json" in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("backfill", "--since", "2026-11-01"), "has no UTC offset"),
        (("backfill", "--since", "yesterday"), "is not an ISO 8601 time"),
        (
            ("backfill", "--since", "2026-11-02T00:00Z", "--until", "2026-11-01T00:00Z"),
            "is not after",
        ),
        (("backfill",), "exactly one of --since, --from-export or --gaps"),
        (("listen", "--duration", "soon"), "is not a duration"),
        (("listen", "--channels", "t.me/+AbCdEf"), "invite"),
        (("enqueue", "--priority", "urgent"), "--priority 'urgent': expected one of live"),
        (("backfill", "--gaps", "--priority", "101"), "a number from 0 to 100"),
        (("backfill", "--gaps", "--timezone", "UTC"), "--timezone goes with --from-export"),
        (("backfill", "--gaps", "--chat", "Wire"), "--chat goes with --from-export"),
        (
            ("backfill", "--from-export", "x.json", "--timezone", "Mars/Olympus"),
            "--timezone 'Mars/Olympus' is not an IANA time zone name",
        ),
    ],
)
def test_bad_command_line_input_is_one_line_and_exit_2(
    database_url: str, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args, env={"DATABASE_URL": database_url, "TG_SOURCE_CHANNELS": "@wirewatch"})
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("civicquant:")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_imports_queue_at_backfill_priority_and_reparses_below_it(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    sample = SAMPLES / "demo_wirewatch.json"
    assert run_cli("backfill", "--from-export", str(sample), env=env).returncode == 0
    assert run_cli("enqueue", "--pipeline-version", "v2", env=env).returncode == 0
    chosen = run_cli("enqueue", "--pipeline-version", "v3", "--priority", "live", env=env)
    assert chosen.returncode == 0, chosen.stderr
    with Database.connect(database_url) as db:
        rows = db.connection.execute(
            "SELECT pipeline_version, array_agg(DISTINCT priority) AS priorities"
            " FROM extraction_jobs GROUP BY pipeline_version ORDER BY pipeline_version"
        ).fetchall()
    assert [(r["pipeline_version"], r["priorities"]) for r in rows] == [
        ("v1", [20]),
        ("v2", [10]),
        ("v3", [30]),
    ]


def test_listen_without_telegram_credentials_fails_cleanly_and_records_the_run(
    database_url: str,
) -> None:
    env = {"DATABASE_URL": database_url, "TG_SOURCE_CHANNELS": "@wirewatch"}
    result = run_cli("listen", "--duration", "5s", env=env)
    assert result.returncode == 2
    assert "TG_API_ID is not set" in result.stderr
    with Database.connect(database_url) as db:
        run = db.connection.execute("SELECT job_name, status, error FROM job_runs").fetchone()
        leases = db.connection.execute("SELECT count(*) AS n FROM leases").fetchone()
    assert run is not None
    assert (run["job_name"], run["status"]) == ("listen", "failed")
    assert leases is not None
    assert leases["n"] == 0


def test_an_env_file_still_setting_lpa_max_age_hours_warns_once_and_runs_on(
    database_url: str, tmp_path: Path
) -> None:
    env_file = tmp_path / "cq.env"
    env_file.write_text("LPA_MAX_AGE_HOURS=72\nTG_SOURCE_CHANNELS=@wirewatch\n")
    env = {"DATABASE_URL": database_url, "CIVICQUANT_ENV_FILE": str(env_file), "LOG_FORMAT": "json"}
    result = run_cli("listen", "--duration", "5s", env=env)
    assert "TG_API_ID is not set" in result.stderr  # as without it: the setting broke nothing
    warnings = [line for line in result.stderr.splitlines() if "setting_retired" in line]
    assert len(warnings) == 1, result.stderr
    assert "LPA_MAX_AGE_HOURS" in warnings[0]
    assert "Traceback" not in result.stderr


def test_export_from_before_2021_needs_the_timezone_and_imports_with_it(
    database_url: str,
) -> None:
    env = {"DATABASE_URL": database_url}
    old = EXPORTS / "before_2021.json"
    refused = run_cli("backfill", "--from-export", str(old), env=env)
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("civicquant:")]
    assert errors == [
        f"civicquant: error: {old}: message 2 has no date_unixtime (an export from before 2021): pass"
        " --timezone with the exporting machine's zone, e.g. --timezone Europe/Moscow"
    ], refused.stderr
    assert "Traceback" not in refused.stderr

    imported = run_cli(
        "backfill", "--from-export", str(old), "--timezone", "Europe/Moscow", env=env
    )
    assert imported.returncode == 0, imported.stderr
    assert "inserted=2" in imported.stdout
    with Database.connect(database_url) as db:
        row = db.connection.execute(
            "SELECT posted_at FROM raw_messages WHERE message_id = 2"
        ).fetchone()
    assert row is not None
    assert row["posted_at"].isoformat() == "2019-05-01T09:34:56+00:00"


def test_whole_account_export_lists_its_chats_then_imports_the_one_chat_names(
    database_url: str,
) -> None:
    env = {"DATABASE_URL": database_url}
    account = EXPORTS / "whole_account.json"
    refused = run_cli("backfill", "--from-export", str(account), env=env)
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("civicquant:")]
    assert len(errors) == 1, refused.stderr
    assert "an export of a whole account (4 chats: Bob Roe (personal_chat, 222);" in errors[0]
    assert "pick one with --chat NAME or --chat ID" in errors[0]
    assert "Traceback" not in refused.stderr

    imported = run_cli("backfill", "--from-export", str(account), "--chat", "Test Group", env=env)
    assert imported.returncode == 0, imported.stderr
    assert "inserted=1" in imported.stdout
    with Database.connect(database_url) as db:
        rows = db.connection.execute("SELECT channel_id, message_id FROM raw_messages").fetchall()
    assert [(r["channel_id"], r["message_id"]) for r in rows] == [(1234567891, 7)]


def test_max_messages_is_honoured_with_from_export(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    result = run_cli(
        "backfill", "--from-export", str(EXPORTS / "service.json"), "--max-messages", "1", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "inserted=1" in result.stdout
    assert "posts=1" in result.stdout
