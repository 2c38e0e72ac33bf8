"""`soak`: many posts, 16 extract workers, and an unrelated transaction held open.

Not part of the default run (`python -m bench --only soak`): it stores N posts (1,000,000
by default; `--quick` 50,000), runs 16 `civicquant extract --oneshot` workers on the rules
provider until the queue is drained, and samples jobs/s every few seconds. A third of the
way in, an unrelated connection opens a transaction and holds its snapshot for a minute:
the dead rows that claiming leaves behind can then not be vacuumed (the SKIP LOCKED bloat
failure mode), so claim speed during that minute is compared with the minute before.
Table and index sizes are reported before and after.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import threading
import time

from bench import seed
from bench.context import Context
from bench.pg import scratch_database
from bench.processes import child_env, civicquant
from bench.results import Row, verdict
from civicquant.db import Database

WORKERS = 16
SAMPLE_SECONDS = 5.0
HOLD_SECONDS = 60.0
TABLES = ("raw_messages", "extraction_jobs", "extractions", "events", "event_sources")


def run(ctx: Context) -> list[Row]:
    count = ctx.size(1_000_000, 50_000)
    with scratch_database(ctx.server, "soak") as url, Database.connect(url) as db:
        seed.store_posts(url, count)
        before = _sizes(db)
        env = child_env(url, ctx.workdir, LLM_PROVIDER="rules", LOG_LEVEL="WARNING")
        workers = [
            subprocess.Popen(
                [civicquant(), "extract", "--oneshot", "--concurrency", "2"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=ctx.workdir,
            )
            for _ in range(WORKERS)
        ]
        samples: list[tuple[float, int]] = []  # (seconds since start, jobs ok)
        hold: dict[str, float] = {}
        started = time.monotonic()
        try:
            while any(worker.poll() is None for worker in workers):
                done = _ok(db)
                samples.append((time.monotonic() - started, done))
                if not hold and done >= count // 3:
                    threading.Thread(target=_hold_snapshot, args=(url, hold), daemon=True).start()
                time.sleep(SAMPLE_SECONDS)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                worker.wait()
        elapsed = time.monotonic() - started
        samples.append((elapsed, _ok(db)))
        after = _sizes(db)
    offsets = {key: moment - started for key, moment in hold.items()}
    return _rows(count, elapsed, samples, offsets, before, after)


def _ok(db: Database) -> int:
    row = db.connection.execute(
        "SELECT count(*) AS n FROM extraction_jobs WHERE status = 'ok'"
    ).fetchone()
    return int(row["n"]) if row else 0


def _hold_snapshot(url: str, hold: dict[str, float]) -> None:
    with Database.connect(url, application_name="civicquant bench long transaction") as other:
        hold["start"] = time.monotonic()
        with other.connection.transaction():
            other.connection.execute("SELECT txid_current()")
            time.sleep(HOLD_SECONDS)
        hold["end"] = time.monotonic()


def _sizes(db: Database) -> dict[str, int]:
    sizes = {}
    for table in TABLES:
        row = db.connection.execute(
            "SELECT pg_table_size(%s::regclass) AS t, pg_indexes_size(%s::regclass) AS i",
            (table, table),
        ).fetchone()
        assert row is not None
        sizes[f"{table} table"] = int(row["t"])
        sizes[f"{table} indexes"] = int(row["i"])
    return sizes


def _rate(samples: list[tuple[float, int]], start: float, end: float) -> float | None:
    inside = [(t, n) for t, n in samples if start <= t <= end]
    if len(inside) < 2:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def _rows(
    count: int,
    elapsed: float,
    samples: list[tuple[float, int]],
    hold: dict[str, float],
    before: dict[str, int],
    after: dict[str, int],
) -> list[Row]:
    overall = samples[-1][1] / elapsed
    rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples) if b[0] > a[0]]
    rows = [
        Row(
            name=f"soak: {count:,} posts, {WORKERS} extract workers (rules)",
            measured=overall,
            unit="jobs/s",
            reference=f"per-{SAMPLE_SECONDS:.0f} s samples: min {min(rates):,.0f}, "
            f"median {statistics.median(rates):,.0f}, max {max(rates):,.0f}"
            if rates
            else "",
            ratio=None,
            target="report",
            verdict="report",
        )
    ]
    if "start" in hold:  # offsets in seconds since the workers started, like the samples
        start = hold["start"]
        end = hold.get("end", start + HOLD_SECONDS)
        during = _rate(samples, start, end)
        baseline = _rate(samples, max(start - HOLD_SECONDS, 0.0), start)
        if during is not None and baseline:
            rows.append(
                Row(
                    name="soak: claim rate while an unrelated transaction is open for 60 s",
                    measured=during,
                    unit="jobs/s",
                    reference=f"the minute before: {baseline:,.0f} jobs/s",
                    ratio=during / baseline,
                    target=">= 0.5x (claims hold up)",
                    verdict=verdict(during / baseline >= 0.5),
                )
            )
    rows.extend(
        Row(
            name=f"soak: {key} size",
            measured=after[key] / 1e6,
            unit="MB",
            reference=f"before: {before[key] / 1e6:,.1f} MB",
            ratio=None,
            target="report",
            verdict="report",
        )
        for key in before
    )
    return rows
