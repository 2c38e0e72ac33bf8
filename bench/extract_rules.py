"""`extract_rules`: posts/s of `civicquant extract --oneshot` with the rules extractor.

100,000 varied wire-style posts (--quick 10,000) are stored and enqueued through RawLog;
then one `extract --oneshot` process works the queue empty, and, on an identical copy of
the seeded database, two processes in parallel. Timed from start to the last exit, as cron
sees it. No in-run reference: the figure is held against 1,000 posts/s on 2 cores.
"""

from __future__ import annotations

import time

import psycopg

from bench import processes, seed
from bench.context import Context
from bench.pg import scratch_copy, scratch_database
from bench.results import Row, fmt, verdict

TARGET_POSTS_PER_SECOND = 1_000.0


def run(ctx: Context) -> list[Row]:
    posts = ctx.size(100_000, 10_000)
    rows: list[Row] = []
    with scratch_database(ctx.server, "extract_rules") as url:
        jobs = seed.store_posts(url, posts)
        with scratch_copy(ctx.server, url, "extract_rules2") as copy_url:
            for workers, db_url in ((1, url), (2, copy_url)):
                rows.append(_measure(ctx, db_url, workers, jobs))
    return rows


def _measure(ctx: Context, url: str, workers: int, jobs: int) -> Row:
    env = processes.child_env(url, ctx.workdir / "home")
    args = [processes.civicquant(), "extract", "--oneshot"]
    started = time.perf_counter()
    children = [processes.Child(args, env, ctx.workdir) for _ in range(workers)]
    finished = [child.finish().check("civicquant extract") for child in children]
    seconds = time.perf_counter() - started  # the last child's exit: finish() waits in turn
    done = ok_jobs(url)
    if done != jobs:
        raise RuntimeError(f"extract left work: {done} of {jobs} jobs ok")
    rate = done / seconds
    gated = workers == 2
    peak = max(f.peak_rss_bytes for f in finished) / 1e6
    return Row(
        name=f"extract_rules {workers} process(es): {jobs:,} posts",
        measured=rate,
        unit="posts/s",
        reference="",
        ratio=None,
        target=f">= {fmt(TARGET_POSTS_PER_SECOND, 'posts/s')} on 2 cores" if gated else "",
        verdict=verdict(rate >= TARGET_POSTS_PER_SECOND) if gated else "report",
        note=f"{seconds:.1f} s wall, peak RSS {peak:.0f} MB per process",
    )


def ok_jobs(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM extraction_jobs WHERE status = 'ok'").fetchone()
    return int(row[0]) if row else 0
