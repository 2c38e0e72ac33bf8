"""Flash alerts through the outbox and failure alerts to the ops chat, through a fake Bot API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.errors import CivicquantError, TelegramError, UsageError
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.publish.flash import RETRY_FAILED_FOR, FlashOptions, drain_route, flash_drain_job
from civicquant.publish.routes import load_routes
from civicquant.runtime import leases
from civicquant.runtime.context import JobContext
from civicquant.runtime.leases import LeaseLost
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
    """Store the posts and extract them: the breaking ones are queued in the flash outbox."""
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(Channel(1001, "wirewatch"))
    start = len(db.connection.execute("SELECT id FROM raw_messages").fetchall())
    rawlog.store(
        1001, [RawPost(1001, start + i + 1, T0, text=t) for i, t in enumerate(texts)], "live"
    )
    ctx = JobContext(settings, db, "extract", "e" * 36, threading.Event())
    options = WorkerOptions("v1", oneshot=True, side_effects=side_effects)
    asyncio.run(Worker(ctx, ScriptedProvider(), options).run())


def drain(settings: Settings, **options: object) -> None:
    """`civicquant digest --queue flash`: the flash route's outbox drained once, under its lease."""
    run_job(
        settings,
        "digest:flash",
        lambda ctx: flash_drain_job(ctx, FlashOptions("flash", **options), make_publisher),  # type: ignore[arg-type]
        lease="digest:flash",
    )


def extract_and_drain(settings: Settings, db: Database, texts: list[str]) -> None:
    extract(settings, db, texts)
    drain(settings)


def outbox(db: Database) -> list[int]:
    rows = db.connection.execute("SELECT event_id FROM flash_outbox ORDER BY event_id").fetchall()
    return [row["event_id"] for row in rows]


def test_breaking_event_is_flashed_once_to_the_vip_chat(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract_and_drain(publishing, db, [FLASH, CALM])
    [alert] = bot.sent_messages
    assert alert.chat_id == VIP
    assert "Ras Tanura" in alert.text
    assert "BREAKING" in alert.text
    # The same story from another post joins the event: no second alert.
    extract_and_drain(publishing, db, [FLASH + " (update)"])
    assert len(bot.sent_messages) == 1


def test_extraction_queues_only_breaking_events_and_sends_nothing_itself(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH, CALM])
    [breaking] = db.connection.execute("SELECT id FROM events WHERE is_breaking").fetchall()
    assert outbox(db) == [breaking["id"]]
    assert bot.requests == []


def test_no_side_effects_sends_nothing_and_queues_nothing(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH], side_effects=False)
    assert outbox(db) == []
    drain(publishing)
    assert bot.requests == []


