"""Reparse: stored posts queued for extraction again, without reading Telegram.

`civicquant enqueue` selects posts of the raw log (a window, some channels, at most N) and
adds a job per post for a pipeline version through `civicquant.queue`; `extract` then
works them off. With `force`, existing jobs of that version are reset to pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from civicquant import queue
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.rawlog import RawLog
from civicquant.runtime.context import JobContext
from civicquant.timeparse import Window


@dataclass(frozen=True, slots=True)
class EnqueueOptions:
    pipeline_version: str
    span: Window
    channels: Sequence[ChannelSpec] | None = None  # None: every channel
    limit: int | None = None
    force: bool = False
    priority: int = queue.PRIORITIES["reparse"]


def enqueue_job(ctx: JobContext, options: EnqueueOptions) -> None:
    """`civicquant enqueue`: queue the selected stored posts for the pipeline version."""
    version = options.pipeline_version
    channel_ids = None
    if options.channels is not None:
        channel_ids = RawLog(ctx.db, pipeline_version=version).stored_channel_ids(options.channels)
    selected, touched = queue.enqueue_window(
        ctx.db,
        version,
        since=options.span.since,
        until=options.span.until,
        channel_ids=channel_ids,
        limit=options.limit,
        force=options.force,
        priority=options.priority,
    )
    ctx.notes["pipeline_version"] = version
    ctx.count("selected", selected)
    ctx.count("enqueued", touched)
