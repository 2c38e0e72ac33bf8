"""Importance and ranked digests: what a reader of the digest sees, on a real PostgreSQL.

Posts are extracted by the rules extractor with the importance (and breaking flag) each
test sets, so every figure below follows from the formula in civicquant.events.importance.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import civicquant.samples
from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.extract import rules
from civicquant.extract.providers import ProviderResult
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.channels import parse_channel_specs
from civicquant.ingest.export_import import export_job
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.ops import health
from civicquant.ops.health_render import render_prometheus, render_text
from civicquant.publish.digest import DigestOptions, Window, digest_job, window_events
from civicquant.runtime.context import JobContext
from civicquant.wiring import make_publisher
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi

CHAT = "-1001234567890"
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # inside the 08:00-12:00 window
WINDOW = Window(datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 20, 12, tzinfo=UTC))
T0 = datetime(2026, 11, 20, 8, 5, tzinfo=UTC)

FED = "Federal Reserve holds interest rates steady at 5.25%, Powell signals patience on cuts"
OPEC = "Brent crude jumps 4% to $79 after OPEC+ extends output cuts into 2027"
BITCOIN = "Bitcoin falls 6% as exchange Northbridge halts withdrawals after a hot wallet breach"
BUDGET = "German coalition agrees 2027 budget with 502 billion euros of spending"
APPLE = "Apple announces a $110 billion buyback and lifts its dividend 4%"
COPPER = "Copper slides 1.1% to $9,180 a tonne on the LME as Chinese factory orders shrink"
CHATTER = "Thanks a lot, sir!"


@dataclass(frozen=True)
class Reading:
    importance: float
    breaking_window: str | None = None


class ReadingProvider:
    """The rules extractor, with the importance (and breaking window) given per text."""

    name = "readings"
    model = "readings-1"
    prompt_fingerprint = "1" * 64

    def __init__(self, readings: dict[str, Reading]) -> None:
        self.readings = readings

    async def extract(self, text: str) -> ProviderResult:
        extraction = rules.extract(text)
        reading = self.readings.get(text)
        if reading is not None:
            extraction = extraction.model_copy(
                update={
                    "importance": reading.importance,
                    "is_breaking": reading.breaking_window is not None,
                    "breaking_window": reading.breaking_window,
                }
            )
        return ProviderResult(extraction, 0.1, None, None)

    async def aclose(self) -> None:
        pass


@dataclass(frozen=True)
class Post:
    channel: int
    minute: int
    text: str
    views: int | None = None


class Newsroom:
    """Channels posting into the raw log, and the extract worker turning posts into events."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.rawlog = RawLog(db, pipeline_version="v1")
        self.readings: dict[str, Reading] = {}
        self._next_id: dict[int, int] = {}

    def channel(self, channel_id: int, spec: str) -> None:
        """Record a channel as `listen` does for a TG_SOURCE_CHANNELS item (`@name:2`)."""
        [parsed] = parse_channel_specs(spec, default_weight=1.0)
        self.rawlog.save_channel(Channel(channel_id, parsed.username), weight=parsed.weight)

    def post(self, *posts: Post) -> None:
        for post in posts:
            message_id = self._next_id.get(post.channel, 0) + 1
            self._next_id[post.channel] = message_id
            raw = RawPost(
                post.channel,
                message_id,
                T0 + timedelta(minutes=post.minute),
                text=post.text,
                views=post.views,
            )
            self.rawlog.store(post.channel, [raw], "live")

    def extract(self) -> None:
        ctx = JobContext(self.settings, self.db, "extract", "x" * 36, threading.Event())
        provider = ReadingProvider(self.readings)
        asyncio.run(Worker(ctx, provider, WorkerOptions("v1", oneshot=True)).run())


@pytest.fixture
def newsroom(settings: Settings, db: Database) -> Newsroom:
    room = Newsroom(settings, db)
    room.channel(1001, "@wirewatch")
    room.channel(1002, "@marketpulse")
    room.channel(1003, "@tradedesk")
    return room


