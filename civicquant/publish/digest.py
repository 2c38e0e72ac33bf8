"""Digests: topic-grouped posts of the events first seen in a window, once per window.

Windows are aligned to the route's cadence (4 h: 00:00, 04:00, ... UTC), so a cron run
that starts late, twice, or is retried publishes the same window, and the ledger in
`civicquant.publish.ledger` makes that happen once. Which events a route gets is its
filters' business (`civicquant.publish.routes`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
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
) -> list[DigestEvent]:
    """The events the route named `queue` publishes for a window, as the renderer takes them."""
    routes = load_routes(settings)
    route = routes.named(queue)
    breaking = route.breaking_window
    rows = db.fetch_all(
        "window_events",
        {
            "pipeline_version": pipeline_version,
            "window_start": window.start,
            "window_end": window.end,
            "topics": list(route.topics) or None,
            "exclude_topics": list(route.exclude_topics),
            "breaking_window": breaking,
            "min_importance": route.min_importance,
            # An event already flashed to this chat is not repeated in a breaking digest.
            "skip_flashed_chat": chat_id if breaking else None,
            "flash_queues": [flash.name for flash in routes.of_kind("flash")],
        },
    )
    return [digest_event(row) for row in route_filter(route, rows)]


def route_filter(route: Route, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The route's filters (channels, languages, keywords, importance, max_events) applied to
    the window's rows, most important first."""
    return route.select(rows)


def digest_event(row: dict[str, Any]) -> DigestEvent:
    """A DigestEvent from an events row with its `sources` JSON."""
    return DigestEvent(
        event_id=int(row["id"]),
        topic=row["topic"],
        headline=row["headline"],
        importance=float(row["importance"]),
        first_seen_at=row["first_seen_at"],
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
    events = window_events(ctx.db, settings, queue.name, window, version, chat_id)
    parts = render_digest(
        events, title=queue.title, window_start=window.start, window_end=window.end
    )
    ctx.notes.update(
        queue=queue.name,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
    )
    ctx.count("events", len(events))
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
