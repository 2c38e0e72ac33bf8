"""`compare`'s event grouping: events per version and the posts two versions group differently."""

from __future__ import annotations

from typing import Any

from civicquant.extract.compare import grouping


def row(raw_id: int, event_a: int | None, event_b: int | None) -> dict[str, Any]:
    return {
        "raw_message_id": raw_id,
        "channel_id": 7,
        "channel_username": "wire",
        "message_id": raw_id,
        "text": f"post {raw_id}",
        "event_a": event_a,
        "event_b": event_b,
    }


def test_same_grouping_under_other_event_ids_moves_nothing() -> None:
    found = grouping([row(1, 10, 20), row(2, 10, 20), row(3, 11, 21)])
    assert (found.events_a, found.events_b, found.moved) == (2, 2, 0)


def test_a_merge_in_b_moves_every_post_of_the_merged_events() -> None:
    found = grouping([row(1, 10, 20), row(2, 11, 20), row(3, 12, 22)])
    assert (found.events_a, found.events_b, found.moved) == (3, 2, 2)
    assert [(m.raw_message_id, m.with_in_a, m.with_in_b) for m in found.examples] == [
        (1, 0, 1),
        (2, 0, 1),
    ]


def test_a_post_without_an_event_is_alone() -> None:
    found = grouping([row(1, 10, None), row(2, 10, 20)])
    assert found.events_b == 1
    assert found.moved == 2


def test_examples_are_capped_at_top() -> None:
    rows = [row(n, n, 1) for n in range(1, 30)]
    assert len(grouping(rows, top=5).examples) == 5
