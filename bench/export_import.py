"""`export_import`: `civicquant backfill --from-export` rows/s and peak RSS, vs a bare COPY.

The export (200,000 posts; --quick 20,000) comes from bench.gen_export and is cached under
bench/out/. The import runs as cron would run it, once with EXTRACTION_QUEUE_ENABLED=0 and
once with 1, each into a fresh scratch database. The reference, measured right after in
the same database, is COPY (binary) of the very rows the import stored into a table of
the same columns with no index, constraint or trigger, from a stream built beforehand:
PostgreSQL's fastest way in, with all the parsing and checking left out.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import psycopg

from bench import gen_export, processes
from bench.context import OUT, Context
from bench.pg import scratch_database
from bench.results import Row, fmt, verdict

TARGET_RATIO = 0.5
RSS_LIMIT_MB = 300
COLUMNS = (
    "channel_id, message_id, text, entities, media, views, forwards, reply_to, grouped_id,"
    " forwarded_from, author, posted_at, edit_date, content_sha256, source"
)


def run(ctx: Context) -> list[Row]:
    posts = ctx.size(200_000, 20_000)
    export = cached_export(posts)
    rows: list[Row] = []
    for queue_enabled in (False, True):
        with scratch_database(ctx.server, "export") as url:
            env = processes.child_env(
                url, ctx.workdir / "home", EXTRACTION_QUEUE_ENABLED=str(int(queue_enabled))
            )
            args = [processes.civicquant(), "backfill", "--from-export", str(export)]
            finished = processes.run(args, env, ctx.workdir).check("civicquant backfill")
            stored = _count(url, "raw_messages")
            jobs = _count(url, "extraction_jobs")
            copy_rate = _copy_rate(url)
        rate = stored / finished.seconds
        label = f"export_import queue {'on' if queue_enabled else 'off'}"
        rss_mb = finished.peak_rss_bytes / 1e6
        rows += [
            Row(
                name=f"{label}: {stored:,} posts",
                measured=rate,
                unit="rows/s",
                reference=f"COPY {fmt(copy_rate, 'rows/s')}",
                ratio=rate / copy_rate,
                target=f">= {TARGET_RATIO}x",
                verdict=verdict(rate / copy_rate >= TARGET_RATIO),
                note=f"{finished.seconds:.1f} s wall, {jobs:,} jobs enqueued",
            ),
            Row(
                name=f"{label}: peak RSS",
                measured=rss_mb,
                unit="MB",
                reference="",
                ratio=None,
                target=f"< {RSS_LIMIT_MB} MB",
                verdict=verdict(rss_mb < RSS_LIMIT_MB),
                note="" if finished.rss_exact else "upper bound from wait4 (no /usr/bin/time)",
            ),
        ]
    return rows


def cached_export(posts: int) -> Path:
    """bench/out/export_N.json, generated once (seed 0) and reused."""
    path = OUT / f"export_{posts}.json"
    if not path.exists():
        partial = path.with_suffix(".partial")
        gen_export.generate(posts, partial)
        partial.rename(path)
    return path


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # a constant name
    return int(row[0]) if row else 0


def _copy_rate(url: str) -> float:
    """Rows/s of COPY FROM (binary) of the stored rows into an unindexed twin table."""
    stream = io.BytesIO()
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            dump = (
                f"COPY (SELECT {COLUMNS} FROM raw_messages ORDER BY id) TO STDOUT (FORMAT binary)"
            )
            with cur.copy(dump) as copy:
                for chunk in copy:
                    stream.write(chunk)
        conn.execute(f"CREATE TABLE bench_copy AS SELECT {COLUMNS} FROM raw_messages WITH NO DATA")
        data = stream.getvalue()
        with conn.cursor() as cur:
            started = time.perf_counter()
            with cur.copy(f"COPY bench_copy ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
                for offset in range(0, len(data), 1 << 20):
                    copy.write(data[offset : offset + (1 << 20)])
            seconds = time.perf_counter() - started
            copied = cur.rowcount
    return copied / seconds
