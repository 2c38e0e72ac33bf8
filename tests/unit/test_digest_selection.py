"""Ranking, capping and fitting a digest into one message: pure code, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from civicquant.publish.digest import (
    RECENCY_HALF_LIFE,
    Selection,
    Window,
    rank,
    rank_events,
    render_selection,
    select_events,
)
from civicquant.publish.render import DigestEvent, SourceLink, render_digest

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=4))
SOURCE = SourceLink(1001, "wirewatch", 1)


def event(
    event_id: int, importance: float, *, topic: str = "markets", minute: int = 0
) -> DigestEvent:
    seen = T0 + timedelta(minutes=minute)
    return DigestEvent(
        event_id, topic, f"Story {event_id}", importance, seen, [SOURCE], 1, last_seen_at=seen
    )


def test_rank_halves_an_events_importance_every_half_life_before_the_window_end() -> None:
    at_end = event(1, 0.8, minute=240)
    assert rank(at_end, WINDOW) == 0.8
    long_ago = replace(at_end, last_seen_at=WINDOW.end - RECENCY_HALF_LIFE)
    assert rank(long_ago, WINDOW) == 0.4


def test_a_source_after_the_window_end_counts_as_at_the_end() -> None:
    late = replace(event(1, 0.8), last_seen_at=WINDOW.end + timedelta(hours=5))
    assert rank(late, WINDOW) == 0.8


def test_rank_events_puts_the_best_ranked_first() -> None:
    ranked = rank_events([event(1, 0.5), event(2, 0.9), event(3, 0.5, minute=120)], WINDOW)
    assert [e.event_id for e in ranked] == [2, 3, 1]


def test_select_events_counts_the_rest_per_topic() -> None:
    ranked = [event(i, 1 - i / 10, topic=t) for i, t in enumerate("aabcb")]
    selection = select_events(ranked, 2)
    assert [e.event_id for e in selection.shown] == [0, 1]
    assert selection.more == {"b": 2, "c": 1}


def test_max_events_zero_shows_every_event() -> None:
    ranked = [event(i, 0.5) for i in range(30)]
    assert select_events(ranked, 0) == Selection(ranked)


def test_the_more_line_names_the_count_per_topic_most_first() -> None:
    parts = render_digest(
        [event(1, 0.5)],
        title="Digest",
        window_start=WINDOW.start,
        window_end=WINDOW.end,
        more={"energy": 1, "macro": 3, "fx_rates": 1},
    )
    assert parts[0].splitlines()[-1] == "<i>5 more: Macro 3, Energy 1, Fx Rates 1</i>"


def test_a_capped_digest_that_would_take_two_messages_moves_its_last_events_to_more() -> None:
    long = [replace(event(i, 0.9 - i / 100), headline="x" * 290) for i in range(20)]
    uncapped = render_digest(long, title="D", window_start=WINDOW.start, window_end=WINDOW.end)
    assert len(uncapped) > 1
    parts, shown = render_selection(Selection(long[:15], {"energy": 2}), title="D", window=WINDOW)
    assert len(parts) == 1
    kept = len(shown.shown)
    assert parts[0].count("\n• ") == kept < 15
    assert shown.more == {"energy": 2, "markets": 15 - kept}
    assert parts[0].endswith(f"<i>{17 - kept} more: Markets {15 - kept}, Energy 2</i>")
