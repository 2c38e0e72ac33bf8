"""An interrupted run is not a success: SIGINT/SIGTERM mid-import, and an extract that did nothing.

Real `civicquant` processes against a real PostgreSQL, signalled the way an operator's Ctrl-C
or a shutdown does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.acceptance.conftest import CIVICQUANT, run_cli
from tests.fakes import bot_api, chat_server
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.chat_server import ChatServer

BIG_POSTS = 150_000  # about 15 s to import here: time to be signalled mid-way
CHANNEL_ID = 1000000777
OPS = "-1002222222222"


def write_export(path: Path, posts: int) -> None:
    """A Telegram Desktop export of one channel, laid out as Telegram Desktop writes it."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            f'{{\n "name": "Big Wire",\n "type": "public_channel",\n "id": {CHANNEL_ID},\n'
            ' "messages": [\n'
        )
        for i in range(1, posts + 1):
            text = f"Report {i}: markets move {i % 97}% on the news"
            out.write(
                f'  {{\n   "id": {i},\n   "type": "message",\n'
                f'   "date": "2026-11-20T08:01:12",\n   "date_unixtime": "{1795161672 + i}",\n'
                f'   "from": "Big Wire",\n   "from_id": "channel{CHANNEL_ID}",\n'
                f'   "text": "{text}",\n'
                f'   "text_entities": [\n    {{\n     "type": "plain",\n     "text": "{text}"\n'
                "    }\n   ]\n  }"
            )
            out.write(",\n" if i < posts else "\n")
        out.write(" ]\n}\n")


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "BIG.json"
    write_export(path, BIG_POSTS)
    return path


@pytest.fixture
def ops_chat() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


