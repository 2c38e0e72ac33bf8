"""Routes end to end on PostgreSQL: each route's filters, chat, ledger and health job."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicquant import outbox
from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.errors import UsageError
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.ops import health
from civicquant.publish.digest import DigestOptions, digest_job
from civicquant.publish.flash import FlashOptions, flash_drain_job
from civicquant.runtime.context import JobContext
from civicquant.wiring import make_publisher
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.providers import ScriptedProvider

ENERGY_CHAT = "-1002000000001"
CRYPTO_CHAT = "-1002000000002"
AT = datetime(2026, 11, 20, 9, 20, tzinfo=UTC)  # energy: 09:00-10:00, crypto: 09:00-09:30
T0 = datetime(2026, 11, 20, 9, 5, tzinfo=UTC)
ROUTES = f"""
[[route]]
name = "energy_desk"
kind = "digest"
every = "1h"
chat_id = {ENERGY_CHAT}
title = "Energy desk"
topics = ["energy"]

[[route]]
name = "crypto_desk"
kind = "digest"
every = "30m"
chat_id = "{CRYPTO_CHAT}"
title = "Crypto desk"
channels = ["@marketpulse"]
keywords = ["BITCOIN"]

[[route]]
name = "energy_flash"
kind = "flash"
chat_id = {ENERGY_CHAT}
topics = ["energy"]
min_importance = 0.3
"""
# (channel, text): what each route should and should not get.
POSTS = [
    ("wirewatch", "Brent crude jumps 4% to $79 after OPEC+ extends output cuts into 2027"),
    ("wirewatch", "Federal Reserve holds interest rates steady at 5.25%, Powell signals patience"),
    ("marketpulse", "Bitcoin falls 6% as exchange Northbridge halts withdrawals after a breach"),
    (
        "wirewatch",
        "Bitcoin miners in Texas switch off rigs as the power grid strains in a heatwave",
    ),
    ("marketpulse", "Ether slides 3% as traders wait for the Dencun upgrade date"),
]
CHANNEL_IDS = {"wirewatch": 1001, "marketpulse": 1002}


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


@pytest.fixture
def routed(
    settings: Settings, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    (tmp_path / "routes.toml").write_text(ROUTES)
    monkeypatch.setenv("CIVICQUANT_ROUTES", str(tmp_path / "routes.toml"))
    monkeypatch.setenv("TG_BOT_TOKEN", bot_api.TOKEN)
    monkeypatch.setenv("TG_BOT_API_URL", bot.url)
    monkeypatch.setenv("DIGEST_PART_INTERVAL_SECONDS", "0")
    return load_settings()


def seed(settings: Settings, db: Database) -> None:
    rawlog = RawLog(db, pipeline_version="v1")
    for name, channel_id in CHANNEL_IDS.items():
        rawlog.save_channel(Channel(channel_id, name))
    for i, (name, text) in enumerate(POSTS):
        post = RawPost(CHANNEL_IDS[name], i + 1, T0 + timedelta(minutes=i), text=text)
        rawlog.store(CHANNEL_IDS[name], [post], "live")
    ctx = JobContext(settings, db, "extract", "x" * 36, threading.Event())
    asyncio.run(Worker(ctx, ScriptedProvider(), WorkerOptions("v1", oneshot=True)).run())


def publish(settings: Settings, db: Database, route: str) -> str:
    ctx = JobContext(settings, db, f"digest:{route}", "r" * 36, threading.Event())
    return digest_job(ctx, DigestOptions(queue=route, at=AT), make_publisher).outcome


def ledger(db: Database) -> list[tuple[str, str, datetime, str]]:
    rows = db.connection.execute(
        "SELECT queue, chat_id, window_start, status FROM published_posts ORDER BY id"
    ).fetchall()
    return [(r["queue"], r["chat_id"], r["window_start"], r["status"]) for r in rows]


def test_two_routes_publish_their_own_events_to_their_own_chats_once_each(
    routed: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed(routed, db)
    first = [publish(routed, db, "energy_desk"), publish(routed, db, "crypto_desk")]
    second = [publish(routed, db, "energy_desk"), publish(routed, db, "crypto_desk")]
    assert (first, second) == (["sent", "sent"], ["already_sent", "already_sent"])

    by_chat = {message.chat_id: message.text for message in bot.sent_messages}
    assert len(bot.sent_messages) == 2
    assert "Energy desk" in by_chat[ENERGY_CHAT]
    assert "Brent crude" in by_chat[ENERGY_CHAT]
    for elsewhere in ("Federal Reserve", "Bitcoin", "Ether"):
        assert elsewhere not in by_chat[ENERGY_CHAT]
    # crypto_desk: Bitcoin (any case) from @marketpulse only; not Ether, not wirewatch's.
    assert "Crypto desk" in by_chat[CRYPTO_CHAT]
    assert "Northbridge" in by_chat[CRYPTO_CHAT]
    for elsewhere in ("Texas", "Ether", "Brent"):
        assert elsewhere not in by_chat[CRYPTO_CHAT]
    assert ledger(db) == [
        ("energy_desk", ENERGY_CHAT, datetime(2026, 11, 20, 9, tzinfo=UTC), "sent"),
        ("crypto_desk", CRYPTO_CHAT, datetime(2026, 11, 20, 9, tzinfo=UTC), "sent"),
    ]


def test_a_flash_route_has_no_digest_windows(routed: Settings, db: Database) -> None:
    with pytest.raises(UsageError, match="'energy_flash' is a flash route: it has no digest"):
        publish(routed, db, "energy_flash")
    with pytest.raises(UsageError, match=r"no route named 'vip' \(known: energy_desk, "):
        publish(routed, db, "vip")


def test_flash_routes_alert_their_chat_once_per_event_through_their_filters(
    routed: Settings, db: Database, bot: FakeBotApi
) -> None:
    seed(routed, db)
    db.connection.execute("UPDATE events SET is_breaking = true, importance = 0.5")
    event_ids = [r["id"] for r in db.connection.execute("SELECT id FROM events").fetchall()]
    assert sorted(outbox.queue_breaking(db, event_ids)) == sorted(event_ids)

    for _ in range(2):
        ctx = JobContext(routed, db, "digest:energy_flash", "h" * 36, threading.Event())
        flash_drain_job(ctx, FlashOptions("energy_flash"), make_publisher)
    [alert] = bot.sent_messages
    assert alert.chat_id == ENERGY_CHAT
    assert "Brent crude" in alert.text
    assert [(queue, status) for queue, _, _, status in ledger(db)] == [("energy_flash", "sent")]


def test_health_monitors_each_route_at_its_cadence_and_flash_drains_every_minute(
    routed: Settings,
) -> None:
    jobs = {job.job: job for job in health.check(routed).jobs}
    assert jobs["digest:energy_desk"].expected_minutes == 60
    assert jobs["digest:crypto_desk"].expected_minutes == 30
    assert jobs["digest:energy_flash"].expected_minutes == 1
    assert "digest:vip" not in jobs


def test_health_reports_a_bad_routes_file_as_down_naming_route_and_field(
    routed: Settings, tmp_path: Path
) -> None:
    (tmp_path / "routes.toml").write_text(ROUTES.replace('every = "30m"', 'every = "often"'))
    report = health.check(routed)
    [check] = [c for c in report.checks if c.name == "routes"]
    assert check.state == "down"
    assert "route 'crypto_desk': every: must be a cadence" in check.detail
    assert report.exit_code == 2
