"""Digests end to end: events in PostgreSQL, python-telegram-bot, a fake Bot API server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.publish.digest import DigestOptions, aligned_window, digest_job
from civicquant.runtime.context import JobContext
from civicquant.wiring import make_publisher
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.providers import ScriptedProvider

CHAT = "-1001234567890"
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # inside the 08:00-12:00 window
T0 = datetime(2026, 11, 20, 8, 5, tzinfo=UTC)
STORIES = [
    "Federal Reserve holds interest rates steady at 5.25%, Powell signals patience on cuts",
    "Brent crude jumps 4% to $79 after OPEC+ extends output cuts into 2027",
    "Bitcoin falls 6% as exchange Northbridge halts withdrawals after a hot wallet breach",
    "German coalition agrees 2027 budget with 502 billion euros of spending",
    "Apple announces a $110 billion buyback and lifts its dividend 4%",
]


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


@pytest.fixture
def uncapped(publishing: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Every event in the digest (DIGEST_MAX_EVENTS=0), so a long window takes several parts."""
    monkeypatch.setenv("DIGEST_MAX_EVENTS", "0")
    return load_settings()


def seed_events(settings: Settings, db: Database, texts: list[str]) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    rawlog.save_channel(Channel(1001, "wirewatch"))
    rawlog.store(
        1001,
        [
            RawPost(1001, i + 1, T0 + timedelta(minutes=i), text=text)
            for i, text in enumerate(texts)
        ],
        "live",
    )
    ctx = JobContext(settings, db, "extract", "x" * 36, threading.Event())
    asyncio.run(Worker(ctx, ScriptedProvider(), WorkerOptions("v1", oneshot=True)).run())


def run_digest(settings: Settings, db: Database, **options: Any) -> JobContext:
    ctx = JobContext(settings, db, "digest:vip", "r" * 36, threading.Event())
    digest_job(
        ctx,
        DigestOptions(queue=options.pop("queue", "vip"), at=options.pop("at", AT), **options),
        make_publisher,
    )
    return ctx


def preview_digest(settings: Settings, db: Database, **options: Any) -> str:
    """What `civicquant digest --dry-run` prints for the window: its preview text."""
    ctx = JobContext(settings, db, "digest:vip:dry-run", "p" * 36, threading.Event())
    result = digest_job(
        ctx, DigestOptions(queue="vip", at=AT, dry_run=True, **options), make_publisher
    )
    return result.message() or ""


def ledger(db: Database) -> list[dict[str, Any]]:
    return db.connection.execute(
        "SELECT queue, chat_id, window_start, status, message_ids, sending_part, parts "
        "FROM published_posts ORDER BY id"
    ).fetchall()


def test_windows_are_aligned_to_the_cadence() -> None:
    four = timedelta(hours=4)
    late = datetime(2026, 11, 20, 12, 40, tzinfo=UTC)
    assert aligned_window(four, now=late).start == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert aligned_window(four, now=late).end == datetime(2026, 11, 20, 12, tzinfo=UTC)
    at = aligned_window(four, at=AT, now=late)
    assert (at.start.hour, at.end.hour) == (8, 12)
    quarter = aligned_window(timedelta(minutes=15), now=datetime(2026, 11, 20, 9, 7, tzinfo=UTC))
    assert (quarter.start.minute, quarter.end.minute) == (45, 0)


