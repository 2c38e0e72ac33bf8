"""Flash alerts: a newly breaking, important event posted to the VIP chat at once.

The extract worker calls this after each committed batch (an `AfterCommit` hook wired in by
`civicquant.wiring`). Each alert goes through the publication ledger, so it is posted once
however many workers or retries see it. Sending never fails the batch: a problem is logged.
"""

from __future__ import annotations

import structlog

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.publish import ledger
from civicquant.publish.digest import digest_event
from civicquant.publish.publisher import Publisher, PublisherFactory
from civicquant.publish.render import render_alert

log = structlog.get_logger("civicquant.publish.flash")


class FlashAlerts:
    """The extract worker's side effect: post each newly breaking, important event at once.

    Called with the events a committed batch touched. An event whose importance reaches
    FLASH_MIN_IMPORTANCE and is marked breaking is posted to TG_VIP_CHAT_ID, once per event.
    The Bot API client is created on the first alert, so a run without one imports nothing.
    """

    def __init__(self, settings: Settings, holder: str, make_publisher: PublisherFactory) -> None:
        self.settings = settings
        self.holder = holder
        self._make_publisher = make_publisher
        self._publisher: Publisher | None = None
        self._disabled_logged = False

    async def __call__(self, db: Database, event_ids: list[int]) -> None:
        chat_id = self.settings.tg_vip_chat_id
        if not chat_id or self.settings.tg_bot_token is None:
            if not self._disabled_logged:
                log.warning(
                    "flash_alerts_disabled", reason="TG_BOT_TOKEN or TG_VIP_CHAT_ID is not set"
                )
                self._disabled_logged = True
            return
        rows = db.fetch_all(
            "flash_candidates",
            {
                "event_ids": event_ids,
                "min_importance": self.settings.flash_min_importance,
                "chat_id": chat_id,
            },
        )
        for row in rows:
            event = digest_event(row)
            item = ledger.Item(
                queue="flash",
                chat_id=chat_id,
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
                log.error("flash_alert_failed", event_id=event.event_id, error=str(exc))
                continue
            log.info("flash_alert", event_id=event.event_id, outcome=outcome)

    def _publisher_for(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self._make_publisher(self.settings)
        return self._publisher

    async def aclose(self) -> None:
        if self._publisher is not None:
            await self._publisher.aclose()
