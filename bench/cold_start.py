"""`cold_start`: wall time of `civicquant --help` and `civicquant health`, vs bare imports.

Each command is the median of ~15 runs (interleaved, after one warm-up run each, so the
page cache is warm for all alike). The reference is `python -c "import typer, psycopg"`:
the interpreter plus the two libraries every command needs, and nothing of civicquant's.
"""

from __future__ import annotations

import statistics
import sys

from bench import processes
from bench.context import Context
from bench.pg import scratch_database
from bench.results import Row, fmt, verdict

TARGET_RATIO = 1.5
REFERENCE = "import typer, psycopg"
HEALTH_EXIT_CODES = (0, 1, 2)  # ok, stale, down: a fresh database is `down`, still a run


def run(ctx: Context) -> list[Row]:
    repeats = ctx.size(15, 5)
    with scratch_database(ctx.server, "cold_start") as url:
        env = processes.child_env(url, ctx.workdir / "home")
        commands = {
            "reference": [sys.executable, "-c", REFERENCE],
            "civicquant --help": [processes.civicquant(), "--help"],
            "civicquant health": [processes.civicquant(), "health"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for attempt in range(repeats + 1):
            for name, args in commands.items():
                finished = processes.run(args, env, ctx.workdir, rss=False)
                if finished.returncode not in HEALTH_EXIT_CODES:
                    finished.check(name)
                if attempt > 0:  # the first round only warms the page cache
                    times[name].append(finished.seconds * 1000)
    reference = statistics.median(times.pop("reference"))
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append(
            Row(
                name=f"cold_start {name} (median of {repeats})",
                measured=median,
                unit="ms",
                reference=f'python -c "{REFERENCE}" {fmt(reference, "ms")}',
                ratio=median / reference,
                target=f"<= {TARGET_RATIO}x",
                verdict=verdict(median / reference <= TARGET_RATIO),
            )
        )
    return rows
