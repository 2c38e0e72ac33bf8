"""Alerts: breaking events flashed to the VIP chat, and failing jobs reported to the ops chat.

Both go through the publication ledger, so each is posted once however many workers or
retries see it. Sending an alert never fails the job that triggered it: a problem is
logged instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.publish import ledger as publications
from civicquant.publish.digest import digest_event
from civicquant.publish.publisher import Publisher
from civicquant.publish.render import render_alert

log = structlog.get_logger("civicquant.publish.flash")


class FlashAlerts:
    """The extract worker's side effect: post each newly breaking, important event at once.

    Called with the events a committed batch touched. An event whose importance reaches
    FLASH_MIN_IMPORTANCE and is marked breaking is posted to TG_VIP_CHAT_ID, once per event.
    The Bot API client is created on the first alert, so a run without one imports nothing.
    """

    def __init__(self, settings: Settings, holder: str) -> None:
        self.settings = settings
        self.holder = holder
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
            item = publications.Item(
                queue="flash",
                chat_id=chat_id,
                window_start=event.first_seen_at,
                window_end=event.first_seen_at,
                event_id=event.event_id,
            )
            try:
                outcome, _ = await publications.publish_once(
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
            from civicquant.publish.publisher import make_publisher

            self._publisher = make_publisher(self.settings)
        return self._publisher

    async def aclose(self) -> None:
        if self._publisher is not None:
            await self._publisher.aclose()


def after_run(settings: Settings, db: Database, job_name: str, run_id: str, status: str) -> None:
    """After a run is recorded: alert on the Nth failure in a row, and on the recovery."""
    if status not in ("success", "failed"):
        return
    streak = db.fetch_one("failure_streak", {"job_name": job_name, "run_id": run_id})
    previous = int(streak["failures"]) if streak else 0
    threshold = settings.alert_after_failures
    if status == "failed" and previous + 1 == threshold:
        started = streak["streak_started_at"] if streak and previous else datetime.now(UTC)
        text = (
            f"⚠️ <b>civicquant</b>: job <code>{_escape(job_name)}</code> has failed "
            f"{threshold} times in a row."
        )
        _notify(settings, db, job_name, "failing", started, text, run_id)
    elif status == "success" and previous >= threshold:
        assert streak is not None
        text = (
            f"✅ <b>civicquant</b>: job <code>{_escape(job_name)}</code> recovered after "
            f"{previous} failed runs."
        )
        _notify(settings, db, job_name, "recovered", streak["streak_started_at"], text, run_id)


def _notify(
    settings: Settings,
    db: Database,
    job_name: str,
    kind: str,
    streak_started_at: datetime,
    text: str,
    run_id: str,
) -> None:
    log.warning("job_alert", job_alert=kind, alerted_job=job_name)
    chat_id = settings.tg_ops_chat_id
    if not chat_id or settings.tg_bot_token is None:
        return  # no ops chat configured: the log line above is the alert

    async def send() -> None:
        from civicquant.publish.publisher import make_publisher

        item = publications.Item(
            queue="ops",
            chat_id=chat_id,
            window_start=streak_started_at,
            window_end=streak_started_at,
            item_key=f"{job_name}:{kind}",
        )
        async with contextlib.aclosing(make_publisher(settings)) as publisher:
            await publications.publish_once(
                db, publisher, item, [text], holder=run_id, exclusive=False
            )

    try:
        asyncio.run(send())
    except CivicquantError as exc:
        log.error("job_alert_not_sent", alerted_job=job_name, error=str(exc))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