def alerting_env(database_url: str, bot: FakeBotApi) -> dict[str, str]:
    """An installation whose ops chat hears of the very first failure."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database_url,
        "LOG_FORMAT": "json",
        "TG_BOT_TOKEN": bot_api.TOKEN,
        "TG_BOT_API_URL": bot.url,
        "TG_OPS_CHAT_ID": OPS,
        "ALERT_AFTER_FAILURES": "1",
    }


def stored_posts(database_url: str) -> tuple[int, int | None]:
    with Database.connect(database_url) as db:
        row = db.connection.execute(
            "SELECT count(*) AS n, max(message_id) AS last FROM raw_messages"
        ).fetchone()
    assert row is not None
    return int(row["n"]), row["last"]


def job_runs(database_url: str) -> list[dict[str, object]]:
    with Database.connect(database_url) as db:
        return list(
            db.connection.execute(
                "SELECT job_name, status, counts, error FROM job_runs ORDER BY started_at"
            ).fetchall()
        )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_import_records_interrupted_keeps_what_was_stored_and_a_rerun_imports_the_rest(
    database_url: str, big_export: Path, ops_chat: FakeBotApi, signum: int
) -> None:
    env = alerting_env(database_url, ops_chat)
    importing = subprocess.Popen(
        [str(CIVICQUANT), "backfill", "--from-export", str(big_export)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while stored_posts(database_url)[0] < 4000:  # a couple of batches in
        assert importing.poll() is None, importing.communicate()
        assert time.monotonic() < deadline, "the import stored nothing within a minute"
        time.sleep(0.05)
    importing.send_signal(signum)
    out, err = importing.communicate(timeout=60)

    assert importing.returncode == 128 + signum  # 130 for SIGINT, 143 for SIGTERM
    stored, last = stored_posts(database_url)
    assert 4000 <= stored < BIG_POSTS
    lines = [line for line in err.splitlines() if not line.startswith("{")]
    name = signal.Signals(signum).name
    assert lines == [
        f"backfill: interrupted by {name} after {stored} posts stored, up to message {last} of"
        f" channel {CHANNEL_ID} (inserted={stored}, enqueued={stored}, posts={stored});"
        " what was stored is kept: run it again for the rest"
    ]
    assert "Traceback" not in err
    assert out == ""
    [run] = job_runs(database_url)
    assert run["status"] == "interrupted"
    assert run["error"] == f"interrupted by {name}"
    counts = run["counts"]
    assert isinstance(counts, dict)
    assert counts["inserted"] == stored
    assert counts["last_message_id"] == last
    assert counts["channel"] == str(CHANNEL_ID)
    assert ops_chat.sent_messages == []  # an operator's Ctrl-C pages nobody

    rerun = subprocess.run(
        [str(CIVICQUANT), "backfill", "--from-export", str(big_export)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"inserted={BIG_POSTS - stored}, unchanged={stored}" in rerun.stdout
    assert stored_posts(database_url) == (BIG_POSTS, BIG_POSTS)
    assert [r["status"] for r in job_runs(database_url)] == ["interrupted", "success"]
    assert ops_chat.sent_messages == []


def test_runs_and_health_show_an_interrupted_run_as_not_a_success(database_url: str) -> None:
    with Database.connect(database_url) as db:
        db.connection.execute(
            "INSERT INTO job_runs (run_id, job_name, host, pid, status, finished_at, counts,"
            " error) VALUES (gen_random_uuid(), 'extract', 'h', 1, 'interrupted', now(),"
            " '{\"posts\": 40, \"last_message_id\": 40}', 'interrupted by SIGINT')"
        )
    env = {"DATABASE_URL": database_url}
    runs = run_cli("runs", env=env)
    assert runs.returncode == 0, runs.stderr
    [row] = [line for line in runs.stdout.splitlines() if " extract " in line]
    assert "interrupted  " in row
    assert "interrupted by SIGINT: last_message_id=40, posts=40" in row
    health = run_cli("health", env=env)
    [job] = [line for line in health.stdout.splitlines() if line.startswith("extract ")]
    assert "never" in job  # no success yet: an interrupted run does not make it fresh
    assert "interrupted by SIGINT" in job


def seed_posts(database_url: str, texts: list[str]) -> None:
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        now = datetime.now(UTC)
        rawlog.store(1001, [RawPost(1001, i + 1, now, text=t) for i, t in enumerate(texts)], "live")


POSTS = [
    "Fed holds rates at 4.50% and signals two cuts next year",
    "Brent crude rises 3% after OPEC+ extends output cuts",
    "ECB's Lagarde says inflation is on track to reach 2% in 2026",
]


def provider_env(database_url: str, llm: ChatServer) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "LLM_PROVIDER": "openai",
        "LLM_API_URL": llm.url,
        "LLM_MODEL_NAME": "test",
        "LLM_API_KEY": "sk-test-not-a-real-key-0123456789",
    }


def test_extract_exits_1_with_one_line_when_every_job_it_tried_failed(database_url: str) -> None:
    seed_posts(database_url, POSTS)
    with ChatServer() as llm:
        llm.always(chat_server.error(401, "Incorrect API key provided"))
        result = run_cli("extract", "--oneshot", env=provider_env(database_url, llm))
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line for line in result.stderr.splitlines() if not line.startswith("{")] == [
        "civicquant: error: no extraction job succeeded: all 3 tried failed; the last:"
        f" {llm.url}/chat/completions answered 401: Incorrect API key provided"
    ]
    assert "sk-test" not in result.stdout + result.stderr
    [run] = job_runs(database_url)
    assert run["status"] == "failed"
    assert str(run["error"]).startswith("no extraction job succeeded: all 3 tried failed")
    counts = run["counts"]
    assert isinstance(counts, dict)
    assert counts["failed"] == 3


def test_extract_exits_0_when_some_jobs_succeed_and_others_fail(database_url: str) -> None:
    seed_posts(database_url, POSTS)
    with ChatServer() as llm:
        llm.script(chat_server.error(401, "Incorrect API key provided"))
        result = run_cli(
            "extract", "--oneshot", "--concurrency", "1", env=provider_env(database_url, llm)
        )
    assert result.returncode == 0, result.stderr
    assert "extract: ok=2" in result.stdout
    assert "failed=1" in result.stdout
    assert [r["status"] for r in job_runs(database_url)] == ["success"]


def test_extract_with_nothing_to_do_is_a_success(database_url: str) -> None:
    result = run_cli("extract", "--oneshot", env={"DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    assert [r["status"] for r in job_runs(database_url)] == ["success"]
