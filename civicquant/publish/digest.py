"""Digests: topic-grouped posts of the events first seen in a window, once per window.

Windows are aligned to the queue's cadence (4 h: 00:00, 04:00, ... UTC), so a cron run
that starts late, twice, or is retried publishes the same window, and the ledger in
`civicquant.publish.ledger` makes that happen once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import ConfigError
from civicquant.publish import ledger as publications
from civicquant.publish.render import DigestEvent, SourceLink, render_digest, render_text_preview

if TYPE_CHECKING:
    from civicquant.runtime.runner import JobContext

log = structlog.get_logger("civicquant.publish.digest")

QUEUES = ("vip", "breaking_15m", "breaking_1h", "breaking_4h")
BREAKING_WINDOWS = {"breaking_15m": "15m", "breaking_1h": "1h", "breaking_4h": "4h"}
BREAKING_SPANS = {
    "breaking_15m": timedelta(minutes=15),
    "breaking_1h": timedelta(hours=1),
    "breaking_4h": timedelta(hours=4),
}
TITLES = {
    "vip": "Digest",
    "breaking_15m": "Breaking, last 15 minutes",
    "breaking_1h": "Breaking, last hour",
    "breaking_4h": "Breaking, last 4 hours",
}
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


def queue_span(queue: str, settings: Settings, hours: float | None) -> timedelta:
    """How long the queue's window is: --hours, else VIP_DIGEST_HOURS or the breaking span."""
    if hours is not None:
        return timedelta(hours=hours)
    if queue == "vip":
        return timedelta(hours=settings.vip_digest_hours)
    return BREAKING_SPANS[queue]


def window_events(
    db: Database,
    settings: Settings,
    queue: str,
    window: Window,
    pipeline_version: str,
    chat_id: str | None,
) -> list[DigestEvent]:
    """The events a queue publishes for a window, as the renderer takes them."""
    breaking = BREAKING_WINDOWS.get(queue)
    rows = db.fetch_all(
        "window_events",
        {
            "pipeline_version": pipeline_version,
            "window_start": window.start,
            "window_end": window.end,
            "topics": settings.digest_topic_list() or None,
            "exclude_topics": settings.digest_exclude_topic_list(),
            "breaking_window": breaking,
            "min_importance": settings.breaking_min_importance_for(queue),
            # An event already flashed to this chat is not repeated in a breaking digest.
            "skip_flashed_chat": chat_id if breaking else None,
        },
    )
    return [digest_event(row) for row in rows]


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
    queue: str
    hours: float | None = None
    at: datetime | None = None
    dry_run: bool = False
    chat_id: str | None = None
    pipeline_version: str | None = None
    force: bool = False


def digest_job(ctx: JobContext, options: DigestOptions, *, out: Any = None) -> None:
    """`civicquant digest`: render the queue's window and publish it once (or print it)."""
    import asyncio

    from civicquant.publish.publisher import make_publisher

    settings = ctx.settings
    version = options.pipeline_version or settings.extraction_pipeline_version
    chat_id = options.chat_id or settings.tg_vip_chat_id
    if not options.dry_run and not chat_id:
        raise ConfigError("TG_VIP_CHAT_ID is not set (or pass --chat); needed to publish")
    span = queue_span(options.queue, settings, options.hours)
    window = aligned_window(span, at=options.at, now=datetime.now(UTC))
    events = window_events(ctx.db, settings, options.queue, window, version, chat_id)
    parts = render_digest(
        events, title=TITLES[options.queue], window_start=window.start, window_end=window.end
    )
    ctx.notes.update(
        queue=options.queue,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
    )
    ctx.count("events", len(events))
    ctx.count("parts", len(parts))
    if not parts:
        log.info("digest_empty", queue=options.queue, window_start=window.start.isoformat())
        ctx.notes["outcome"] = "empty"
        _print(out, f"nothing to post: no events in {_describe(window)}")
        return
    if options.dry_run:
        ctx.notes["outcome"] = "dry_run"
        _print(out, render_text_preview(parts))
        return

    async def publish() -> None:
        assert chat_id is not None
        item = publications.Item(
            queue=options.queue,
            chat_id=chat_id,
            window_start=window.start,
            window_end=window.end,
            pipeline_version=version,
        )
        async with contextlib.aclosing(make_publisher(settings)) as publisher:
            outcome, _ = await publications.publish_once(
                ctx.db,
                publisher,
                item,
                parts,
                holder=ctx.run_id,
                force=options.force,
                part_interval=settings.digest_part_interval_seconds,
            )
        ctx.notes["outcome"] = outcome

    asyncio.run(publish())


def _describe(window: Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M} UTC"


def _print(out: Any, text: str) -> None:
    import sys

    print(text, file=out or sys.stdout)
