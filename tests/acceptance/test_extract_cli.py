"""`civicquant extract` as cron runs it: breaking alerts reach the VIP chat, once (its own\ndrainer or cron's `digest --queue flash`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.acceptance.conftest import run_cli
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi

FLASH = "🚨 BREAKING: Explosion reported at Ras Tanura oil terminal in Saudi Arabia; Brent jumps 6% to $84"


def store_breaking_post(database_url: str) -> None:
    """One live post that extracts as a breaking event worth a flash alert."""
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        rawlog.store(1001, [RawPost(1001, 1, datetime.now(UTC), text=FLASH)], "live")


def flash_env(database_url: str, bot: FakeBotApi) -> dict[str, str]:
    """The built-in flash route to a VIP chat at the fake Bot API."""
    return {
        "DATABASE_URL": database_url,
        "TG_BOT_TOKEN": bot_api.TOKEN,
        "TG_BOT_API_URL": bot.url,
        "TG_VIP_CHAT_ID": "-1001000000001",
        "FLASH_MIN_IMPORTANCE": "0.4",
    }


def test_extract_queues_a_breaking_events_alert_sent_once_and_none_with_no_side_effects(
    database_url: str,
) -> None:
    store_breaking_post(database_url)
    with FakeBotApi() as bot:
        env = flash_env(database_url, bot)
        quiet = run_cli("extract", "--oneshot", "--no-side-effects", env=env)
        assert quiet.returncode == 0, quiet.stderr
        drained = run_cli("digest", "--queue", "flash", env=env)
        assert drained.returncode == 0, drained.stderr
        assert "nothing to send" in drained.stdout
        assert bot.sent_messages == []  # --no-side-effects queued nothing to send later

        with Database.connect(database_url) as db:
            db.connection.execute("UPDATE extraction_jobs SET status = 'pending'")
        loud = run_cli("extract", "--oneshot", env=env)
        assert loud.returncode == 0, loud.stderr
        assert "alerts_queued=1" in loud.stdout
        # A oneshot run may end before its drainer starts: cron's drain sends the rest.
        drained = run_cli("digest", "--queue", "flash", env=env)
        assert drained.returncode == 0, drained.stderr
        [alert] = bot.sent_messages
        assert alert.chat_id == "-1001000000001"
        assert "Ras Tanura" in alert.text

        with Database.connect(database_url) as db:
            db.connection.execute("UPDATE extraction_jobs SET status = 'pending'")
        again = run_cli("extract", "--oneshot", env=env)
        assert again.returncode == 0
        assert run_cli("digest", "--queue", "flash", env=env).returncode == 0
        assert len(bot.sent_messages) == 1  # once per event


def test_extract_sends_the_alerts_itself_while_it_runs(database_url: str) -> None:
    store_breaking_post(database_url)
    with FakeBotApi() as bot:
        env = flash_env(database_url, bot)
        ran = run_cli("extract", "--max-runtime", "3s", env={**env, "LOG_FORMAT": "json"})
        assert ran.returncode == 0, ran.stderr
        assert "alerts_sent=1" in ran.stdout
        [alert] = bot.sent_messages
        assert "Ras Tanura" in alert.text
    events = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    [flashed] = [event for event in events if event["event"] == "flash_alert"]
    # Logged from the drainer's thread, in the extract run's context.
    assert (flashed["job"], flashed["outcome"]) == ("extract", "sent")
    assert flashed["run_id"] == next(e["run_id"] for e in events if e["event"] == "job_started")


def test_a_paused_flash_route_holds_extracts_alerts_until_it_is_resumed(
    database_url: str,
) -> None:
    store_breaking_post(database_url)
    with FakeBotApi() as bot:
        env = flash_env(database_url, bot)
        paused = run_cli("pause", "digest:flash", "--reason", "moving the VIP chat", env=env)
        assert paused.returncode == 0, paused.stderr
        ran = run_cli("extract", "--max-runtime", "3s", env=env)
        assert ran.returncode == 0, ran.stderr
        drained = run_cli("digest", "--queue", "flash", env=env)
        assert drained.returncode == 0, drained.stderr
        assert bot.sent_messages == []  # neither extract's drainer nor cron's sent it
        assert run_cli("resume", "digest:flash", env=env).returncode == 0
        assert run_cli("digest", "--queue", "flash", env=env).returncode == 0
        [alert] = bot.sent_messages
        assert "Ras Tanura" in alert.text
