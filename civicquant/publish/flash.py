"""Flash alerts: each breaking, important event posted at once to each flash route, once.

Extraction queues every breaking event a batch touches in the flash outbox
(`civicquant.outbox`), in the transaction that stores the batch, so the alert is as
durable as the extraction. Drainers send them. A drainer holds the route's lease (its job
name, `digest:NAME`: one drainer at a time per route), takes the outbox events that pass
the route's filters and are neither sent nor being sent nor in doubt for the route's chat,
and publishes each through the publication ledger (reserve, send, record), every ledger
write checking the lease's fence in its own transaction. There are two drainers:

- `civicquant digest --queue NAME`, from cron every minute (`flash_drain_job`): drains the
  route once and exits, a job of its own in job_runs that `health` watches;
- in `civicquant extract`, `FlashDrainer`: a thread with its own connection and event
  loop, woken after each commit that queued alerts, so extraction never waits for the Bot
  API. When extract ends it finishes the send in flight (cutting one off would leave it in
  doubt) and starts no other: the rest is the cron drain's.

An alert that failed before it was sent is tried again by later drains while its event
stays in the outbox (RETRY_FAILED_FOR since an extraction last touched it). One whose
answer was lost, or whose drainer died mid-send, is in doubt: `health` shows it, and only
`digest --queue NAME --event ID --force` sends it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from civicquant import outbox
from civicquant.config import Settings
from civicquant.db import Database, hostname
from civicquant.errors import CivicquantError, ConfigError, TelegramError, UsageError
from civicquant.publish import ledger
from civicquant.publish.digest import digest_event
from civicquant.publish.publisher import Publisher, PublisherFactory, PublishOutcomeUnknown
from civicquant.publish.render import render_alert, render_text_preview
from civicquant.publish.routes import Route, load_routes
from civicquant.runtime import leases, pauses
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.publish.flash")

# An alert that failed before it was sent (Telegram refused it or stayed unreachable) is
# tried again by later drains for this long after extraction last touched its event: as
# long as the event stays in the outbox.
RETRY_FAILED_FOR = outbox.KEEP_FOR
# While another drainer (the cron drain) holds the route's lease, extract's drainer looks
# again this often, so an alert queued after that drainer read the outbox waits about a
# second rather than for the next cron minute. Not measured: one cheap statement a second
# while the lease is busy, which is seldom (a cron drain holds it for one pass).
LEASE_BUSY_RETRY_SECONDS = 1.0


@dataclass
class Drained:
    """What one drain of a route did with its alerts."""

    sent: int = 0
    already_sent: int = 0  # another drainer got there first
    failed: int = 0
    in_doubt: int = 0
    pruned: int = 0
    errors: list[str] = field(default_factory=list)

    def count_into(self, counts: Counter[str]) -> None:
        """Add these to a run's counts, under the names job_runs records."""
        for key, value in (
            ("alerts_sent", self.sent),
            ("alerts_already_sent", self.already_sent),
            ("alerts_failed", self.failed),
            ("alerts_in_doubt", self.in_doubt),
            ("outbox_pruned", self.pruned),
        ):
            if value:
                counts[key] += value


