"""`queue`: jobs/s through claim + complete with K worker processes, vs pgbench UPDATE tps.

K processes (1, 4, 16) each claim, then loop `queue.complete_and_claim` (the jobs just done
are completed and the next ones leased in one statement, so one round trip and one commit
per cycle) until the queue is empty, once with batched claims (limit 50) and once one job at
a time (limit 1). The reference,
measured just before on the same database with the same client count, is pgbench running
a single-row UPDATE by random primary key: the cheapest write transaction PostgreSQL can do.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

import psycopg

from bench.context import Context
from bench.pg import pgbench_tps, scratch_database
from bench.results import Row, fmt, verdict
from civicquant import queue
from civicquant.db import Database

VERSION = "bench"
LEASE_SECONDS = 120.0
WORKER_COUNTS = (1, 4, 16)
TARGETS = {"batched": 1.0, "one-at-a-time": 0.4}  # of pgbench tps, at 16 workers
PGBENCH_SCRIPT = (
    "\\set id random(1, :scale_rows)\nUPDATE bench_rows SET n = n + 1 WHERE id = :id;\n"
)


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    limit: int
    jobs: int


def run(ctx: Context) -> list[Row]:
    modes = (
        Mode("batched", 50, ctx.size(50_000, 5_000)),
        # One statement per job: fewer jobs keep the run short at K = 1.
        Mode("one-at-a-time", 1, ctx.size(10_000, 1_000)),
    )
    seconds = ctx.size(10, 3)
    rows: list[Row] = []
    with scratch_database(ctx.server, "queue") as url:
        scale_rows = max(mode.jobs for mode in modes)
        _seed_posts(url, scale_rows)
        _create_pgbench_table(url, scale_rows)
        for workers in WORKER_COUNTS:
            tps = pgbench_tps(
                url,
                PGBENCH_SCRIPT,
                clients=workers,
                seconds=seconds,
                defines={"scale_rows": scale_rows},
            )
            for mode in modes:
                _reset_jobs(url, mode.jobs)
                rate = _drain(url, workers, mode.limit)
                _verify(url, mode.jobs)
                rows.append(_row(mode, workers, rate, tps))
    return rows


def _row(mode: Mode, workers: int, rate: float, tps: float) -> Row:
    ratio = rate / tps
    gated = workers == max(WORKER_COUNTS)
    target = TARGETS[mode.name]
    return Row(
        name=f"queue {mode.name} (limit {mode.limit}), {workers} worker(s)",
        measured=rate,
        unit="jobs/s",
        reference=f"pgbench UPDATE {fmt(tps, 'tps')} (-c {workers})",
        ratio=ratio,
        target=f">= {target}x" if gated else "",
        verdict=verdict(ratio >= target) if gated else "report",
        note=f"{mode.jobs:,} jobs, each ok exactly once" if gated else "",
    )


# -- setup ------------------------------------------------------------------------------


def _seed_posts(url: str, count: int) -> None:
    """`count` raw posts by COPY (the queue benchmark measures the queue, not ingest)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO channels (channel_id, title) VALUES (1, 'bench')")
        with conn.cursor() as cur:
            copy_sql = (
                "COPY raw_messages (channel_id, message_id, text, posted_at, content_sha256,"
                " source) FROM STDIN"
            )
            with cur.copy(copy_sql) as copy:
                for n in range(1, count + 1):
                    copy.write_row(
                        (1, n, f"post {n}: markets rally", "2026-01-01T00:00:00Z", "0", "live")
                    )
        conn.execute("VACUUM ANALYZE raw_messages")


def _create_pgbench_table(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_rows (id integer PRIMARY KEY, n integer NOT NULL)")
        conn.execute("INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, %s) g", (count,))
        conn.execute("VACUUM ANALYZE bench_rows")


def _reset_jobs(url: str, count: int) -> None:
    """Exactly `count` pending jobs and no dead rows from an earlier run."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE extraction_jobs RESTART IDENTITY")
        conn.execute(
            "INSERT INTO extraction_jobs (raw_message_id, pipeline_version)"
            " SELECT id, %s FROM raw_messages ORDER BY id LIMIT %s",
            (VERSION, count),
        )
        conn.execute("VACUUM ANALYZE extraction_jobs")


def _verify(url: str, jobs: int) -> None:
    """Every job `ok`, claimed exactly once."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'ok'), coalesce(sum(attempts), 0)"
            " FROM extraction_jobs"
        ).fetchone()
    assert row is not None
    total, ok, attempts = (int(value) for value in row)
    if not total == ok == attempts == jobs:
        raise RuntimeError(
            f"queue check failed: {jobs} jobs seeded, {total} present, {ok} ok, {attempts} attempts"
        )


# -- the workers ------------------------------------------------------------------------


def _drain(url: str, workers: int, limit: int) -> float:
    """Start `workers` processes, release them together, return jobs/s until all are done."""
    mp = multiprocessing.get_context("spawn")  # no inherited connections
    ready = mp.Barrier(workers + 1)
    results: multiprocessing.Queue[tuple[int, float]] = mp.Queue()
    procs = [
        mp.Process(target=_work, args=(url, f"bench-{i}", limit, ready, results))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    ready.wait(timeout=120)
    started = time.monotonic()  # CLOCK_MONOTONIC: comparable across processes
    finished = [results.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a queue worker exited {proc.exitcode}")
    jobs = sum(done for done, _ in finished)
    return jobs / (max(end for _, end in finished) - started)


def _work(
    url: str,
    worker: str,
    limit: int,
    ready: Barrier,
    results: multiprocessing.Queue[tuple[int, float]],
) -> None:
    with Database.connect(url, application_name=f"civicquant bench {worker}") as db:
        db.use_generic_plans()  # as `extract` does on its queue connection
        ready.wait(timeout=120)
        done = 0
        claimed = queue.claim(db, VERSION, worker, limit, LEASE_SECONDS)
        while claimed:
            finished, claimed = queue.complete_and_claim(
                db, [row["id"] for row in claimed], VERSION, worker, limit, LEASE_SECONDS
            )
            done += len(finished)
        results.put((done, time.monotonic()))
