"""Result rows, the table they print as, and bench/RESULTS.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import Machine

# RESULTS.md keeps everything below this line across runs: the hand-written analysis.
ANALYSIS_MARKER = "<!-- analysis: kept across runs; the harness rewrites only what is above -->"
# The quality figures (`--only quality`) live between these, above the analysis marker: a
# quality run replaces only this block, a speed run keeps it as it is.
QUALITY_BEGIN = "<!-- quality: begin -->"
QUALITY_END = "<!-- quality: end -->"


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
    """A number at a readable precision, with its unit (a count, an int, as it is)."""
    if isinstance(value, int):
        text = f"{value:,}"
    elif abs(value) >= 100:
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


@dataclass(frozen=True, slots=True)
class Run:
    """What a results file says about the run: where, when, how and how long."""

    machine: Machine
    server_source: str
    command: str
    quick: Sequence[str]
    seconds: float
    started: datetime
    load: tuple[str, str]  # load average at the start and at the end

    def lines(self) -> list[str]:
        """The date, machine, database, load, command and sizes, as list items."""
        return [
            f"- date: {self.started.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {self.machine.describe()}",
            f"- database: {self.server_source}",
            f"- load average (1/5/15 min): {self.load[0]} at the start, {self.load[1]} at the"
            + f" end on {self.machine.cores} cores",
            f"- command: `{self.command}` ({self.seconds / 60:.1f} min)",
            f"- sizes: {'--quick for ' + ', '.join(self.quick) if self.quick else 'full'}"
            + " (each row names its size)",
        ]


def write_results(path: Path, rows: Sequence[Row], run: Run) -> None:
    """Rewrite `path` with this run's figures, keeping the quality block and the analysis.

    The quality block (between QUALITY_BEGIN and QUALITY_END, written by `write_quality`)
    stays as it was, just above the analysis marker.
    """
    previous = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = previous.split(ANALYSIS_MARKER, 1)[1] if ANALYSIS_MARKER in previous else ""
    quality = quality_block(previous)
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench` (see bench/README.md); every ratio compares two figures",
        "measured in the same run, on the same machine and database.",
        "",
        *run.lines(),
        "",
        *_figures(rows),
    ]
    if quality is not None:
        lines += [quality, ""]
    lines += [ANALYSIS_MARKER]
    path.write_text("\n".join(lines) + (kept or "\n"), encoding="utf-8")


def write_quality(
    path: Path,
    rows: Sequence[Row],
    run: Run,
    datasets: Sequence[str],
    sections: Sequence[str] = (),
) -> None:
    """Replace only the quality block of `path` with these rows; the rest stays as it is.

    `sections` are Markdown lines put after the notes (the topics' confusion matrices).

    A file without a block gets it just above the analysis marker (or at its end); a missing
    file is started with the block and the marker.
    """
    block = "\n".join(
        [
            QUALITY_BEGIN,
            "## Quality",
            "",
            "Written by `python -m bench --only quality` (see bench/README.md): story matching",
            "measured through the real pipeline, against labelled data; a speed run keeps",
            "this block as it is.",
            "",
            *run.lines(),
            "- datasets:",
            *(f"  - {line}" for line in datasets),
            "",
            *_figures(rows, level="###"),
            *sections,
            QUALITY_END,
        ]
    )
    previous = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(_with_block(previous, block), encoding="utf-8")


def quality_block(text: str) -> str | None:
    """The quality block of a results file's text, markers included; None when it has none."""
    begin = text.find(QUALITY_BEGIN)
    end = text.find(QUALITY_END, begin)
    if begin < 0 or end < 0:
        return None
    return text[begin : end + len(QUALITY_END)]


def _with_block(text: str, block: str) -> str:
    """`text` with its quality block replaced by `block`, or `block` put in."""
    current = quality_block(text)
    if current is not None:
        return text.replace(current, block, 1)
    if ANALYSIS_MARKER in text:
        before, after = text.split(ANALYSIS_MARKER, 1)
        return f"{before}{block}\n\n{ANALYSIS_MARKER}{after}"
    if text:
        return f"{text.rstrip()}\n\n{block}\n"
    return f"# Benchmark results\n\n{block}\n\n{ANALYSIS_MARKER}\n"


def _figures(rows: Sequence[Row], *, level: str = "##") -> list[str]:
    """The table, then the missed targets and the notes under headings of `level`."""
    lines = [table(rows), ""]
    missed = misses(rows)
    if missed:
        lines += [f"{level} Missed targets", "", *missed, ""]
    found = notes(rows)
    if found:
        lines += [f"{level} Notes", "", *found, ""]
    return lines
