"""A real `listen` process without Telegram: `python -m tests.helpers.listen_process [options]`.

Runs `civicquant.ingest.live.listen` under `civicquant.runtime.runner.run_job` (lease `listen`,
cooperative), as `civicquant listen` does, but against a `FakeReader` whose live stream
never ends: a background task pushes a new post every `--interval` seconds, with message
ids counting up from just after the channel's high-water mark, so a second run carries on
where the first one's last commit left off. Settings (DATABASE_URL, LEASE_TTL_SECONDS,
LOG_*) come from the environment, as for the CLI. With `--history-since` the channel has a
past too (a post every `--history-step-minutes`, ids from 1), read `--history-delay` seconds
a post, for catch-up tests; `--interval 0` pushes no live posts.

On stdout it prints `listening from message N` once streaming is set up, then
`stored K through message M` after every `--every` posts committed (each line is printed
only after the post's transaction committed), then `done`, or `skipped` when another
process holds the lease. Failures end it the way `civicquant.cli.main` ends a command: one
`civicquant: error: ...` line on stderr and the error's exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from civicquant import logs
from civicquant.config import load_settings
from civicquant.errors import CivicquantError
from civicquant.ingest import catchup
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.live import ListenOptions, listen
from civicquant.ingest.posts import Channel, RawPost, Source
from civicquant.ingest.rawlog import RawLog, StoreResult
from civicquant.ingest.reader import NewPost
from civicquant.runtime.context import JobContext
from civicquant.runtime.runner import run_job
from tests.fakes.reader import FakeReader

STORIES = [
    "The central bank of {place} raises its key rate by {n} basis points, citing inflation",
    "Oil exporters meet in {place} and agree to cut output by {n} thousand barrels a day",
    "Parliament in {place} passes the budget by {n} votes after an all-night session",
    "A {n}-car train derails near {place}; rescuers say there are no casualties so far",
    "Shares of the largest bank in {place} fall {n} percent after a profit warning",
]
PLACES = ["Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Accra", "Tbilisi", "Quito"]


def live_text(message_id: int) -> str:
    story = STORIES[message_id % len(STORIES)]
    place = PLACES[(message_id // len(STORIES)) % len(PLACES)]
    return story.format(place=place, n=message_id % 90 + 10) + f" (update {message_id})"


class ReportingRawLog(RawLog):
    """A RawLog that says on stdout how many live posts it has committed so far."""

    def __init__(self, *args: object, every: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.every = every
        self.stored = 0
        self.last_message_id: int | None = None

    def store(
        self, channel_id: int, posts: Sequence[RawPost], source: Source, **kwargs: bool
    ) -> StoreResult:
        result = super().store(channel_id, posts, source, **kwargs)
        # `store` returns after its transaction committed: these posts are durable now.
        for post in posts:
            self.stored += 1
            self.last_message_id = max(self.last_message_id or 0, post.message_id)
            if self.stored % self.every == 0:
                print(f"stored {self.stored} through message {self.last_message_id}", flush=True)
        return result


def past_posts(channel_id: int, since: datetime, step: timedelta, until: datetime) -> list[RawPost]:
    """The channel's history for a catch-up: post 1 at `since`, then one every `step`."""
    posts: list[RawPost] = []
    at = since
    while at < until:
        message_id = len(posts) + 1
        posts.append(RawPost(channel_id, message_id, at, text=live_text(message_id)))
        at += step
    return posts


class SlowHistoryReader(FakeReader):
    """A FakeReader whose history takes `delay` seconds per post, as Telegram's pages do."""

    def __init__(self, *args: Any, delay: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay = delay

    async def history(self, channel: Channel, **kwargs: Any) -> AsyncGenerator[RawPost, None]:
        async for post in super().history(channel, **kwargs):
            await asyncio.sleep(self.delay)
            yield post


async def feed(reader: FakeReader, channel_id: int, first_id: int, interval: float) -> None:
    """Push a new post every `interval` seconds, forever."""
    message_id = first_id
    while True:
        post = RawPost(channel_id, message_id, datetime.now(UTC), text=live_text(message_id))
        reader.push_update(NewPost(post))
        message_id += 1
        await asyncio.sleep(interval)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channel-id", type=int, default=3001)
    parser.add_argument("--username", default="livewire")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between posts")
    parser.add_argument("--every", type=int, default=100, help="report every N posts stored")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds to listen")
    parser.add_argument(
        "--history-since",
        type=datetime.fromisoformat,
        default=None,
        help="the channel's past: a post every --history-step-minutes from then until now",
    )
    parser.add_argument("--history-step-minutes", type=float, default=10.0)
    parser.add_argument("--history-delay", type=float, default=0.0, help="seconds per post read")
    parser.add_argument("--catchup-batch", type=int, default=None, help="catch-up batch size")
    args = parser.parse_args()
    if args.catchup_batch is not None:
        catchup.BATCH_SIZE = args.catchup_batch
    channel = Channel(args.channel_id, args.username, "Live wire (fake)")

    def body(ctx: JobContext) -> None:
        rawlog = ReportingRawLog(
            ctx.db,
            pipeline_version=ctx.settings.extraction_pipeline_version,
            enqueue=ctx.settings.extraction_queue_enabled,
            # As `civicquant listen` (ingest.storing.rawlog_for): each batch checks the lease.
            fence=ctx.fence,
            every=args.every,
        )
        state = rawlog.channel_state(channel.channel_id)
        first_id = (state.last_message_id or 0) + 1 if state else 1
        history = (
            past_posts(
                channel.channel_id,
                args.history_since,
                timedelta(minutes=args.history_step_minutes),
                datetime.now(UTC),
            )
            if args.history_since is not None
            else []
        )
        reader = SlowHistoryReader(
            history, channels=[channel], end_stream_when_drained=False, delay=args.history_delay
        )
        options = ListenOptions(
            duration_seconds=args.duration,
            catchup_chunk_hours=ctx.settings.catchup_chunk_hours,
            recheck_hours=ctx.settings.recheck_hours,
        )

        async def work() -> None:
            print(f"listening from message {first_id}", flush=True)
            feeding = asyncio.create_task(
                feed(reader, channel.channel_id, first_id, args.interval)
                if args.interval > 0
                else asyncio.sleep(0)
            )
            try:
                await listen(
                    ctx, reader, rawlog, [ChannelSpec(channel_id=channel.channel_id)], options
                )
            finally:
                feeding.cancel()
                await asyncio.gather(feeding, return_exceptions=True)

        asyncio.run(work())

    # The same ending as `civicquant.cli.main`: our errors are one line and an exit status.
    try:
        settings = load_settings()
        logs.configure_logging(
            fmt=settings.log_format, level=settings.log_level, secrets=settings.secret_values()
        )
        result = run_job(settings, "listen", body, lease="listen", cooperative=True)
    except CivicquantError as exc:
        print(f"civicquant: error: {logs.redact(str(exc))}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("civicquant: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:  # a bug: one line for the operator, the traceback in the log
        logs.get_logger("civicquant").exception("internal_error")
        print(
            f"civicquant: internal error: {type(exc).__name__}: {logs.redact(str(exc))}",
            file=sys.stderr,
            flush=True,
        )
        return 70
    print("skipped" if result.skipped else "done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
