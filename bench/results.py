"""Result rows, the table they print as, and bench/RESULTS.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import Machine

# RESULTS.md keeps everything below this line across runs: the hand-written analysis.
ANALYSIS_MARKER = "<!-- analysis: kept across runs; the harness rewrites only what is above -->"


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: what was measured, next to what, and whether it met its target.

    `verdict` is pass, fail, report (no target to meet), or 'not yet measured: needs ...'.
    """

    name: str
    measured: float | None
    unit: str
    reference: str
    ratio: float | None
    target: str
    verdict: str
    note: str = ""


def verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def fmt(value: float, unit: str) -> str:
    """A number at a readable precision, with its unit."""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (readable on a terminal too)."""
    header = ("benchmark", "measured", "reference", "ratio", "target", "result")
    cells = [
        (
            row.name,
            fmt(row.measured, row.unit) if row.measured is not None else "—",
            row.reference or "—",
            f"{row.ratio:.2f}x" if row.ratio is not None else "—",
            row.target or "—",
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(c) for c in cells)])


def notes(rows: Sequence[Row]) -> list[str]:
    return [f"- **{row.name}**: {row.note}" for row in rows if row.note]


def misses(rows: Sequence[Row]) -> list[str]:
    return [
        f"- **{row.name}** missed its target ({row.target}): measured "
        f"{fmt(row.measured, row.unit) if row.measured is not None else '—'}"
        + (f", {row.ratio:.2f}x of {row.reference}" if row.ratio is not None else "")
        + "."
        for row in rows
        if row.verdict == "fail"
    ]


def write_results(
    path: Path,
    rows: Sequence[Row],
    machine: Machine,
    *,
    server_source: str,
    command: str,
    quick: Sequence[str],
    seconds: float,
    started: datetime,
    load: tuple[str, str],
) -> None:
    """Rewrite `path` with this run's figures, keeping the analysis below the marker."""
    kept = ""
    if path.exists():
        previous = path.read_text(encoding="utf-8")
        if ANALYSIS_MARKER in previous:
            kept = previous.split(ANALYSIS_MARKER, 1)[1]
    missed = misses(rows)
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (see bench/README.md); every ratio compares two figures",
        "measured in the same run, on the same machine and database.",
        "",
        f"- date: {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine.describe()}",
        f"- database: {server_source}",
        f"- load average (1/5/15 min): {load[0]} at the start, {load[1]} at the end"
        + f" on {machine.cores} cores",
        f"- command: `{command}` ({seconds / 60:.1f} min)",
        f"- sizes: {'--quick for ' + ', '.join(quick) if quick else 'full'}"
        + " (each row names its size)",
        "",
        table(rows),
        "",
    ]
    if missed:
        lines += ["## Missed targets", "", *missed, ""]
    found = notes(rows)
    if found:
        lines += ["## Notes", "", *found, ""]
    lines += [ANALYSIS_MARKER]
    path.write_text("\n".join(lines) + (kept or "\n"), encoding="utf-8")
