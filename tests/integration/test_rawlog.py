"""RawLog.store on a real PostgreSQL: a batch stores what posts stored one at a time store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, Media, RawPost
from civicquant.ingest.rawlog import RawLog

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WIRE = Channel(1001, "wirewatch")
BATCH = 60


def post(message_id: int, text: str | None = None) -> RawPost:
    return RawPost(
        1001,
        message_id,
        T0 + timedelta(minutes=message_id),
        text=f"post {message_id}\twith a tab, a \\ and a\nnew line" if text is None else text,
        entities=[{"type": "bold", "offset": 0, "length": 4}],
        media=Media("photo", "a.jpg", size=3) if message_id % 2 else None,
        views=message_id * 10,
        author="Desk",
    )


def stored(db: Database) -> list[dict[str, Any]]:
    return db.connection.execute(
        "SELECT m.message_id, m.text, m.entities, m.media, m.views, m.author, m.content_sha256,"
        " j.id IS NOT NULL AS has_job FROM raw_messages m"
        " LEFT JOIN extraction_jobs j ON j.raw_message_id = m.id ORDER BY m.message_id"
    ).fetchall()


@pytest.fixture
def rawlog(db: Database) -> RawLog:
    log = RawLog(db, pipeline_version="v1")
    log.save_channel(WIRE)
    return log


def test_a_big_batch_stores_exactly_what_one_post_at_a_time_stores(
    rawlog: RawLog, db: Database
) -> None:
    posts = [post(n) for n in range(1, BATCH * 2 + 1)] + [post(999, text="")]

    result = rawlog.store(1001, posts, "export")
    by_copy = stored(db)
    db.connection.execute("TRUNCATE raw_messages, extraction_jobs CASCADE")
    for one in posts:
        rawlog.store(1001, [one], "export")

    assert (result.inserted, result.enqueued) == (len(posts), len(posts) - 1)
    assert by_copy == stored(db)
    assert by_copy[0]["text"] == "post 1\twith a tab, a \\ and a\nnew line"
    assert by_copy[0]["content_sha256"] == posts[0].content_hash()
    assert [row["has_job"] for row in by_copy] == [True] * (len(posts) - 1) + [False]


def test_a_big_batch_with_some_posts_stored_inserts_only_the_others(
    rawlog: RawLog, db: Database
) -> None:
    rawlog.store(1001, [post(n) for n in range(1, 11)], "live")

    result = rawlog.store(1001, [post(n) for n in range(1, BATCH + 11)], "export")

    assert (result.inserted, result.unchanged) == (BATCH, 10)
    assert [row["message_id"] for row in stored(db)] == list(range(1, BATCH + 11))


def test_a_batch_of_new_edited_and_unchanged_posts_moves_the_mark_and_queues_new_and_edited(
    rawlog: RawLog, db: Database
) -> None:
    rawlog.store(1001, [post(1), post(2)], "live", advance_mark=False)
    db.connection.execute("UPDATE extraction_jobs SET status = 'ok'")

    result = rawlog.store(1001, [post(3), post(2, text="post 2, corrected"), post(1)], "backfill")

    assert (result.inserted, result.revised, result.unchanged, result.enqueued) == (1, 1, 1, 2)
    pending = db.connection.execute(
        "SELECT m.message_id FROM extraction_jobs j JOIN raw_messages m ON m.id = j.raw_message_id"
        " WHERE j.status = 'pending' ORDER BY 1"
    ).fetchall()
    assert [row["message_id"] for row in pending] == [2, 3]
    current = db.connection.execute(
        "SELECT text FROM raw_messages_current WHERE message_id = 2"
    ).fetchone()
    assert current == {"text": "post 2, corrected"}
    state = rawlog.channel_state(1001)
    assert state is not None
    assert state.last_message_id == 3


def test_without_the_queue_posts_are_stored_with_no_job(db: Database) -> None:
    rawlog = RawLog(db, pipeline_version="v1", enqueue=False)
    rawlog.save_channel(WIRE)

    result = rawlog.store(1001, [post(1), post(2)], "live")

    assert (result.inserted, result.enqueued) == (2, 0)
    assert [row["has_job"] for row in stored(db)] == [False, False]
    state = rawlog.channel_state(1001)
    assert state is not None
    assert state.last_message_id == 2


def test_an_older_copy_read_after_an_edit_never_becomes_the_current_text(
    rawlog: RawLog, db: Database
) -> None:
    # A catch-up or recheck page read before a live edit arrived, stored after it.
    from dataclasses import replace

    original = post(5, text="Blast reported near the port")
    first_edit = replace(
        original, text="Blast near the port: 3 hurt", edit_date=T0 + timedelta(hours=1)
    )
    second_edit = replace(
        original, text="Blast near the port: 3 hurt, 1 dead", edit_date=T0 + timedelta(hours=2)
    )
    rawlog.store(1001, [original], "live")
    rawlog.store(1001, [second_edit], "live", advance_mark=False)

    stale = rawlog.store(1001, [original], "backfill", advance_mark=False)
    staler = rawlog.store(1001, [first_edit], "backfill", advance_mark=False)

    assert (stale.revised, staler.revised) == (0, 0)
    current = db.connection.execute(
        "SELECT text FROM raw_messages_current WHERE message_id = 5"
    ).fetchone()
    assert current == {"text": "Blast near the port: 3 hurt, 1 dead"}
    newer = replace(original, text="Port blast: 2 dead", edit_date=T0 + timedelta(hours=3))
    assert rawlog.store(1001, [newer], "live", advance_mark=False).revised == 1
