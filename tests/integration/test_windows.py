"""Digest windows under real timing: chained windows, late events, the extraction backlog.

A scheduled run (no --at) starts its window where the route's last published window ended,
so changing the cadence skips and repeats nothing, and an event extracted after its window
was fixed comes in the next window, marked late. Real PostgreSQL, the fake Bot API.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.publish.digest import DigestOptions, Window, digest_job, wait_for_backlog
from civicquant.runtime.context import JobContext
from civicquant.wiring import make_publisher
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.providers import ScriptedProvider

CHAT = "-1001234567890"
DAY = datetime(2026, 11, 20, tzinfo=UTC)
WIRE = Channel(1001, "wirewatch")


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def publishing(settings: Settings, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TG_BOT_TOKEN", bot_api.TOKEN)
    monkeypatch.setenv("TG_BOT_API_URL", bot.url)
    monkeypatch.setenv("TG_VIP_CHAT_ID", CHAT)
    monkeypatch.setenv("DIGEST_PART_INTERVAL_SECONDS", "0")
    return load_settings()


class Desk:
    """One channel's posts stored and extracted as listen and extract would."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.rawlog = RawLog(db, pipeline_version="v1")
        self.rawlog.save_channel(WIRE)
        self.next_id = 0

    def post(self, at: datetime, text: str, *, extract: bool = True) -> int:
        self.next_id += 1
        self.rawlog.store(1001, [RawPost(1001, self.next_id, at, text=text)], "live")
        if extract:
            self.extract()
        return self.next_id

    def extract(self) -> None:
        ctx = JobContext(self.settings, self.db, "extract", "x" * 36, threading.Event())
        asyncio.run(Worker(ctx, ScriptedProvider(), WorkerOptions("v1", oneshot=True)).run())


def scheduled(settings: Settings, db: Database, now: datetime, **options: Any) -> JobContext:
    """A cron run of the vip digest at `now`: no --at, so it chains to the last window."""
    ctx = JobContext(settings, db, "digest:vip", "r" * 36, threading.Event())
    digest_job(ctx, DigestOptions(queue="vip", now=now, **options), make_publisher)
    return ctx


def windows(db: Database) -> list[tuple[int, int]]:
    rows = db.connection.execute(
        "SELECT window_start, window_end FROM published_posts ORDER BY id"
    ).fetchall()
    return [(r["window_start"].hour, r["window_end"].hour) for r in rows]


OPEC = "OPEC+ agrees to extend output cuts of 1.2 million barrels a day until June 2027"
FED = "Federal Reserve holds rates at 5.25%, Powell says cuts are not yet on the table"
ECB = "ECB's Lagarde says a December rate cut is on the table after the PMI miss"


def test_a_shorter_cadence_neither_skips_nor_repeats_a_stretch_of_time(
    publishing: Settings, db: Database, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(publishing, db)
    desk.post(DAY + timedelta(hours=9), OPEC)
    desk.post(DAY + timedelta(hours=13), FED)
    scheduled(publishing, db, DAY + timedelta(hours=12, seconds=5))  # 4 h: 08:00-12:00
    monkeypatch.setenv("VIP_DIGEST_HOURS", "2")
    two_hourly = load_settings()
    scheduled(two_hourly, db, DAY + timedelta(hours=14, seconds=5))  # 2 h: 12:00-14:00
    assert windows(db) == [(8, 12), (12, 14)]
    texts = [m.text for m in bot.sent_messages]
    assert "OPEC+" in texts[0]
    assert "Federal Reserve" in texts[1]
    assert "OPEC+" not in texts[1]


def test_a_longer_cadence_starts_where_the_last_window_ended(
    publishing: Settings, db: Database, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIP_DIGEST_HOURS", "2")
    desk = Desk(publishing, db)
    desk.post(DAY + timedelta(hours=9), OPEC)
    desk.post(DAY + timedelta(hours=11), FED)
    scheduled(load_settings(), db, DAY + timedelta(hours=10, seconds=5))  # 08:00-10:00
    monkeypatch.setenv("VIP_DIGEST_HOURS", "4")
    scheduled(load_settings(), db, DAY + timedelta(hours=12, seconds=5))  # not 08:00-12:00
    assert windows(db) == [(8, 10), (10, 12)]
    assert ["OPEC+" in m.text for m in bot.sent_messages] == [True, False]
    # Run again at the same tick: the same window, already sent.
    scheduled(load_settings(), db, DAY + timedelta(hours=12, minutes=3))
    assert len(bot.sent_messages) == 2


def test_an_event_extracted_after_its_window_was_sent_comes_next_marked_late(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    desk = Desk(publishing, db)
    published = desk.post(DAY + timedelta(hours=9), OPEC)
    desk.post(DAY + timedelta(hours=11, minutes=30), ECB, extract=False)  # still queued
    scheduled(publishing, db, DAY + timedelta(hours=12, seconds=5))
    assert "Lagarde" not in bot.sent_messages[0].text
    desk.extract()  # the backlog drains after the window was sent
    # The published post is edited and re-extracted: not published again as new.
    desk.rawlog.store(
        1001, [RawPost(1001, published, DAY + timedelta(hours=9), text=OPEC + " (updated)")], "live"
    )
    desk.extract()
    desk.post(DAY + timedelta(hours=13), FED)
    scheduled(publishing, db, DAY + timedelta(hours=16, seconds=5))
    second = bot.sent_messages[1].text
    assert "Lagarde" in second
    assert "(late: 11:30 UTC)" in second
    assert "Federal Reserve" in second
    assert "OPEC+" not in second


def test_a_scheduled_digest_waits_for_the_posts_of_its_window_still_being_extracted(
    publishing: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_MAX_WAIT", "1s")
    settings = load_settings()
    desk = Desk(settings, db)
    now = datetime.now(UTC)
    window = Window(now - timedelta(hours=1), now)
    desk.post(now - timedelta(minutes=10), ECB, extract=False)
    ctx = JobContext(settings, db, "digest:vip", "w" * 36, threading.Event())
    assert wait_for_backlog(ctx, window, "v1") == 1  # waited DIGEST_MAX_WAIT, still queued
    desk.extract()
    assert wait_for_backlog(ctx, window, "v1") == 0
