"""Breaking alerts from extract and failure alerts to the ops chat, through a fake Bot API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.publish.flash import FlashAlerts
from civicquant.runtime.context import JobContext
from civicquant.wiring import make_publisher, run_job
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.providers import ScriptedProvider

VIP = "-1001111111111"
OPS = "-1002222222222"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
FLASH = "🚨 BREAKING: Explosion reported at Ras Tanura oil terminal in Saudi Arabia; Brent jumps 6% to $84 — Reuters"
CALM = "Euro area services PMI edges up to 49.9 in November from 49.8"


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def publishing(settings: Settings, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TG_BOT_TOKEN", bot_api.TOKEN)
    monkeypatch.setenv("TG_BOT_API_URL", bot.url)
    monkeypatch.setenv("TG_VIP_CHAT_ID", VIP)
    monkeypatch.setenv("TG_OPS_CHAT_ID", OPS)
    monkeypatch.setenv("FLASH_MIN_IMPORTANCE", "0.5")
    return load_settings()


def extract(
    settings: Settings, db: Database, texts: list[str], *, side_effects: bool = True
) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(Channel(1001, "wirewatch"))
    start = len(db.connection.execute("SELECT id FROM raw_messages").fetchall())
    rawlog.store(
        1001, [RawPost(1001, start + i + 1, T0, text=t) for i, t in enumerate(texts)], "live"
    )
    ctx = JobContext(settings, db, "extract", "e" * 36, threading.Event())
    options = WorkerOptions("v1", oneshot=True, side_effects=side_effects)
    flash = FlashAlerts(settings, ctx.run_id, make_publisher) if side_effects else None

    async def run() -> None:
        await Worker(ctx, ScriptedProvider(), options, after_commit=flash).run()
        if flash:
            await flash.aclose()

    asyncio.run(run())


def test_breaking_event_is_flashed_once_to_the_vip_chat(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH, CALM])
    [alert] = bot.sent_messages
    assert alert.chat_id == VIP
    assert "Ras Tanura" in alert.text
    assert "BREAKING" in alert.text
    # The same story from another post joins the event: no second alert.
    extract(publishing, db, [FLASH + " (update)"])
    assert len(bot.sent_messages) == 1


def test_no_side_effects_sends_nothing(publishing: Settings, db: Database, bot: FakeBotApi) -> None:
    extract(publishing, db, [FLASH], side_effects=False)
    assert bot.requests == []


def test_flash_failure_does_not_fail_extraction(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.fail_next(bot_api.BOT_KICKED)
    extract(publishing, db, [FLASH])
    jobs = db.connection.execute("SELECT status FROM extraction_jobs").fetchall()
    assert [j["status"] for j in jobs] == ["ok"]


def test_an_alert_whose_answer_is_lost_is_posted_once_and_left_in_doubt(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.lose_answer_next(bot_api.LostAnswer.RESET)
    extract(publishing, db, [FLASH])
    assert len(bot.sent_messages) == 1
    [row] = db.connection.execute(
        "SELECT status, sending_part, error FROM published_posts WHERE queue = 'flash'"
    ).fetchall()
    assert (row["status"], row["sending_part"]) == ("reserved", 0)
    assert "may have been delivered" in row["error"]
    # Another post of the story, another batch: still one alert in the chat.
    extract(publishing, db, [FLASH + " (update)"])
    assert len(bot.sent_messages) == 1


def failing_runs(settings: Settings, count: int) -> None:
    def body(ctx: JobContext) -> None:
        raise CivicquantError("provider unreachable")

    for _ in range(count):
        with pytest.raises(CivicquantError):
            run_job(settings, "extract", body)


def test_failure_streak_alerts_once_and_recovery_once(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    failing_runs(publishing, 5)
    ops = [m for m in bot.sent_messages if m.chat_id == OPS]
    assert len(ops) == 1
    assert "failed 3 times in a row" in ops[0].text
    run_job(publishing, "extract", lambda ctx: None)
    run_job(publishing, "extract", lambda ctx: None)
    ops = [m for m in bot.sent_messages if m.chat_id == OPS]
    assert len(ops) == 2
    assert "recovered after 5 failed runs" in ops[1].text


def test_abandoned_runs_count_toward_the_failure_streak(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    db.connection.execute(
        "INSERT INTO job_runs (run_id, job_name, host, pid, status, finished_at, error) "
        "SELECT gen_random_uuid(), 'extract', 'gone-host', 1, 'abandoned', now(), 'abandoned' "
        "FROM generate_series(1, 2)"
    )
    failing_runs(publishing, 1)
    ops = [m for m in bot.sent_messages if m.chat_id == OPS]
    assert len(ops) == 1
    assert "failed 3 times in a row" in ops[0].text


def test_without_an_ops_chat_alerts_are_logged_only(settings: Settings, db: Database) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        failing_runs(settings, 3)
    assert [e["job_alert"] for e in logs if e["event"] == "job_alert"] == ["failing"]


def test_a_story_flashed_before_its_events_merged_is_not_flashed_again(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    # The older event is calm, the younger one breaking and flashed; a third post then shows
    # they are one story, and the younger merges into the older, which is breaking now.
    extract(publishing, db, ["Japan core inflation hits 3.2% in October, highest in a year"])
    extract(
        publishing, db, ["🚨 BREAKING: Tokyo consumer prices: core CPI 3.2% as yen weakness bites"]
    )
    assert len(bot.sent_messages) == 1
    assert _live_events(db) == 2
    extract(
        publishing,
        db,
        ["Japan core CPI 3.2% in October: consumer prices highest in a year as yen weakness bites"],
    )
    assert _live_events(db) == 1
    assert len(bot.sent_messages) == 1


def _live_events(db: Database) -> int:
    row = db.connection.execute(
        "SELECT count(*) AS n FROM events WHERE merged_into IS NULL"
    ).fetchone()
    assert row is not None
    return int(row["n"])


def test_an_alert_that_failed_before_it_was_sent_is_sent_by_a_later_batch(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.fail_next(bot_api.BOT_KICKED)  # refused: nothing reached the chat
    extract(publishing, db, [FLASH])
    assert bot.sent_messages == []
    [row] = db.connection.execute(
        "SELECT status FROM published_posts WHERE queue = 'flash'"
    ).fetchall()
    assert row["status"] == "failed"
    extract(publishing, db, [CALM])  # the next batch, about another story
    [alert] = bot.sent_messages
    assert "Ras Tanura" in alert.text
    extract(publishing, db, [CALM + " (more)"])
    assert len(bot.sent_messages) == 1
