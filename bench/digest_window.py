"""`digest`: query + render of one 4 h window, with 1,000,000 events in the table vs 100,000.

The window holds the same 400 events (with their sources) both times; the rest of the
`events` table is spread over the year around it. The cost should follow the window, not
the table (events are found through `events (pipeline_version, first_seen_at)`).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

from bench.context import Context
from bench.pg import scratch_database
from bench.results import Row, verdict
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.publish.digest import Window, window_events
from civicquant.publish.render import render_digest

TARGET_RATIO = 1.2
WINDOW = Window(datetime(2026, 6, 1, 8, tzinfo=UTC), datetime(2026, 6, 1, 12, tzinfo=UTC))
IN_WINDOW = 400

_BACKGROUND = """
INSERT INTO events (pipeline_version, topic, headline, importance, is_breaking,
                    first_seen_at, last_seen_at, source_count)
SELECT 'v1', (ARRAY['markets','macro','energy','crypto','politics','companies'])[1 + g %% 6],
       'Background story ' || g, (g %% 97) / 100.0, g %% 11 = 0, t, t, 1
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g,
     LATERAL (SELECT timestamptz '2026-01-01' + (g * 7919 %% 31536000) * interval '1 second'
              AS t) AS at
WHERE NOT (t >= %(start)s AND t < %(end)s)
"""


def run(ctx: Context) -> list[Row]:
    small, large = ctx.size(100_000, 20_000), ctx.size(1_000_000, 200_000)
    with scratch_database(ctx.server, "digest") as url, Database.connect(url) as db:
        _seed_window(db)
        _add_background(db, 1, small)
        base = _time_window(db)
        _add_background(db, small + 1, large)
        big = _time_window(db)
    ratio = big / base
    return [
        Row(
            name=f"digest 4 h window ({IN_WINDOW} events), {large:,} vs {small:,} events in table",
            measured=big * 1000,
            unit="ms",
            reference=f"the same window over {small:,} events: {base * 1000:.1f} ms",
            ratio=ratio,
            target=f"ratio <= {TARGET_RATIO}",
            verdict=verdict(ratio <= TARGET_RATIO),
        )
    ]


def _seed_window(db: Database) -> None:
    conn = db.connection
    conn.execute("INSERT INTO channels (channel_id, username) VALUES (1001, 'bench_wire')")
    conn.execute(
        """
        WITH posts AS (
            INSERT INTO raw_messages (channel_id, message_id, text, posted_at,
                                      content_sha256, source)
            SELECT 1001, g, 'Window story ' || g, %(start)s::timestamptz + g * interval '30 s',
                   'x', 'live'
            FROM generate_series(1, %(n)s) AS g
            RETURNING id, message_id, posted_at
        ), made AS (
            INSERT INTO events (pipeline_version, topic, headline, importance, first_seen_at,
                                last_seen_at, source_count)
            SELECT 'v1', (ARRAY['markets','macro','energy','crypto'])[1 + message_id %% 4],
                   'Window story ' || message_id || ' with a headline of ordinary length',
                   (message_id %% 100) / 100.0, posted_at, posted_at, 1
            FROM posts ORDER BY message_id
            RETURNING id, first_seen_at
        )
        INSERT INTO event_sources (raw_message_id, pipeline_version, event_id, channel_id,
                                   message_id, posted_at, fingerprint, signature, bands)
        SELECT p.id, 'v1', m.id, 1001, p.message_id, p.posted_at, 'f', '{}', '{}'
        FROM posts p JOIN made m ON m.first_seen_at = p.posted_at
        """,
        {"start": WINDOW.start, "n": IN_WINDOW},
    )


def _add_background(db: Database, first: int, last: int) -> None:
    db.connection.execute(
        _BACKGROUND,
        {"first": first, "last": last, "start": WINDOW.start, "end": WINDOW.end},
    )
    db.connection.execute("ANALYZE events")


def _time_window(db: Database, repeats: int = 7) -> float:
    settings = Settings()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        events = window_events(db, settings, "vip", WINDOW, "v1", None)
        render_digest(events, title="Digest", window_start=WINDOW.start, window_end=WINDOW.end)
        samples.append(time.perf_counter() - started)
        assert len(events) == IN_WINDOW, len(events)
    return statistics.median(samples[1:])
