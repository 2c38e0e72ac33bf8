"""A mistake on the command line is refused before any run is recorded: no failure, no alert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civicquant.db import Database
from tests.acceptance.conftest import run_cli
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi

EXPORTS = Path(__file__).resolve().parents[1] / "unit" / "exports"
OPS = "-1002222222222"


@pytest.fixture
def ops_chat() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("backfill", "--from-export", "{tmp}/missing.json"), "missing.json: no such file"),
        (("backfill", "--from-export", "{tmp}"), "a directory; give the export's result.json"),
        (("backfill", "--from-export", str(EXPORTS / "not_export.json")), "not a Telegram"),
        (
            ("backfill", "--from-export", str(EXPORTS / "whole_account.json")),
            "an export of a whole account",
        ),
        (
            ("backfill", "--from-export", str(EXPORTS / "whole_account.json"), "--chat", "Nope"),
            "--chat 'Nope' matches no chat",
        ),
        (("backfill", "--since", "yesterday"), "is not an ISO 8601 time"),
        (("backfill", "--gaps", "--priority", "urgent"), "--priority 'urgent'"),
        (("digest", "--queue", "nosuch"), "no route named 'nosuch'"),
        (("digest", "--at", "noon"), "is not an ISO 8601 time"),
        (("extract", "--max-runtime", "soon"), "is not a duration"),
        (("enqueue", "--since", "2026-11-01"), "has no UTC offset"),
        (("listen", "--duration", "forever"), "is not a duration"),
        (("prune", "--restore", "{tmp}/day.jsonl.gz"), "--restore"),
        (("prune", "--older-than", "old"), "is not a duration"),
        # What click itself refuses, before any command runs: one line too.
        (("backfill", "--gaps", "--max-messages", "0"), "Invalid value for '--max-messages'"),
        (("extract", "--bogus"), "No such option: --bogus (see civicquant extract -h)"),
        (("nosuch",), "No such command 'nosuch'"),
    ],
)
def test_a_command_line_mistake_is_exit_2_one_line_no_run_and_no_alert(
    database_url: str,
    ops_chat: FakeBotApi,
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "TG_SOURCE_CHANNELS": "@wirewatch",
        "TG_BOT_TOKEN": bot_api.TOKEN,
        "TG_BOT_API_URL": ops_chat.url,
        "TG_OPS_CHAT_ID": OPS,
        "ALERT_AFTER_FAILURES": "1",  # the first failed run would page
    }
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = run_cli(*argv, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("civicquant: error: "), errors
    assert message in errors[0], errors
    assert "Traceback" not in result.stderr
    with Database.connect(database_url) as db:
        runs = db.connection.execute("SELECT job_name, status FROM job_runs").fetchall()
    assert runs == []
    assert ops_chat.sent_messages == []


def test_missing_telegram_settings_are_a_recorded_failure_not_a_usage_error(
    database_url: str, ops_chat: FakeBotApi
) -> None:
    # Configuration, not the command line: cron's env file lost a variable, and the ops
    # chat should hear of it like any failure.
    env = {
        "DATABASE_URL": database_url,
        "TG_SOURCE_CHANNELS": "@wirewatch",
        "TG_BOT_TOKEN": bot_api.TOKEN,
        "TG_BOT_API_URL": ops_chat.url,
        "TG_OPS_CHAT_ID": OPS,
        "ALERT_AFTER_FAILURES": "1",
    }
    result = run_cli("backfill", "--since", "2026-11-20T00:00:00Z", env=env)
    assert result.returncode == 2
    assert "TG_API_ID is not set" in result.stderr
    with Database.connect(database_url) as db:
        runs = db.connection.execute("SELECT job_name, status FROM job_runs").fetchall()
    assert [(r["job_name"], r["status"]) for r in runs] == [("backfill", "failed")]
    [alert] = ops_chat.sent_messages
    assert alert.chat_id == OPS
    assert "backfill" in alert.text