class _LazyPublisher:
    """The Bot API client, made at the first alert: a drain with nothing to send imports none."""

    def __init__(self, make_publisher: PublisherFactory, settings: Settings) -> None:
        self._make = make_publisher
        self._settings = settings
        self._publisher: Publisher | None = None

    def get(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self._make(self._settings)
        return self._publisher

    async def aclose(self) -> None:
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None


def alert_rows(
    db: Database,
    route: Route,
    chat_id: str,
    *,
    event_id: int | None = None,
    resend_in_doubt: bool = False,
) -> list[dict[str, Any]]:
    """The events a drain of `route` alerts `chat_id` about, most important first: those in
    the outbox (or only `event_id`) that pass its filters and are not yet sent."""
    rows = db.fetch_all(
        "flash_outbox_alerts",
        {
            "queue": route.name,
            "chat_id": chat_id,
            "min_importance": route.min_importance,
            "retry_since": datetime.now(UTC) - RETRY_FAILED_FOR,
            "event_id": event_id,
            "resend_in_doubt": resend_in_doubt,
        },
    )
    return route.select(rows)


async def drain_route(
    db: Database,
    route: Route,
    chat_id: str,
    publisher: Callable[[], Publisher],
    *,
    holder: str,
    fence: leases.Fence | None,
    stopping: Callable[[], bool],
    force: bool = False,
    event_id: int | None = None,
) -> Drained:
    """Send the route's waiting alerts to `chat_id`, each once; return what happened.

    The caller holds the route's lease (`fence`), so a reservation left by a drainer that
    died before sending is resumed. `stopping` is asked before each alert: a send in
    flight is always finished. A failed or lost send is counted and the drain goes on;
    LeaseLost and database errors end it.
    """
    drained = Drained()
    if event_id is None:
        drained.pruned = outbox.prune(db, datetime.now(UTC) - RETRY_FAILED_FOR)
    rows = alert_rows(db, route, chat_id, event_id=event_id, resend_in_doubt=force)
    for row in rows:
        if stopping():
            break
        event = digest_event(row)
        # Once reserved, an alert is keyed by its ledger row's window: the event's first
        # sighting may move earlier as older posts join it.
        item = ledger.Item(
            queue=route.name,
            chat_id=chat_id,
            window_start=row["alerted_window_start"] or event.first_seen_at,
            window_end=row["alerted_window_end"] or event.first_seen_at,
            event_id=event.event_id,
        )
        try:
            outcome, _ = await ledger.publish_once(
                db, publisher(), item, render_alert(event), holder=holder, force=force, fence=fence
            )
        except TelegramError as exc:
            lost = isinstance(exc, PublishOutcomeUnknown)
            if lost:
                drained.in_doubt += 1
            else:
                drained.failed += 1
            drained.errors.append(str(exc))
            log.error(
                "flash_alert_failed",
                route=route.name,
                event_id=event.event_id,
                outcome="in_doubt" if lost else "failed",
                error=str(exc),
            )
            continue
        log.info("flash_alert", route=route.name, event_id=event.event_id, outcome=outcome)
        if outcome == "sent":
            drained.sent += 1
        elif outcome == "in_doubt":
            drained.in_doubt += 1
        else:
            drained.already_sent += 1
    return drained


# -- the cron drain: `civicquant digest --queue FLASH_ROUTE` ---------------------------


@dataclass(frozen=True, slots=True)
class FlashOptions:
    queue: str  # the flash route's name
    chat_id: str | None = None
    dry_run: bool = False
    force: bool = False  # with event_id: resend its alert though it is in doubt
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class FlashResult:
    """What a drain has to say: the dry run's preview, or that nothing was waiting."""

    route: str
    outcome: str  # "drained", "empty" or "dry_run"
    preview: str | None = None

    def message(self) -> str | None:
        """The text the CLI prints for this run, if any."""
        if self.outcome == "empty":
            return f"nothing to send: no flash alerts waiting for route {self.route}"
        return self.preview


def flash_drain_job(
    ctx: JobContext, options: FlashOptions, make_publisher: PublisherFactory
) -> FlashResult:
    """`civicquant digest --queue FLASH_ROUTE`: send the route's waiting alerts, each once.

    Raises TelegramError after the drain when an alert failed or is in doubt, so the run
    is `failed` (health and the ops chat's failure alerts see it); the others were sent.
    """
    settings = ctx.settings
    route = load_routes(settings).named(options.queue)
    if route.kind != "flash":
        raise UsageError(f"route {route.name!r} is a {route.kind} route, not a flash route")
    if options.force and options.event_id is None:
        raise UsageError(
            "--force on a flash route needs --event ID: check the chat for that alert first "
            "(health names the event of each alert in doubt)"
        )
    chat_id = options.chat_id or route.chat_id
    ctx.notes["queue"] = route.name
    if options.dry_run:
        rows = alert_rows(ctx.db, route, chat_id or "", event_id=options.event_id)
        parts = [part for row in rows for part in render_alert(digest_event(row))]
        ctx.count("alerts", len(rows))
        if not parts:
            return FlashResult(route.name, "empty")
        return FlashResult(route.name, "dry_run", render_text_preview(parts))
    if not chat_id:
        raise ConfigError("TG_VIP_CHAT_ID is not set (or pass --chat); needed to publish")

    async def drain() -> Drained:
        publisher = _LazyPublisher(make_publisher, settings)
        try:
            return await drain_route(
                ctx.db,
                route,
                chat_id,
                publisher.get,
                holder=ctx.run_id,
                fence=ctx.fence,
                stopping=ctx.stop.is_set,
                force=options.force,
                event_id=options.event_id,
            )
        finally:
            await publisher.aclose()

    drained = asyncio.run(drain())
    drained.count_into(ctx.counts)
    if drained.failed or drained.in_doubt:
        raise TelegramError(
            f"{drained.failed + drained.in_doubt} flash alert(s) of route {route.name} not "
            f"sent ({drained.in_doubt} in doubt): {drained.errors[0]}"
        )
    handled = drained.sent + drained.already_sent
    return FlashResult(route.name, "drained" if handled else "empty")


# -- extract's background drainer ------------------------------------------------------


class FlashDrainer:
    """Extract's after-commit hook: drains the flash routes from a thread of its own.

    Calling it (with the events a commit queued) only wakes the thread, which has its own
    database connection and event loop, so the worker never waits for a send. The thread
    starts at the first alert and reads the routes once; `aclose` lets it finish a send in
    flight, then stops it. What it leaves is the cron drain's.
    """

    def __init__(
        self,
        settings: Settings,
        open_db: Callable[[], Database],
        run_id: str,
        make_publisher: PublisherFactory,
    ) -> None:
        self.settings = settings
        self.counts: Counter[str] = Counter()
        self._open_db = open_db
        self._run_id = run_id  # what the ledger records as the reserver
        self._holder = f"{hostname()}:{os.getpid()}:{run_id[:8]}"
        self._make_publisher = make_publisher
        self._routes: list[Route] | None = None
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, event_ids: list[int]) -> None:
        if self._thread is None:
            if not self._flash_routes():
                return
            # In the worker's log context, so its lines carry the extract run's job and id.
            context = contextvars.copy_context()
            self._thread = threading.Thread(
                target=context.run, args=(self._run,), name="flash-drainer", daemon=True
            )
            self._thread.start()
        self._wake.set()

    async def aclose(self) -> None:
        """Stop after the send in flight, if any; start no other."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _flash_routes(self) -> list[Route]:
        if self._routes is None:
            try:
                routes = load_routes(self.settings).of_kind("flash")
            except CivicquantError as exc:
                # A bad routes file stops the digests (and shows in health), not extraction.
                log.error("flash_routes_invalid", error=str(exc))
                routes = []
            self._routes = [route for route in routes if route.chat_id]
            if routes and (not self._routes or self.settings.tg_bot_token is None):
                log.warning(
                    "flash_alerts_disabled", reason="TG_BOT_TOKEN or TG_VIP_CHAT_ID is not set"
                )
                self._routes = []
        return self._routes

    def _run(self) -> None:
        try:
            asyncio.run(self._drain_until_closed())
        except Exception as exc:  # never take extraction down: the cron drain takes over
            log.error("flash_drainer_stopped", error=f"{type(exc).__name__}: {exc}")

    async def _drain_until_closed(self) -> None:
        db = self._open_db()
        publisher = _LazyPublisher(self._make_publisher, self.settings)
        try:
            busy = False
            while True:
                # Commits before this clear are visible to the pass below; later ones wake
                # the next pass.
                self._wake.wait(LEASE_BUSY_RETRY_SECONDS if busy else None)
                self._wake.clear()
                if self._closing.is_set():
                    return
                busy = False
                for route in self._flash_routes():
                    if self._closing.is_set():
                        return
                    try:
                        busy |= not await self._drain_once(db, route, publisher)
                    except CivicquantError as exc:
                        log.error("flash_drain_failed", route=route.name, error=str(exc))
        finally:
            await publisher.aclose()
            db.close()

    async def _drain_once(self, db: Database, route: Route, publisher: _LazyPublisher) -> bool:
        """One pass over the route under its lease; False when another drainer holds it."""
        assert route.chat_id is not None
        pause = pauses.pauses(db, [route.job]).get(route.job)
        if pause is not None and pause.active:
            # `civicquant pause digest:flash` holds the route's alerts back, whoever drains:
            # they wait in the outbox for `resume` (or the pause's end) and the cron drain.
            return True
        ttl = self.settings.lease_ttl_seconds
        taken = leases.acquire(db, route.job, self._holder, ttl)
        if taken is None:
            return False
        lost = threading.Event()
        heartbeat = leases.Heartbeat(
            db.open_sibling("civicquant extract flash lease"), route.job, self._holder, ttl, lost
        )
        heartbeat.start()
        try:
            drained = await drain_route(
                db,
                route,
                route.chat_id,
                publisher.get,
                holder=self._run_id,
                fence=leases.Fence(route.job, self._holder, taken.generation, ttl),
                stopping=lambda: self._closing.is_set() or lost.is_set(),
            )
        finally:
            heartbeat.stop()
            leases.release(db, route.job, self._holder)
        drained.count_into(self.counts)
        return True