def test_flash_failure_does_not_fail_extraction_and_fails_the_drain(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.fail_next(bot_api.BOT_KICKED)
    extract(publishing, db, [FLASH])
    jobs = db.connection.execute("SELECT status FROM extraction_jobs").fetchall()
    assert [j["status"] for j in jobs] == ["ok"]
    with pytest.raises(TelegramError, match="1 flash alert"):
        drain(publishing)
    [run] = db.connection.execute(
        "SELECT status FROM job_runs WHERE job_name = 'digest:flash'"
    ).fetchall()
    assert run["status"] == "failed"


def test_an_alert_whose_answer_is_lost_is_posted_once_and_left_in_doubt(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.lose_answer_next(bot_api.LostAnswer.RESET)
    extract(publishing, db, [FLASH])
    with pytest.raises(TelegramError, match="in doubt"):
        drain(publishing)
    assert len(bot.sent_messages) == 1
    [row] = db.connection.execute(
        "SELECT status, sending_part, error FROM published_posts WHERE queue = 'flash'"
    ).fetchall()
    assert (row["status"], row["sending_part"]) == ("reserved", 0)
    assert "may have been delivered" in row["error"]
    # Another post of the story, another drain: still one alert in the chat.
    extract_and_drain(publishing, db, [FLASH + " (update)"])
    assert len(bot.sent_messages) == 1


def test_an_alert_in_doubt_is_resent_only_by_force_naming_its_event(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.lose_answer_next(bot_api.LostAnswer.RESET)
    extract(publishing, db, [FLASH])
    with pytest.raises(TelegramError):
        drain(publishing)
    [event] = outbox(db)
    drain(publishing, event_id=event)  # without --force: left alone
    assert len(bot.sent_messages) == 1
    with pytest.raises(UsageError, match="--force on a flash route needs --event"):
        drain(publishing, force=True)
    drain(publishing, event_id=event, force=True)
    assert len(bot.sent_messages) == 2
    [row] = db.connection.execute(
        "SELECT status, cardinality(message_ids) AS sent FROM published_posts WHERE queue = 'flash'"
    ).fetchall()
    assert (row["status"], row["sent"]) == ("sent", 1)


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
    extract_and_drain(
        publishing, db, ["Japan core inflation hits 3.2% in October, highest in a year"]
    )
    extract_and_drain(
        publishing, db, ["🚨 BREAKING: Tokyo consumer prices: core CPI 3.2% as yen weakness bites"]
    )
    assert len(bot.sent_messages) == 1
    assert _live_events(db) == 2
    extract_and_drain(
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


def test_an_alert_that_failed_before_it_was_sent_is_sent_by_the_next_drain(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    bot.fail_next(bot_api.BOT_KICKED)  # refused: nothing reached the chat
    extract(publishing, db, [FLASH])
    with pytest.raises(TelegramError):
        drain(publishing)
    assert bot.sent_messages == []
    [row] = db.connection.execute(
        "SELECT status FROM published_posts WHERE queue = 'flash'"
    ).fetchall()
    assert row["status"] == "failed"
    drain(publishing)  # no new extraction needed
    [alert] = bot.sent_messages
    assert "Ras Tanura" in alert.text
    drain(publishing)
    assert len(bot.sent_messages) == 1


def test_an_alert_not_sent_within_the_retry_span_is_dropped_from_the_outbox(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH])
    db.connection.execute(
        "UPDATE flash_outbox SET queued_at = now() - %s", (RETRY_FAILED_FOR + timedelta(minutes=1),)
    )
    drain(publishing)
    assert outbox(db) == []
    assert bot.requests == []


def test_an_alert_reserved_by_a_drainer_that_died_before_sending_is_sent_by_the_next(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH])
    [event] = db.connection.execute(
        "SELECT id, first_seen_at FROM events WHERE is_breaking"
    ).fetchall()
    # Reserved, the part not yet noted as being sent: nothing can have reached Telegram.
    db.connection.execute(
        "INSERT INTO published_posts (queue, chat_id, window_start, window_end, event_id,"
        " content_sha256, parts, status, reserved_by)"
        " VALUES ('flash', %s, %s, %s, %s, 'x', ARRAY['old'], 'reserved', 'dead-run')",
        (VIP, event["first_seen_at"], event["first_seen_at"], event["id"]),
    )
    drain(publishing)
    [alert] = bot.sent_messages
    assert alert.text == "old"  # the parts fixed at reservation
    drain(publishing)
    assert len(bot.sent_messages) == 1


def test_a_drain_whose_lease_was_taken_over_sends_nothing(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH])
    ours = leases.acquire(db, "digest:flash", "drainer-a", 60)
    assert ours is not None
    db.connection.execute("UPDATE leases SET expires_at = now() - interval '1 second'")
    assert leases.acquire(db, "digest:flash", "drainer-b", 60) is not None
    fence = leases.Fence("digest:flash", "drainer-a", ours.generation, 60)
    route = load_routes(publishing).named("flash")
    chat_id = route.chat_id
    assert chat_id is not None

    async def stale_drain() -> None:
        publisher = make_publisher(publishing)
        try:
            await drain_route(
                db,
                route,
                chat_id,
                lambda: publisher,
                holder="a",
                fence=fence,
                stopping=lambda: False,
            )
        finally:
            await publisher.aclose()

    with pytest.raises(LeaseLost):
        asyncio.run(stale_drain())
    assert bot.calls("sendMessage") == []
    assert db.connection.execute("SELECT count(*) AS n FROM published_posts").fetchone() == {"n": 0}


def test_a_dry_run_drain_previews_the_waiting_alerts_and_sends_nothing(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    extract(publishing, db, [FLASH, CALM])
    ctx = JobContext(publishing, db, "digest:flash:dry-run", "d" * 36, threading.Event())
    result = flash_drain_job(ctx, FlashOptions("flash", dry_run=True), make_publisher)
    assert result.outcome == "dry_run"
    assert result.preview is not None
    assert "part 1/1" in result.preview
    assert "Ras Tanura" in result.preview
    assert bot.requests == []
    assert db.connection.execute("SELECT count(*) AS n FROM published_posts").fetchone() == {"n": 0}
