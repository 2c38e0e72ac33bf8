"""`python -m bench [--quick [NAME,...]] [--only NAME[,NAME]]`: run benchmarks, print one table.

A default run rewrites bench/RESULTS.md; --quick and --only runs write bench/out/RESULTS.md
instead (unless --results says where), so a smoke run never replaces the real figures.
`--quick` alone shrinks every benchmark; `--quick NAME,...` only those named.
The quality figures (`--only quality`, not part of a default run) go in a block of their
own: a full quality run replaces only that block of bench/RESULTS.md, and a speed run keeps
the block as it is.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    breaking_latency,
    cold_start,
    digest_window,
    export_import,
    extract_llm,
    extract_rules,
    live_ingest,
    processes,
    quality,
    queue_claims,
    soak,
)
from bench.context import OUT, Benchmark, Context
from bench.machine import load_average, this_machine
from bench.pg import server
from bench.results import Row, Run, table, write_quality, write_results

BENCHMARKS: dict[str, Benchmark] = {
    "queue": queue_claims.run,
    "export_import": export_import.run,
    "extract_rules": extract_rules.run,
    "extract_llm": extract_llm.run,
    "cold_start": cold_start.run,
    "live_ingest": live_ingest.run,
    "digest": digest_window.run,
    "breaking_latency": breaking_latency.run,
}
# Run only when asked for (`--only soak`): soak takes tens of minutes at full size, and
# quality measures matching, not speed (`make bench-quality`).
ON_REQUEST: dict[str, Benchmark] = {"soak": soak.run, "quality": quality.run}
# Their rows go in the results file's quality block, not in the speed table.
QUALITY = frozenset({"quality"})
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ALL = "*"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = _selected(args.only)
    quick = set(names) if args.quick == ALL else set(_selected(args.quick) if args.quick else [])
    results = args.results or _default_results(names, quick, bool(args.only))
    started_at = datetime.now(UTC)
    started = time.monotonic()
    load_before = load_average()
    processes.compile_package()
    speed_rows: list[Row] = []
    quality_rows: list[Row] = []
    with server() as srv, tempfile.TemporaryDirectory(prefix="cq-bench-") as workdir:
        machine = this_machine(srv.version)
        print(f"# {machine.describe()}; database: {srv.source}", file=sys.stderr)
        for name in names:
            print(f"# {name} ...", file=sys.stderr, flush=True)
            begun = time.monotonic()
            found = _run_one(name, Context(srv, name in quick, Path(workdir)))
            (quality_rows if name in QUALITY else speed_rows).extend(found)
            print(f"# {name}: {time.monotonic() - begun:.0f} s", file=sys.stderr, flush=True)
    seconds = time.monotonic() - started
    rows = speed_rows + quality_rows
    print(table(rows))
    results.parent.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
    run = Run(
        machine,
        server_source=f"{srv.source} (scratch databases, dropped after each benchmark)",
        command=command,
        quick=sorted(quick),
        seconds=seconds,
        started=started_at,
        load=(load_before, load_average()),
    )
    if speed_rows or not quality_rows:
        write_results(results, speed_rows, run)
    if quality_rows:
        write_quality(
            results,
            quality_rows,
            run,
            quality.datasets(quick=bool(quick & QUALITY)),
            quality.sections(),
        )
    print(f"# wrote {results} ({seconds / 60:.1f} min)", file=sys.stderr)
    return 1 if any(row.verdict == "error" for row in rows) else 0


def _default_results(names: list[str], quick: set[str], only: bool) -> Path:
    """Where the results go when --results is not given.

    bench/RESULTS.md for a default run and for a full quality run (which replaces only its
    block there); bench/out/RESULTS.md for any other --quick or --only run.
    """
    if set(names) <= QUALITY and not quick:
        return RESULTS
    return OUT / "RESULTS.md" if quick or only else RESULTS


def _run_one(name: str, ctx: Context) -> list[Row]:
    """A benchmark's rows; one `error` row if it raised, so the others still run."""
    try:
        return {**BENCHMARKS, **ON_REQUEST}[name](ctx)
    except Exception as exc:
        traceback.print_exc()
        return [Row(name, None, "", "", None, "", "error", note=f"{type(exc).__name__}: {exc}")]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        nargs="?",
        const=ALL,
        metavar="NAME[,NAME]",
        help="smaller sizes, for a smoke run (all benchmarks, or only those named)",
    )
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help=f"run only these: {', '.join(BENCHMARKS)}; on request: {', '.join(ON_REQUEST)}",
    )
    parser.add_argument("--results", type=Path, help="where to write the results file")
    return parser.parse_args(argv)


def _selected(only: str | None) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    names = [name.strip() for name in only.split(",") if name.strip()]
    known = {**BENCHMARKS, **ON_REQUEST}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return names


if __name__ == "__main__":
    sys.exit(main())
