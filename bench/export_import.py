"""`export_import`: `civicquant backfill --from-export` rows/s and peak RSS, vs COPY of its rows.

The export (200,000 posts; --quick 20,000) comes from bench.gen_export and is cached under
bench/out/. The import runs as cron would run it, with EXTRACTION_QUEUE_ENABLED=0 and with 1,
three trials each (`TRIALS`), each into a fresh scratch database; the trial with the median
ratio is the figure and the spread is in its note. The reference, measured right after each
import in the same database, is COPY (binary), from a stream built beforehand, of the very rows the
import stored into a twin of `raw_messages` (the same indexes, keys, checks and foreign key):
the machine's limit for storing these rows where civicquant stores them. COPY into a bare
table of the same columns (no index, constraint or trigger) is reported beside it.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import gen_export, processes
from bench.context import OUT, Context
from bench.pg import scratch_database
from bench.results import Row, fmt, verdict

TARGET_RATIO = 0.5
# Each mode is imported this many times, each trial next to its own COPY; the median ratio is
# the figure. On a shared 2-core machine one trial's ratio moved by +-20% from run to run.
TRIALS = 3
RSS_LIMIT_MB = 300
COLUMNS = (
    "channel_id, message_id, text, entities, media, views, forwards, reply_to, grouped_id,"
    " forwarded_from, author, posted_at, edit_date, content_sha256, source"
)


@dataclass(frozen=True, slots=True)
class Trial:
    """One import into a fresh database, and COPY of its rows measured right after it."""

    stored: int
    jobs: int
    seconds: float
    peak_rss_bytes: int
    rss_exact: bool
    bare_rate: float
    twin_rate: float

    @property
    def rate(self) -> float:
        return self.stored / self.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.twin_rate


def run(ctx: Context) -> list[Row]:
    posts = ctx.size(200_000, 20_000)
    trials = ctx.size(TRIALS, 1)
    export = cached_export(posts)
    rows: list[Row] = []
    for queue_enabled in (False, True):
        done = sorted(
            (_trial(ctx, export, queue_enabled) for _ in range(trials)), key=lambda t: t.ratio
        )
        shown = done[len(done) // 2]  # the median ratio; its own import and COPY beside it
        label = f"export_import queue {'on' if queue_enabled else 'off'}"
        peak = max(done, key=lambda t: t.peak_rss_bytes)
        rss_mb = peak.peak_rss_bytes / 1e6
        rows += [
            Row(
                name=f"{label}: {shown.stored:,} posts",
                measured=shown.rate,
                unit="rows/s",
                reference=f"COPY into raw_messages' twin {fmt(shown.twin_rate, 'rows/s')}",
                ratio=shown.ratio,
                target=f">= {TARGET_RATIO}x",
                verdict=verdict(shown.ratio >= TARGET_RATIO),
                note=f"{shown.seconds:.1f} s wall, {shown.jobs:,} jobs enqueued{_spread(done)}",
            ),
            Row(
                name=f"{label}: {shown.stored:,} posts, vs a bare table",
                measured=shown.rate,
                unit="rows/s",
                reference=f"COPY into a bare table {fmt(shown.bare_rate, 'rows/s')}",
                ratio=shown.rate / shown.bare_rate,
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
                note="" if peak.rss_exact else "upper bound from wait4 (no /usr/bin/time)",
            ),
        ]
    return rows


def _spread(trials: list[Trial]) -> str:
    """The range of the trials' ratios and of both their rates, for the figure's note."""
    if len(trials) < 2:
        return ""
    imports = [t.rate for t in trials]
    copies = [t.twin_rate for t in trials]
    return (
        f"; over {len(trials)} trials {min(t.ratio for t in trials):.2f}x to"
        f" {max(t.ratio for t in trials):.2f}x (import {fmt(min(imports), 'rows/s')} to"
        f" {fmt(max(imports), 'rows/s')}, COPY into the twin {fmt(min(copies), 'rows/s')} to"
        f" {fmt(max(copies), 'rows/s')})"
    )


def _trial(ctx: Context, export: Path, queue_enabled: bool) -> Trial:
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
    return Trial(
        stored=stored,
        jobs=jobs,
        seconds=finished.seconds,
        peak_rss_bytes=finished.peak_rss_bytes,
        rss_exact=finished.rss_exact,
        bare_rate=bare_rate,
        twin_rate=twin_rate,
    )


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
    with (
        psycopg.connect(url, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CHECKPOINT")


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