def test_digest_is_posted_once_when_run_twice_for_the_same_window(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(publishing, db, STORIES)
    first = run_digest(publishing, db)
    second = run_digest(publishing, db)
    assert (first.notes["outcome"], second.notes["outcome"]) == ("sent", "already_sent")
    [message] = bot.sent_messages
    assert message.chat_id == CHAT
    assert message.parse_mode == "HTML"
    assert "Federal Reserve" in message.text
    assert "https://t.me/wirewatch/1" in message.text
    [row] = ledger(db)
    assert (row["status"], row["message_ids"]) == ("sent", [message.message_id])


def test_window_sent_is_not_resent_even_if_its_events_changed(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(publishing, db, STORIES[:2])
    run_digest(publishing, db)
    seed_events(publishing, db, STORIES)  # more events arrive for the same window
    assert run_digest(publishing, db).notes["outcome"] == "already_sent"
    assert len(bot.sent_messages) == 1


def test_rate_limit_then_success_posts_once(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(publishing, db, STORIES)
    bot.fail_next(bot_api.flood(retry_after=1))
    run_digest(publishing, db)
    assert len(bot.calls("sendMessage")) == 2
    assert len(bot.sent_messages) == 1


def test_forbidden_fails_the_run_clearly_and_the_next_run_resends(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(publishing, db, STORIES)
    bot.fail_next(bot_api.BOT_KICKED)
    with pytest.raises(CivicquantError, match="bot was kicked"):
        run_digest(publishing, db)
    assert ledger(db)[0]["status"] == "failed"
    assert run_digest(publishing, db).notes["outcome"] == "sent"
    assert len(bot.sent_messages) == 1


def long_stories(count: int) -> list[str]:
    return [
        f"Story {i}: the {['central bank', 'oil cartel', 'exchange', 'parliament'][i % 4]} "
        f"in country number {i} announced measure {i * 37} affecting {i * 11} thousand people "
        f"and {i * 3} percent of output, officials said on {i % 28 + 1} November"
        for i in range(count)
    ]


def test_failed_multi_part_digest_is_sent_whole_by_the_next_run(
    uncapped: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(uncapped, db, long_stories(60))
    bot.fail_next(bot_api.CHAT_NOT_FOUND)
    with pytest.raises(CivicquantError, match="chat not found"):
        run_digest(uncapped, db)
    row = ledger(db)[0]
    assert len(row["parts"]) >= 2
    assert row["message_ids"] == []
    run = run_digest(uncapped, db)
    assert run.notes["outcome"] == "sent"
    texts = [m.text for m in bot.sent_messages]
    assert texts == ledger(db)[0]["parts"]  # every part exactly once, in order


def test_crash_between_parts_is_resumed_from_the_next_part(
    uncapped: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(uncapped, db, long_stories(60))
    run_digest(uncapped, db)
    parts = ledger(db)[0]["parts"]
    # Put the ledger back as a run killed after part 1 was accepted would have left it.
    first_id = ledger(db)[0]["message_ids"][0]
    db.connection.execute(
        "UPDATE published_posts SET status = 'reserved', message_ids = ARRAY[%s]::bigint[], "
        "sending_part = NULL, sent_at = NULL",
        (first_id,),
    )
    before = len(bot.sent_messages)
    assert run_digest(uncapped, db).notes["outcome"] == "sent"
    resent = [m.text for m in bot.sent_messages[before:]]
    assert resent == parts[1:]


def test_crash_while_sending_a_part_is_left_for_force(
    uncapped: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(uncapped, db, long_stories(60))
    run_digest(uncapped, db)
    parts = ledger(db)[0]["parts"]
    first_id = ledger(db)[0]["message_ids"][0]
    db.connection.execute(
        "UPDATE published_posts SET status = 'reserved', message_ids = ARRAY[%s]::bigint[], "
        "sending_part = 1, sent_at = NULL",
        (first_id,),
    )
    before = len(bot.sent_messages)
    assert run_digest(uncapped, db).notes["outcome"] == "in_doubt"
    assert len(bot.sent_messages) == before
    assert run_digest(uncapped, db, force=True).notes["outcome"] == "sent"
    assert [m.text for m in bot.sent_messages[before:]] == parts[1:]


@pytest.mark.parametrize(
    "lost",
    [bot_api.LostAnswer.RESET, bot_api.LostAnswer.CUT_SHORT, bot_api.LostAnswer.NOT_JSON],
    ids=lambda mode: mode.value,
)
def test_a_part_whose_answer_is_lost_is_in_doubt_never_resent(
    publishing: Settings, db: Database, bot: FakeBotApi, lost: bot_api.LostAnswer
) -> None:
    seed_events(publishing, db, STORIES)
    bot.lose_answer_next(lost)
    with pytest.raises(CivicquantError, match="may have been delivered"):
        run_digest(publishing, db)
    assert len(bot.sent_messages) == 1  # Telegram did post it
    row = ledger(db)[0]
    assert (row["status"], row["sending_part"]) == ("reserved", 0)
    # Health says so at once, not only after HEALTH_RESERVED_MINUTES.
    stuck = db.fetch_all("stale_reservations", {"older_than_seconds": 3600})
    assert [(r["queue"], r["sending_part"]) for r in stuck] == [("vip", 0)]
    # Later runs leave it alone; --force resends it.
    assert run_digest(publishing, db).notes["outcome"] == "in_doubt"
    assert len(bot.sent_messages) == 1
    assert run_digest(publishing, db, force=True).notes["outcome"] == "sent"
    assert len(bot.sent_messages) == 2


def test_empty_window_posts_nothing_and_says_so(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    run = JobContext(publishing, db, "digest:vip", "r" * 36, threading.Event())
    result = digest_job(run, DigestOptions(queue="vip", at=AT), make_publisher)
    assert run.notes["outcome"] == "empty"
    assert "nothing to post" in (result.message() or "")
    assert bot.requests == []
    assert ledger(db) == []


def test_dry_run_prints_and_records_nothing(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(publishing, db, STORIES)
    out = preview_digest(publishing, db)
    assert "part 1/1" in out
    assert "Federal Reserve" in out
    assert bot.requests == []
    assert ledger(db) == []


def test_topic_filters_include_and_exclude(
    publishing: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_events(publishing, db, STORIES)
    monkeypatch.setenv("DIGEST_EXCLUDE_TOPICS", "crypto")
    out = preview_digest(load_settings(), db)
    assert "Bitcoin" not in out
    assert "Federal Reserve" in out
    monkeypatch.setenv("DIGEST_TOPICS", "crypto")
    monkeypatch.delenv("DIGEST_EXCLUDE_TOPICS")
    out = preview_digest(load_settings(), db)
    assert "Bitcoin" in out
    assert "Federal Reserve" not in out


def test_html_from_posts_is_escaped_and_accepted_by_telegram(
    publishing: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed_events(
        publishing, db, ["Shares of <b>Acme</b> & Sons jump 9% after <a href='x'>deal</a> report"]
    )
    run_digest(publishing, db)
    [message] = bot.sent_messages
    assert "&lt;b&gt;Acme&lt;/b&gt; &amp; Sons" in message.text
