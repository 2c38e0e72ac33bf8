"""Fenced leases: a holder that lost its lease stops before its next side effect.

Real PostgreSQL; the heartbeat's connection goes through a TCP proxy that is cut, as when
the holder's link to the database goes down while its job's connection still works.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.publish import ledger
from civicquant.publish.publisher import DryRunPublisher, SentMessage
from civicquant.runtime import leases
from tests.helpers.tcp_proxy import TcpProxy

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def take_over(db: Database, name: str, by: str) -> leases.Lease:
    """Another process takes the lease once it has expired (expired here at once)."""
    db.connection.execute("UPDATE leases SET expires_at = now() WHERE name = %s", (name,))
    taken = leases.acquire(db, name, by, 60)
    assert taken is not None
    return taken


def fence_of(db: Database, name: str, holder: str) -> leases.Fence:
    held = leases.acquire(db, name, holder, 60)
    assert held is not None
    return leases.Fence(name, holder, held.generation, 60)


def test_every_taking_of_a_lease_gets_a_new_generation(db: Database) -> None:
    first = leases.acquire(db, "digest:vip", "a", 60)
    again = leases.acquire(db, "digest:vip", "a", 60)  # the same holder renewing by acquire
    assert first is not None
    assert again is not None
    assert again.generation == first.generation
    leases.release(db, "digest:vip", "a")
    later = leases.acquire(db, "digest:vip", "a", 60)  # released and taken again
    assert later is not None
    assert later.generation > first.generation
    assert take_over(db, "digest:vip", "b").generation > later.generation


def test_a_fence_holds_while_the_lease_is_ours_and_fails_once_taken_over(db: Database) -> None:
    fence = fence_of(db, "listen", "host-a:1:aaaa")
    with db.transaction():
        fence.check(db)
    take_over(db, "listen", "host-b:2:bbbb")
    with pytest.raises(leases.LeaseLost, match="stopped before its next side effect"):
        fence.check(db)


def test_an_expired_lease_fences_even_before_anyone_takes_it(db: Database) -> None:
    fence = fence_of(db, "listen", "host-a:1:aaaa")
    db.connection.execute("UPDATE leases SET expires_at = now() WHERE name = 'listen'")
    with pytest.raises(leases.LeaseLost):
        fence.check(db)


def test_a_listener_that_lost_its_lease_stores_nothing(db: Database) -> None:
    fence = fence_of(db, "listen", "host-a:1:aaaa")
    rawlog = RawLog(db, pipeline_version="v1", fence=fence)
    rawlog.save_channel(Channel(1001, "wirewatch"))
    rawlog.store(1001, [RawPost(1001, 1, T0, text="first")], "live")
    take_over(db, "listen", "host-b:2:bbbb")
    with pytest.raises(leases.LeaseLost):
        rawlog.store(1001, [RawPost(1001, 2, T0, text="second")], "live")
    stored = db.connection.execute("SELECT message_id FROM raw_messages").fetchall()
    assert [row["message_id"] for row in stored] == [1]


class TakeOverAfterFirstPart(DryRunPublisher):
    """Records parts; after the first, a standby takes the lease (as after a partition)."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self._db = db

    async def send(self, chat_id: str, html: str) -> SentMessage:
        sent = await super().send(chat_id, html)
        if len(self.sent) == 1:
            take_over(self._db, "digest:vip", "standby:9:ffff")
        return sent


def test_a_digest_that_lost_its_lease_sends_no_further_part(db: Database) -> None:
    fence = fence_of(db, "digest:vip", "host-a:1:aaaa")
    publisher = TakeOverAfterFirstPart(db)
    item = ledger.Item("vip", "-100123", T0, T0)
    with pytest.raises(leases.LeaseLost):
        asyncio.run(
            ledger.publish_once(
                db, publisher, item, ["part one", "part two"], holder="run-a", fence=fence
            )
        )
    assert [draft.html for draft in publisher.sent] == ["part one"]
    row = db.connection.execute("SELECT status, message_ids FROM published_posts").fetchone()
    assert row is not None
    assert (row["status"], len(row["message_ids"])) == ("reserved", 1)


def _partitioned_heartbeat(database_url: str, ttl: float) -> tuple[TcpProxy, Database]:
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    proxy = TcpProxy(str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432))
    proxy.__enter__()
    through = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=proxy.port)
    return proxy, Database.connect(through, application_name="heartbeat", connect_timeout=2)


def test_a_heartbeat_cut_off_from_the_database_stops_its_job_within_the_ttl(
    database_url: str, db: Database
) -> None:
    ttl = 1.5
    assert leases.acquire(db, "listen", "host-a:1:aaaa", ttl) is not None
    proxy, heartbeat_db = _partitioned_heartbeat(database_url, ttl)
    stop = threading.Event()
    heartbeat = leases.Heartbeat(heartbeat_db, "listen", "host-a:1:aaaa", ttl, on_lost=stop)
    heartbeat.start()
    try:
        time.sleep(ttl)  # renewals go through: still ours
        assert not stop.is_set()
        proxy.cut()
        # Renewals now fail; the job is told to stop once a TTL has passed without one.
        assert stop.wait(timeout=ttl * 4)
        assert heartbeat.lost
    finally:
        heartbeat.stop()
        proxy.cut()
