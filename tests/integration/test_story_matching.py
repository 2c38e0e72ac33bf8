"""Story matching through the extract worker on a real PostgreSQL: paraphrases, guards, merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from civicquant import queue
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.integration.test_extract import q, two_workers_at_once, work

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CHANNELS = [Channel(2000 + n, f"channel{n}") for n in range(1, 6)]


def store(db: Database, posts: list[RawPost], version: str = "v1") -> None:
    rawlog = RawLog(db, pipeline_version=version)
    for channel in CHANNELS:
        rawlog.save_channel(channel)
    for post in posts:
        rawlog.store(post.channel_id, [post], "live")


def post(channel: int, message_id: int, minutes: float, text: str) -> RawPost:
    return RawPost(2000 + channel, message_id, T0 + timedelta(minutes=minutes), text=text)


def events_of(db: Database) -> dict[tuple[int, int], int]:
    rows = q(db, "SELECT channel_id, message_id, event_id FROM event_sources")
    return {(r["channel_id"] - 2000, r["message_id"]): r["event_id"] for r in rows}


def test_paraphrase_from_another_channel_joins_the_story(settings: Settings, db: Database) -> None:
    store(
        db,
        [
            post(1, 1, 0, "Fed holds rates at 5.25%-5.5%, as markets expected"),
            post(2, 1, 12, "Federal Reserve keeps rates unchanged at 5.25-5.5%"),
        ],
    )
    work(settings, db)
    found = events_of(db)
    assert found[(1, 1)] == found[(2, 1)]
    assert q(db, "SELECT source_count FROM events") == [{"source_count": 2}]


def test_contradicting_figures_stay_two_events(settings: Settings, db: Database) -> None:
    store(
        db,
        [
            post(1, 1, 0, "Brent crude rises 2% to $85 a barrel after OPEC+ meeting"),
            post(2, 1, 5, "Brent crude falls 5% to $80 a barrel after OPEC+ meeting"),
        ],
    )
    work(settings, db)
    found = events_of(db)
    assert found[(1, 1)] != found[(2, 1)]


def test_russian_inflected_pair_is_one_event(settings: Settings, db: Database) -> None:
    store(
        db,
        [
            post(1, 1, 0, "Банк России повысил ключевую ставку до 21% годовых"),
            post(2, 1, 20, "Решение Банка России о повышении ключевой ставки до 21%"),
        ],
    )
    work(settings, db)
    found = events_of(db)
    assert found[(1, 1)] == found[(2, 1)]
    assert q(db, "SELECT language FROM events") == [{"language": "ru"}]


def test_a_bridging_post_merges_two_events_of_one_story(settings: Settings, db: Database) -> None:
    store(
        db,
        [
            post(1, 1, 0, "Japan core inflation hits 3.2% in October, highest in a year"),
            post(2, 1, 5, "Tokyo consumer prices: core CPI 3.2% as yen weakness bites"),
        ],
    )
    work(settings, db)
    before = events_of(db)
    assert before[(1, 1)] != before[(2, 1)]  # too little in common, yet
    store(
        db,
        [
            post(
                3,
                1,
                30,
                "Japan core CPI 3.2% in October: consumer prices highest in a year as yen weakness bites",
            )
        ],
    )
    work(settings, db)
    after = events_of(db)
    survivor = min(before[(1, 1)], before[(2, 1)])
    assert after == {(1, 1): survivor, (2, 1): survivor, (3, 1): survivor}
    merged = q(db, "SELECT id, merged_into FROM events WHERE merged_into IS NOT NULL")
    assert merged == [{"id": max(before.values()), "merged_into": survivor}]
    live = q(db, "SELECT id, source_count FROM events WHERE merged_into IS NULL")
    assert live == [{"id": survivor, "source_count": 3}]


def test_merged_event_is_not_published(settings: Settings, db: Database) -> None:
    from civicquant.publish.digest import Window, window_events

    test_a_bridging_post_merges_two_events_of_one_story(settings, db)
    shown = window_events(db, settings, "vip", Window(T0, T0 + timedelta(hours=4)), "v1", None)
    assert len(shown) == 1
    assert shown[0].source_count == 3


def test_event_span_is_bounded(settings: Settings, db: Database) -> None:
    text = "Parliament debates the budget bill for 2027 in a late session"
    # A post every 5 hours for 35 hours: each is near the last, but no event spans > 24 h.
    store(db, [post(n % 5 + 1, n, n * 60 * 5, text) for n in range(8)])
    work(settings, db)
    rows = q(db, "SELECT first_seen_at, last_seen_at FROM events")
    assert len(rows) > 1
    assert all(r["last_seen_at"] - r["first_seen_at"] <= timedelta(hours=24) for r in rows)


HODEIDAH = (
    "Explosion reported at the port of Hodeidah: ships damaged, the port authority suspends "
    "operations, cargo traffic halted while insurers assess losses and shipping rates jump"
)
# Shares a few of the story's terms: below JOIN_SIMILARITY, above FOLLOW_UP_SIMILARITY.
FOLLOW_UP = "Houthi officials say two tankers burning, crews evacuated, firefighters at the Hodeidah terminal"


def test_a_channels_own_update_joins_its_story(settings: Settings, db: Database) -> None:
    store(db, [post(1, 1, 0, HODEIDAH), post(1, 2, 40, "UPDATE: " + FOLLOW_UP)])
    work(settings, db)
    found = events_of(db)
    assert found[(1, 1)] == found[(1, 2)]


def test_another_channels_update_needs_the_full_evidence(settings: Settings, db: Database) -> None:
    store(db, [post(1, 1, 0, HODEIDAH), post(2, 1, 40, "UPDATE: " + FOLLOW_UP)])
    work(settings, db)
    found = events_of(db)
    assert found[(2, 1)] != found[(1, 1)]


def test_most_informative_headline_leads_the_event(settings: Settings, db: Database) -> None:
    store(
        db,
        [
            post(
                1, 1, 0, "Good morning! ECB cuts deposit rate to 3.5% as euro zone inflation eases"
            ),
            post(
                2,
                1,
                5,
                "ECB cuts deposit rate to 3.5% as euro zone inflation eases, Lagarde signals more",
            ),
        ],
    )
    work(settings, db)
    (event,) = q(db, "SELECT headline FROM events WHERE merged_into IS NULL")
    assert event["headline"].startswith("ECB cuts deposit rate")


def test_two_workers_merging_at_once_stay_consistent(
    settings: Settings, db: Database, database_url: str
) -> None:
    texts = [
        "Japan core inflation hits 3.2% in October, highest in a year",
        "Tokyo consumer prices: core CPI 3.2% as yen weakness bites",
        "Japan core CPI 3.2% in October: consumer prices highest in a year as yen weakness bites",
        "Yen weakness lifts Japan core consumer prices to 3.2% in October",
    ]
    store(db, [post(n + 1, 1, n * 3, text) for n, text in enumerate(texts)])
    two_workers_at_once(settings, database_url, max_jobs=2)
    assert queue.counts(db) == {"v1": {"ok": 4}}
    live = q(db, "SELECT id FROM events WHERE merged_into IS NULL")
    sources: list[dict[str, Any]] = q(db, "SELECT event_id FROM event_sources")
    # Every source points at a live event, and every merged event points at a live one.
    assert {s["event_id"] for s in sources} <= {e["id"] for e in live}
    dangling = q(
        db,
        "SELECT e.id FROM events e JOIN events t ON t.id = e.merged_into "
        "WHERE t.merged_into IS NOT NULL",
    )
    assert dangling == []
    assert len(live) == 1


def test_events_merged_before_follow_their_survivor_into_a_later_merge(db: Database) -> None:
    ids = [
        row["id"]
        for row in db.connection.execute(
            "INSERT INTO events (pipeline_version, topic, headline, first_seen_at, last_seen_at) "
            "SELECT 'v1', 'macro', 'h', %s, %s FROM generate_series(1, 3) RETURNING id",
            (T0, T0),
        ).fetchall()
    ]
    oldest, older, younger = ids
    db.execute("merge_events", {"merged_ids": [younger], "survivor_ids": [older]})
    db.execute("merge_events", {"merged_ids": [older], "survivor_ids": [oldest]})
    rows = q(db, "SELECT id, merged_into FROM events ORDER BY id")
    assert rows == [
        {"id": oldest, "merged_into": None},
        {"id": older, "merged_into": oldest},
        {"id": younger, "merged_into": oldest},
    ]
