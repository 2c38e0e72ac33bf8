"""Flash alerts: a newly breaking, important event posted at once to each flash route.

The extract worker calls this after each committed batch (an `AfterCommit` hook wired in by
`civicquant.wiring`). Each alert goes through the publication ledger, so it is posted once
however many workers or retries see it. Sending never fails the batch: a problem is logged.
An alert that failed before it was sent is tried again with later batches (for
RETRY_FAILED_FOR); one whose answer was lost is in doubt and never resent by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.publish import ledger
from civicquant.publish.digest import digest_event
from civicquant.publish.publisher import Publisher, PublisherFactory
from civicquant.publish.render import render_alert
from civicquant.publish.routes import Route, load_routes

log = structlog.get_logger("civicquant.publish.flash")

# An alert that failed before it was sent (Telegram refused it or stayed unreachable) is
# tried again with later batches for this long; older, it is no longer flash news (the
# breaking digests still carry the event).
RETRY_FAILED_FOR = timedelta(hours=1)


class FlashAlerts:
    """The extract worker's side effect: post each newly breaking, important event at once.

    Called with the events a committed batch touched. An event marked breaking that passes
    a flash route's filters (importance at least its min_importance: FLASH_MIN_IMPORTANCE
    for the built-in `flash` route, to TG_VIP_CHAT_ID) is posted to its chat, once per event
    and route. The routes are read once, at the first batch. The Bot API client is created
    on the first alert, so a run without one imports nothing.
    """

    def __init__(self, settings: Settings, holder: str, make_publisher: PublisherFactory) -> None:
        self.settings = settings
        self.holder = holder
        self._make_publisher = make_publisher
        self._publisher: Publisher | None = None
        self._routes: list[Route] | None = None
        self._disabled_logged = False

    async def __call__(self, db: Database, event_ids: list[int]) -> None:
        if self._routes is None:
            try:
                self._routes = load_routes(self.settings).of_kind("flash")
            except CivicquantError as exc:
                # A bad routes file stops the digests (and shows in health), not extraction.
                log.error("flash_routes_invalid", error=str(exc))
                self._routes = []
        routes = [route for route in self._routes if route.chat_id]
        if not routes or self.settings.tg_bot_token is None:
            if self._routes and not self._disabled_logged:
                log.warning(
                    "flash_alerts_disabled", reason="TG_BOT_TOKEN or TG_VIP_CHAT_ID is not set"
                )
                self._disabled_logged = True
            return
        for route in routes:
            await self._alert(db, route, event_ids)

    async def _alert(self, db: Database, route: Route, event_ids: list[int]) -> None:
        assert route.chat_id is not None
        rows = db.fetch_all(
            "flash_candidates",
            {
                "event_ids": event_ids,
                "min_importance": route.min_importance,
                "queue": route.name,
                "chat_id": route.chat_id,
                "retry_since": datetime.now(UTC) - RETRY_FAILED_FOR,
            },
        )
        for row in route.select(rows):
            event = digest_event(row)
            item = ledger.Item(
                queue=route.name,
                chat_id=route.chat_id,
                window_start=event.first_seen_at,
                window_end=event.first_seen_at,
                event_id=event.event_id,
            )
            try:
                outcome, _ = await ledger.publish_once(
                    db,
                    self._publisher_for(),
                    item,
                    render_alert(event),
                    holder=self.holder,
                    exclusive=False,
                )
            except CivicquantError as exc:
                log.error(
                    "flash_alert_failed", route=route.name, event_id=event.event_id, error=str(exc)
                )
                continue
            log.info("flash_alert", route=route.name, event_id=event.event_id, outcome=outcome)

    def _publisher_for(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self._make_publisher(self.settings)
        return self._publisher

    async def aclose(self) -> None:
        if self._publisher is not None:
            await self._publisher.aclose()