def preview(settings: Settings, db: Database, queue: str = "vip", at: datetime = AT) -> str:
    """What `civicquant digest --dry-run` prints for the window."""
    ctx = JobContext(settings, db, f"digest:{queue}:dry-run", "p" * 36, threading.Event())
    result = digest_job(ctx, DigestOptions(queue=queue, at=at, dry_run=True), make_publisher)
    return result.message() or ""


def bullets(text: str) -> list[str]:
    """The headlines of the digest's bullets, in the order shown (links cut off)."""
    return [line[2:].split(" — ")[0] for line in text.splitlines() if line.startswith("• ")]


def with_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def importance_of(db: Database, settings: Settings, headline: str) -> float:
    events = window_events(db, settings, "vip", WINDOW, "v1", None, min_importance=0.0)
    [event] = [e for e in events if e.headline == headline]
    return event.importance


def test_digest_shows_one_bullet_per_event_most_important_first(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.readings |= {FED: Reading(0.3), OPEC: Reading(0.9), BITCOIN: Reading(0.6)}
    newsroom.post(Post(1001, 0, FED), Post(1001, 1, OPEC), Post(1002, 2, BITCOIN))
    newsroom.post(Post(1002, 3, OPEC))  # a second channel: still one bullet
    newsroom.extract()
    assert bullets(preview(settings, db)) == [OPEC, BITCOIN, FED]


def test_topics_come_in_order_of_their_top_event(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.readings |= {
        FED: Reading(0.5),
        BUDGET: Reading(0.2),
        OPEC: Reading(0.8),
        BITCOIN: Reading(0.3),
    }
    newsroom.post(*(Post(1001, i, text) for i, text in enumerate([FED, BUDGET, OPEC, BITCOIN])))
    newsroom.extract()
    text = preview(settings, db)
    headers = [
        line for line in text.splitlines() if line.startswith("<b>") and "Digest" not in line
    ]
    assert headers == ["<b>Energy</b>", "<b>Macro</b>", "<b>Crypto</b>", "<b>Politics</b>"]


def test_cap_shows_the_top_events_then_one_line_of_how_many_more_per_topic(
    newsroom: Newsroom, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    stories = [OPEC, FED, COPPER, BITCOIN, BUDGET]
    newsroom.readings |= {text: Reading(0.9 - 0.1 * i) for i, text in enumerate(stories)}
    newsroom.post(*(Post(1001, i, text) for i, text in enumerate(stories)))
    newsroom.extract()
    capped = with_env(monkeypatch, DIGEST_MAX_EVENTS="2")
    text = preview(capped, db)
    assert bullets(text) == [OPEC, FED]
    assert text.splitlines()[-1] == "<i>3 more: Crypto 1, Energy 1, Politics 1</i>"


def test_floor_leaves_out_chatter_and_events_below_it(
    newsroom: Newsroom, settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    newsroom.readings |= {FED: Reading(0.7), APPLE: Reading(0.4)}
    newsroom.post(Post(1001, 0, FED), Post(1001, 1, APPLE), Post(1002, 2, CHATTER))
    newsroom.extract()
    # The rules extractor reads the reply as 0: below the default floor.
    assert bullets(preview(settings, db)) == [FED, APPLE]
    floored = with_env(monkeypatch, DIGEST_MIN_IMPORTANCE="0.5")
    assert bullets(preview(floored, db)) == [FED]


def test_an_event_from_three_channels_outranks_one_from_one_channel(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.readings |= {FED: Reading(0.5), OPEC: Reading(0.5)}
    # The single-channel story is the more recent one: corroboration still wins.
    newsroom.post(Post(1001, 0, FED), Post(1002, 1, FED), Post(1003, 2, FED))
    newsroom.post(Post(1001, 30, OPEC))
    newsroom.extract()
    text = preview(settings, db)
    assert bullets(text) == [FED, OPEC]
    assert "(3 sources)" in text
    # 1 - 0.5 * (1 - 0.25) * (1 - 0.25): each further channel closes half its own score.
    assert importance_of(db, settings, FED) == pytest.approx(0.71875, abs=1e-4)


def test_corroboration_has_diminishing_returns(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    for channel_id in range(1004, 1008):
        newsroom.channel(channel_id, f"@channel{channel_id}")
    newsroom.readings |= {FED: Reading(0.5)}
    gains = []
    before = 0.5
    for minute, channel_id in enumerate([1001, 1002, 1003, 1004, 1005, 1006]):
        newsroom.post(Post(channel_id, minute, FED))
        newsroom.extract()
        now = importance_of(db, settings, FED)
        gains.append(now - before)
        before = now
    assert gains[0] == 0.0  # one channel: the extractor's reading
    assert all(later < earlier for earlier, later in itertools.pairwise(gains[1:]))
    assert before < 0.95


def test_channel_weight_from_the_channel_list_changes_the_ranking(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.channel(1004, "@reuters:2")
    newsroom.readings |= {FED: Reading(0.5), OPEC: Reading(0.4)}
    newsroom.post(Post(1001, 0, FED), Post(1004, 1, OPEC))
    newsroom.extract()
    assert bullets(preview(settings, db)) == [OPEC, FED]
    # Weight 2 doubles the odds: 0.4 -> 0.8 / (0.8 + 0.6).
    assert importance_of(db, settings, OPEC) == pytest.approx(0.8 / 1.4, abs=1e-4)


def test_a_weight_taken_out_of_the_channel_list_goes_back_to_one(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.channel(1004, "@reuters:2")
    newsroom.channel(1004, "@reuters")
    [row] = [r for r in RawLog(db, pipeline_version="v1").gap_counts() if r["channel_id"] == 1004]
    assert row["weight"] == 1.0


def test_health_shows_each_channels_weight(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.channel(1004, "@reuters:2.5")
    report = health.check(settings)
    [line] = [line for line in render_text(report).splitlines() if line.startswith("@reuters")]
    header = next(line for line in render_text(report).splitlines() if "WEIGHT" in line)
    weight_at = header.index("WEIGHT")
    assert line[weight_at:].split()[0] == "2.5"
    assert 'civicquant_channel_weight{channel="@reuters"} 2.5' in render_prometheus(report)


def test_views_above_the_channels_median_raise_importance(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    # A week of ordinary posts at about 1,000 views gives the channel its median.
    fillers = [
        Post(1001, -60 * (i + 1), f"Market note {i}: shares of company {i} moved {i}%", 1000)
        for i in range(12)
    ]
    newsroom.post(*fillers)
    newsroom.readings |= {FED: Reading(0.5), OPEC: Reading(0.5)}
    newsroom.post(Post(1001, 0, FED, views=16000), Post(1001, 1, OPEC, views=1000))
    newsroom.extract()
    # 16x the median: the odds double (the cap), 0.5 -> 2/3; the median post keeps 0.5.
    assert importance_of(db, settings, FED) == pytest.approx(2 / 3, abs=1e-3)
    assert importance_of(db, settings, OPEC) == pytest.approx(0.5, abs=1e-3)
    assert bullets(preview(settings, db))[:2] == [FED, OPEC]


def test_importance_is_recomputed_when_a_source_joins(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.readings |= {FED: Reading(0.5), OPEC: Reading(0.6)}
    newsroom.post(Post(1001, 0, FED), Post(1001, 1, OPEC))
    newsroom.extract()
    assert bullets(preview(settings, db)) == [OPEC, FED]
    newsroom.post(Post(1002, 20, FED))
    newsroom.extract()
    # 1 - (1 - 0.5)(1 - 0.5 * 0.5) = 0.625, now above OPEC's 0.6.
    assert importance_of(db, settings, FED) == pytest.approx(0.625, abs=1e-4)
    text = preview(settings, db)
    assert bullets(text) == [FED, OPEC]
    assert "(2 sources)" in text


def test_recency_orders_events_of_equal_importance(
    newsroom: Newsroom, settings: Settings, db: Database
) -> None:
    newsroom.readings |= {FED: Reading(0.5), OPEC: Reading(0.5)}
    newsroom.post(Post(1001, 0, FED), Post(1002, 200, OPEC))
    newsroom.extract()
    assert bullets(preview(settings, db)) == [OPEC, FED]


@pytest.fixture
def publishing(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeBotApi() as bot:
        yield (
            bot,
            with_env(
                monkeypatch,
                TG_BOT_TOKEN=bot_api.TOKEN,
                TG_BOT_API_URL=bot.url,
                TG_VIP_CHAT_ID=CHAT,
                DIGEST_PART_INTERVAL_SECONDS="0",
            ),
        )


def send(settings: Settings, db: Database, queue: str, at: datetime, **options: Any) -> str:
    ctx = JobContext(settings, db, f"digest:{queue}", "r" * 36, threading.Event())
    result = digest_job(ctx, DigestOptions(queue=queue, at=at, **options), make_publisher)
    return result.outcome


def test_a_breaking_queue_does_not_publish_an_event_again_in_a_later_window(
    publishing: Any, db: Database
) -> None:
    bot, settings = publishing
    newsroom = Newsroom(settings, db)
    newsroom.channel(1001, "@wirewatch")
    newsroom.readings |= {FED: Reading(0.8, "1h"), OPEC: Reading(0.8, "1h")}
    newsroom.post(Post(1001, 5, FED))  # 08:10
    newsroom.extract()
    assert send(settings, db, "breaking_1h", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)) == "sent"
    assert bullets(bot.sent_messages[-1].text) == [FED]
    newsroom.post(Post(1001, 35, OPEC))  # 08:40
    newsroom.extract()
    # A 90-minute window of the same queue (07:30-09:00) covers the first one's event too.
    later = datetime(2026, 11, 20, 8, 45, tzinfo=UTC)
    assert send(settings, db, "breaking_1h", later, hours=1.5) == "sent"
    assert bullets(bot.sent_messages[-1].text) == [OPEC]
    # The main digest is not a breaking queue: it shows both.
    assert sorted(bullets(preview(settings, db))) == sorted([FED, OPEC])


def test_a_breaking_queue_does_not_publish_an_event_merged_into_one_it_published(
    publishing: Any, db: Database
) -> None:
    _, settings = publishing
    newsroom = Newsroom(settings, db)
    newsroom.channel(1001, "@wirewatch")
    newsroom.readings |= {FED: Reading(0.8, "1h")}
    newsroom.post(Post(1001, 5, FED))
    newsroom.extract()
    assert send(settings, db, "breaking_1h", datetime(2026, 11, 20, 8, 30, tzinfo=UTC)) == "sent"
    [published] = db.connection.execute("SELECT id FROM events").fetchall()
    # Another event of the story, since merged into one founded earlier.
    db.connection.execute(
        "INSERT INTO events (pipeline_version, topic, headline, first_seen_at, last_seen_at, "
        "importance, is_breaking, breaking_window) "
        "VALUES ('v1', 'macro', %s, %s, %s, 0.8, true, '1h') RETURNING id",
        ("Fed holds steady", T0, T0),
    )
    db.connection.execute(
        "UPDATE events SET merged_into = (SELECT max(id) FROM events) WHERE id = %s",
        (published["id"],),
    )
    later = datetime(2026, 11, 20, 8, 45, tzinfo=UTC)
    assert send(settings, db, "breaking_1h", later, hours=1.5) == "empty"


def test_the_demo_window_is_one_message(settings: Settings, db: Database) -> None:
    samples = Path(civicquant.samples.__file__).parent
    for name, username in [("demo_wirewatch", "wirewatch_demo"), ("demo_marketpulse", None)]:
        ctx = JobContext(settings, db, "backfill", "b" * 36, threading.Event())
        export_job(ctx, samples / f"{name}.json", username=username or "marketpulse_demo")
    ctx = JobContext(settings, db, "extract", "x" * 36, threading.Event())
    provider = ReadingProvider({})  # the rules extractor as the demo runs it
    asyncio.run(Worker(ctx, provider, WorkerOptions("v1", oneshot=True)).run())
    text = preview(settings, db, at=datetime(2026, 11, 20, 10, tzinfo=UTC))
    assert text.startswith("----- part 1/1 ")
    assert 10 <= len(bullets(text)) <= 15
    last_line = text.splitlines()[-1]
    assert last_line.startswith("<i>")
    assert " more: " in last_line
    assert "(2 sources)" in text
