"""bench/topics.py: the scores of topic predictions under the datasets' class mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import topics
from bench.topics import Item


def test_right_topics_follow_the_mapping_and_out_of_scope_counts_finance_or_politics() -> None:
    items = [
        Item("", "a", "World"),
        Item("", "b", "Sports"),
        Item("", "c", "Sports"),
        Item("", "d", "Sci/Tech"),
    ]
    scores = topics.score(items, ["society", "sports", "companies", "other"], topics.AG_MAPPING)
    assert scores.accuracy == 0.5
    assert scores.out_of_scope_items == 3
    assert scores.out_of_scope == 1 / 3
    assert scores.confusion["Sports"]["companies"] == 1


def test_other_and_not_news_accept_any_topic_outside_finance_and_politics() -> None:
    items = [Item("", "a", "not_news"), Item("", "b", "other"), Item("", "c", "other")]
    scores = topics.score(items, ["other", "sports", "markets"], topics.TGCONTEST_MAPPING)
    assert scores.accuracy == 2 / 3


def test_a_post_is_the_title_a_line_break_and_the_cut_text() -> None:
    assert Item("Title", "0123456789", "World").post(4) == "Title\n0123"


def test_an_absent_file_gives_one_not_measured_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(topics, "DATA", tmp_path)
    rows = topics.rows()
    assert len(rows) == len(topics.DATASETS)
    assert all(row.verdict.startswith("not yet measured") for row in rows)
