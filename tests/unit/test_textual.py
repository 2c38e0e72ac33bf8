from __future__ import annotations

import pytest

from civicquant.textual import aligned, table


def test_columns_are_left_aligned_to_their_widest_cell_two_spaces_apart() -> None:
    assert aligned(
        [("NAME", "STATE", "AGE"), ("ingest", "ok", "3m"), ("x", "stale", "12h05m")]
    ) == [
        "NAME    STATE  AGE",
        "ingest  ok     3m",
        "x       stale  12h05m",
    ]


def test_columns_from_right_from_on_are_right_aligned_header_included() -> None:
    assert aligned(
        [("v1 \\ v2", "macro", "fx"), ("macro", "12", "0"), ("fx", "3", "140")], right_from=1
    ) == [
        "v1 \\ v2  macro   fx",
        "macro       12    0",
        "fx           3  140",
    ]


def test_right_from_zero_right_aligns_every_column_and_keeps_leading_spaces() -> None:
    assert aligned([("a", "bb"), ("ccc", "d")], right_from=0) == ["  a  bb", "ccc   d"]


def test_lines_are_stripped_of_trailing_spaces_even_from_empty_last_cells() -> None:
    lines = aligned([("JOB", "LAST ERROR"), ("ingest", ""), ("digest", "boom")])
    assert lines == ["JOB     LAST ERROR", "ingest", "digest  boom"]
    assert all(line == line.rstrip() for line in lines)


def test_a_wide_cell_widens_its_whole_column_and_is_never_cut() -> None:
    wide = "x" * 90
    assert aligned([("A", "B", "C"), ("1", wide, "z")]) == [
        "A  B" + " " * 89 + "  C",
        f"1  {wide}  z",
    ]


def test_width_counts_characters_not_display_cells() -> None:
    assert aligned([("日本", "x"), ("ab", "y"), ("é", "z")]) == ["日本  x", "ab  y", "é   z"]


def test_no_rows_give_no_lines() -> None:
    assert aligned([]) == []


def test_rows_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match=r"zip\(\) argument 2 is shorter than argument 1"):
        aligned([("a", "b"), ("c",)])


def test_table_is_the_header_over_the_rows_without_a_trailing_newline() -> None:
    rows = [("2026-11-20 12:00:00", "ingest", "success", "1.5", "host", "42", '{"stored": 3}')]
    header = ("STARTED", "JOB", "STATUS", "SECONDS", "HOST", "PID", "COUNTS / ERROR")
    assert table(header, rows) == "\n".join(aligned([header, *rows]))
    assert table(header, rows) == (
        "STARTED              JOB     STATUS   SECONDS  HOST  PID  COUNTS / ERROR\n"
        '2026-11-20 12:00:00  ingest  success  1.5      host  42   {"stored": 3}'
    )
    assert table(("A", "B"), []) == "A  B"
