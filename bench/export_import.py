"""`export_import`: `civicquant backfill --from-export` rows/s and peak RSS, vs COPY of its rows.

The export (200,000 posts; --quick 20,000) comes from bench.gen_export and is cached under
bench/out/. The import runs as cron would run it, once with EXTRACTION_QUEUE_ENABLED=0 and
once with 1, each into a fresh scratch database. The reference, measured right after in
the same database, is COPY (binary), from a stream built beforehand, of the very rows the
import stored into a twin of `raw_messages` (the same indexes, keys, checks and foreign key):
the machine's limit for storing these rows where civicquant stores them. COPY into a bare
table of the same columns (no index, constraint or trigger) is reported beside it.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

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
            checkpoint(url)
            finished = processes.run(args, env, ctx.workdir).check("civicquant backfill")
            stored = _count(url, "raw_messages")
            jobs = _count(url, "extraction_jobs")
            bare_rate, twin_rate = _copy_rates(url)
        rate = stored / finished.seconds
        label = f"export_import queue {'on' if queue_enabled else 'off'}"
        rss_mb = finished.peak_rss_bytes / 1e6
        rows += [
            Row(
                name=f"{label}: {stored:,} posts",
                measured=rate,
                unit="rows/s",
                reference=f"COPY into raw_messages' twin {fmt(twin_rate, 'rows/s')}",
                ratio=rate / twin_rate,
                target=f">= {TARGET_RATIO}x",
                verdict=verdict(rate / twin_rate >= TARGET_RATIO),
                note=f"{finished.seconds:.1f} s wall, {jobs:,} jobs enqueued",
            ),
            Row(
                name=f"{label}: {stored:,} posts, vs a bare table",
                measured=rate,
                unit="rows/s",
                reference=f"COPY into a bare table {fmt(bare_rate, 'rows/s')}",
                ratio=rate / bare_rate,
                target="",
                verdict="report",
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


def checkpoint(url: str) -> None:
    """Start a timed phase from a clean checkpoint, so it pays for its own WAL only.

    PostgreSQL checkpoints every `max_wal_size` of WAL; without this, whether a phase pays
    for the previous phase's dirty pages depends on where that phase left the WAL (COPY into
    the twin measured 65,000 to 97,000 rows/s on one machine). Skipped where not allowed.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # a constant name
    return int(row[0]) if row else 0


def _copy_rates(url: str) -> tuple[float, float]:
    """Rows/s of COPY FROM (binary) of the stored rows: into a bare table, and into a twin.

    The bare table has the columns only (no index, constraint or trigger); the twin is
    `raw_messages` itself over again (its indexes, unique key, checks and foreign key), so
    COPY into it is the machine's limit for storing these rows where civicquant stores them.
    """
    stream = io.BytesIO()
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor() as cur:
            dump = (
                f"COPY (SELECT {COLUMNS} FROM raw_messages ORDER BY id) TO STDOUT (FORMAT binary)"
            )
            with cur.copy(dump) as copy:
                for chunk in copy:
                    stream.write(chunk)
        conn.execute(f"CREATE TABLE bench_bare AS SELECT {COLUMNS} FROM raw_messages WITH NO DATA")
        conn.execute("CREATE TABLE bench_twin (LIKE raw_messages INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE bench_twin ADD FOREIGN KEY (channel_id) REFERENCES channels (channel_id)"
        )
        data = stream.getvalue()
        checkpoint(url)
        bare = _copy_into(conn, "bench_bare", data)
        checkpoint(url)
        twin = _copy_into(conn, "bench_twin", data)
    return bare, twin


def _copy_into(conn: psycopg.Connection[Any], table: str, data: bytes) -> float:
    with conn.cursor() as cur:
        started = time.perf_counter()
        # A constant table name: the benchmark's own.
        with cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        seconds = time.perf_counter() - started
        return cur.rowcount / seconds
