"""Digests: topic-grouped posts of the events first seen in a window, once per window.

Windows are aligned to the route's cadence (4 h: 00:00, 04:00, ... UTC), so a cron run
that starts late, twice, or is retried publishes the same window, and the ledger in
`civicquant.publish.ledger` makes that happen once. Which events a route gets is its
filters' business (`civicquant.publish.routes`).

A digest shows one bullet per event at or above its route's importance floor
(DIGEST_MIN_IMPORTANCE for a digest route by default; a breaking route's own floor), ranked
by importance weighed by recency (`rank`), at most the route's `max_events`
(DIGEST_MAX_EVENTS by default) of them, then one line naming how many more each topic had.
A breaking route never shows an event it showed in an earlier window (nor one merged into
it).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import ConfigError
from civicquant.publish import ledger
from civicquant.publish.publisher import PublisherFactory
from civicquant.publish.render import DigestEvent, SourceLink, render_digest, render_text_preview
from civicquant.publish.routes import Route, load_routes
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.publish.digest")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Ranking weighs recency: an event's importance halves for every 12 hours between its last
# source and the window's end. In a 4-hour window the oldest story keeps 79%, so recency
# orders stories of about the same importance (the demo's breaking stories read 0.57-0.78)
# and a clearly bigger story still leads; over a 24-hour --hours window the morning's
# stories need 4x the importance of the evening's.
RECENCY_HALF_LIFE = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Window:
    """A digest window: [start, end), aligned to its span."""

    start: datetime
    end: datetime


def aligned_window(span: timedelta, *, at: datetime | None = None, now: datetime) -> Window:
    """The window of length `span` containing `at`, or the last one completed by `now`.

    Windows start at multiples of `span` since the Unix epoch (UTC): with 4 h, at 00:00,
    04:00, ... A run at 12:00:05 or 12:40 publishes 08:00-12:00; `at` picks any window.
    """
    if at is not None:
        start = EPOCH + span * ((at - EPOCH) // span)
        return Window(start, start + span)
    end = EPOCH + span * ((now - EPOCH) // span)
    return Window(end - span, end)


def window_events(
    db: Database,
    settings: Settings,
    queue: str,
    window: Window,
    pipeline_version: str,
    chat_id: str | None,
    *,
    min_importance: float | None = None,
) -> list[DigestEvent]:
    """The events the route named `queue` may publish for a window, best ranked first.

    Only events at or above `min_importance` (default: the route's floor) that pass the
    route's filters. A breaking route leaves out the events it published to `chat_id` in
    another window, and those flashed to it.
    """
    routes = load_routes(settings)
    route = routes.named(queue)
    breaking = route.breaking_window
    floor = route.min_importance if min_importance is None else min_importance
    rows = db.fetch_all(
        "window_events",
        {
            "pipeline_version": pipeline_version,
            "window_start": window.start,
            "window_end": window.end,
            "topics": list(route.topics) or None,
            "exclude_topics": list(route.exclude_topics),
            "breaking_window": breaking,
            "min_importance": floor,
            # An event already flashed to this chat is not repeated in a breaking digest.
            "skip_flashed_chat": chat_id if breaking else None,
            "flash_queues": [flash.name for flash in routes.of_kind("flash")],
            # Nor one this queue published to this chat in an earlier window.
            "skip_published_queue": queue if breaking and chat_id else None,
            "chat_id": chat_id,
        },
    )
    return rank_events([digest_event(row) for row in route_filter(route, rows, floor)], window)


def route_filter(route: Route, rows: list[dict[str, Any]], floor: float) -> list[dict[str, Any]]:
    """The rows that pass the route's other filters (topics, channels, languages, keywords),
    at or above `floor`; the cap is the selection's (`select_events`), after ranking."""
    at_floor = replace(route, min_importance=floor)
    return [row for row in rows if at_floor.accepts(row)]


def rank(event: DigestEvent, window: Window) -> float:
    """The event's importance weighed by how recent its last source is in the window."""
    last = min(event.last_seen_at or event.first_seen_at, window.end)
    age = max(window.end - last, timedelta(0))
    return event.importance * math.exp2(-(age / RECENCY_HALF_LIFE))


def rank_events(events: Sequence[DigestEvent], window: Window) -> list[DigestEvent]:
    """The events with their rank set, best first (then first seen, then id)."""
    ranked = [replace(event, rank=rank(event, window)) for event in events]
    ranked.sort(key=lambda e: (-(e.rank or 0.0), e.first_seen_at, e.event_id))
    return ranked


@dataclass(frozen=True, slots=True)
class Selection:
    """What a digest shows: its events, and how many more each topic had past the cap."""

    shown: list[DigestEvent]
    more: dict[str, int] = field(default_factory=dict)


def select_events(ranked: Sequence[DigestEvent], max_events: int) -> Selection:
    """The first `max_events` of `ranked` (best first), and the rest counted per topic;
    every event when `max_events` is 0."""
    if max_events == 0:
        return Selection(list(ranked))
    more: dict[str, int] = {}
    for event in ranked[max_events:]:
        more[event.topic] = more.get(event.topic, 0) + 1
    return Selection(list(ranked[:max_events]), more)


def window_selection(
    db: Database,
    settings: Settings,
    queue: str,
    window: Window,
    pipeline_version: str,
    chat_id: str | None,
    *,
    max_events: int | None = None,
    min_importance: float | None = None,
) -> Selection:
    """A route's digest for a window: at most `max_events` (default: the route's own, else
    DIGEST_MAX_EVENTS; 0: no cap) of its events at or above `min_importance` (default: the
    route's floor), best ranked."""
    ranked = window_events(
        db, settings, queue, window, pipeline_version, chat_id, min_importance=min_importance
    )
    if max_events is None:
        route_cap = load_routes(settings).named(queue).max_events
        max_events = settings.digest_max_events if route_cap is None else route_cap
    return select_events(ranked, max_events)


def render_selection(
    selection: Selection, *, title: str, window: Window, one_message: bool = True
) -> tuple[list[str], Selection]:
    """The digest's messages and what they show. With `one_message`, the lowest ranked
    events move into the "more" line until the digest fits one Telegram message (at least
    one bullet stays)."""
    shown, more = list(selection.shown), dict(selection.more)
    while True:
        parts = render_digest(
            shown, title=title, window_start=window.start, window_end=window.end, more=more
        )
        if not one_message or len(parts) <= 1 or len(shown) <= 1:
            return parts, Selection(shown, more)
        dropped = shown.pop()
        more[dropped.topic] = more.get(dropped.topic, 0) + 1


def digest_event(row: dict[str, Any]) -> DigestEvent:
    """A DigestEvent from an events row with its `sources` JSON."""
    return DigestEvent(
        event_id=int(row["id"]),
        topic=row["topic"],
        headline=row["headline"],
        importance=float(row["importance"]),
        first_seen_at=row["first_seen_at"],
        last_seen_at=row.get("last_seen_at"),
        sources=[
            SourceLink(int(s["channel_id"]), s.get("username"), int(s["message_id"]))
            for s in row["sources"]
        ],
        source_count=int(row["source_count"]),
    )


@dataclass(frozen=True, slots=True)
class DigestOptions:
    queue: str  # the route's name
    hours: float | None = None
    at: datetime | None = None
    dry_run: bool = False
    chat_id: str | None = None
    pipeline_version: str | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class DigestResult:
    """What a digest run has to say: the dry run's preview, or that the window was empty."""

    window: Window
    outcome: str  # "empty", "dry_run", or the ledger's outcome ("sent", "already_sent", ...)
    preview: str | None = None

    def message(self) -> str | None:
        """The text the CLI prints for this run, if any."""
        if self.outcome == "empty":
            return f"nothing to post: no events in {_describe(self.window)}"
        return self.preview


def digest_job(
    ctx: JobContext, options: DigestOptions, make_publisher: PublisherFactory
) -> DigestResult:
    """`civicquant digest`: render the route's window and publish it once (or preview it)."""
    import asyncio

    settings = ctx.settings
    queue = load_routes(settings).scheduled(options.queue)
    assert queue.every is not None  # scheduled routes have a cadence
    version = settings.pipeline_version(options.pipeline_version)
    chat_id = options.chat_id or queue.chat_id
    if not options.dry_run and not chat_id:
        raise ConfigError("TG_VIP_CHAT_ID is not set (or pass --chat); needed to publish")
    span = timedelta(hours=options.hours) if options.hours is not None else queue.every
    window = aligned_window(span, at=options.at, now=datetime.now(UTC))
    selection = window_selection(ctx.db, settings, queue.name, window, version, chat_id)
    # A capped digest is one message; an uncapped one (DIGEST_MAX_EVENTS=0) takes as many
    # as its events need.
    parts, selection = render_selection(
        selection, title=queue.title, window=window, one_message=settings.digest_max_events > 0
    )
    events = selection.shown
    ctx.notes.update(
        queue=queue.name,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
    )
    ctx.count("events", len(events))
    ctx.count("events_not_shown", sum(selection.more.values()))
    ctx.count("parts", len(parts))
    if not parts:
        log.info("digest_empty", queue=queue.name, window_start=window.start.isoformat())
        ctx.notes["outcome"] = "empty"
        return DigestResult(window, "empty")
    if options.dry_run:
        ctx.notes["outcome"] = "dry_run"
        return DigestResult(window, "dry_run", render_text_preview(parts))

    async def publish() -> str:
        assert chat_id is not None
        item = ledger.Item(
            queue=queue.name,
            chat_id=chat_id,
            window_start=window.start,
            window_end=window.end,
            pipeline_version=version,
            event_ids=tuple(event.event_id for event in events),
        )
        async with contextlib.aclosing(make_publisher(settings)) as publisher:
            outcome, _ = await ledger.publish_once(
                ctx.db,
                publisher,
                item,
                parts,
                holder=ctx.run_id,
                force=options.force,
                part_interval=settings.digest_part_interval_seconds,
                fence=ctx.fence,
            )
        return outcome

    outcome = asyncio.run(publish())
    ctx.notes["outcome"] = outcome
    return DigestResult(window, outcome)


def _describe(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M} UTC"
