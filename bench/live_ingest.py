"""`live_ingest`: latency of storing one live post (RawLog.store, committed), p50 and p95.

~2,000 posts are stored one per call, as `listen` stores a post the moment it arrives: the
insert, its extraction job with NOTIFY, and the high-water mark, in one transaction. The
reference, interleaved call by call on the same connection, is one single-row INSERT in
its own transaction (autocommit): one round trip plus one commit.
"""

from __future__ import annotations

import statistics
import time

from bench import corpus, seed
from bench.context import Context
from bench.pg import scratch_database
from bench.results import Row, fmt, verdict
from civicquant.db import Database
from civicquant.ingest.posts import Channel
from civicquant.ingest.rawlog import RawLog

TARGET_P50_MS = 20.0


def run(ctx: Context) -> list[Row]:
    count = ctx.size(2_000, 300)
    posts = list(corpus.posts(seed.CHANNEL_ID, count, seed=7))
    stored: list[float] = []
    inserted: list[float] = []
    with (
        scratch_database(ctx.server, "live_ingest") as url,
        Database.connect(url, application_name="civicquant bench live") as db,
    ):
        rawlog = RawLog(db, pipeline_version=seed.PIPELINE_VERSION)
        rawlog.save_channel(Channel(seed.CHANNEL_ID, "bench_wire", "Bench Wire"))
        conn = db.connection
        conn.execute("CREATE TABLE bench_ping (id bigserial PRIMARY KEY, n integer NOT NULL)")
        for n, post in enumerate(posts):
            started = time.perf_counter()
            rawlog.store(seed.CHANNEL_ID, [post], "live")
            stored.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            conn.execute("INSERT INTO bench_ping (n) VALUES (%s)", (n,))
            inserted.append((time.perf_counter() - started) * 1000)
    rows = []
    for label, quantile in (("p50", 50), ("p95", 95)):
        measured, reference = _percentile(stored, quantile), _percentile(inserted, quantile)
        gated = quantile == 50
        rows.append(
            Row(
                name=f"live_ingest {label}: one post per RawLog.store ({count:,} posts)",
                measured=measured,
                unit="ms",
                reference=f"INSERT+COMMIT {label} {fmt(reference, 'ms')}",
                ratio=measured / reference,
                target=f"< {TARGET_P50_MS:.0f} ms" if gated else "",
                verdict=verdict(measured < TARGET_P50_MS) if gated else "report",
            )
        )
    return rows


def _percentile(samples: list[float], quantile: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[quantile - 1]
