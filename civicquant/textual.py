"""Aligned plain-text tables, the layout every report prints.

Cells are strings; each column is as wide as its widest cell (measured in characters, so
callers truncate long cells themselves), cells are joined by two spaces, and every line
is stripped of trailing spaces. Columns are left-aligned, or right-aligned from a given
column on (for numbers). Imports nothing from civicquant.
"""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR = "  "


def aligned(rows: Sequence[Sequence[str]], *, right_from: int | None = None) -> list[str]:
    """`rows` (a header, if any, included) as lines of columns padded to their widest cell.

    Columns before `right_from` are left-aligned, the rest right-aligned; with
    `right_from=None` all are left-aligned. Rows of unequal length raise ValueError.
    """
    if not rows:
        return []
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return [
        SEPARATOR.join(
            cell.rjust(width) if right_from is not None and i >= right_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right_from: int | None = None
) -> str:
    """`header` over `rows`, aligned, as one string of lines (no trailing newline)."""
    return "\n".join(aligned([header, *rows], right_from=right_from))
