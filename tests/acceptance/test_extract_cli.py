"""`civicquant extract` as cron runs it: breaking alerts reach the VIP chat, once."""

from __future__ import annotations

from datetime import UTC, datetime

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.acceptance.conftest import run_cli
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi

FLASH = "🚨 BREAKING: Explosion reported at Ras Tanura oil terminal in Saudi Arabia; Brent jumps 6% to $84"


def test_extract_flashes_a_breaking_event_once_and_not_with_no_side_effects(
    database_url: str,
) -> None:
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        rawlog.store(1001, [RawPost(1001, 1, datetime.now(UTC), text=FLASH)], "live")
    with FakeBotApi() as bot:
        env = {
            "DATABASE_URL": database_url,
            "TG_BOT_TOKEN": bot_api.TOKEN,
            "TG_BOT_API_URL": bot.url,
            "TG_VIP_CHAT_ID": "-1001000000001",
            "FLASH_MIN_IMPORTANCE": "0.4",
        }
        quiet = run_cli("extract", "--oneshot", "--no-side-effects", env=env)
        assert quiet.returncode == 0, quiet.stderr
        assert bot.sent_messages == []

        with Database.connect(database_url) as db:
            db.connection.execute("UPDATE extraction_jobs SET status = 'pending'")
        loud = run_cli("extract", "--oneshot", env=env)
        assert loud.returncode == 0, loud.stderr
        [alert] = bot.sent_messages
        assert alert.chat_id == "-1001000000001"
        assert "Ras Tanura" in alert.text

        with Database.connect(database_url) as db:
            db.connection.execute("UPDATE extraction_jobs SET status = 'pending'")
        again = run_cli("extract", "--oneshot", env=env)
        assert again.returncode == 0
        assert len(bot.sent_messages) == 1  # once per event
