"""Failing jobs reported to the ops chat: on the Nth failure in a row, and on the recovery.

A run hook (see `civicquant.runtime.runner.FinishHook`), wired in by `civicquant.wiring`.
Each alert goes through the publication ledger, so it is posted once however many runs see
the same streak. Sending never fails the run that triggered it: a problem is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.publish import ledger
from civicquant.publish.publisher import PublisherFactory
from civicquant.publish.render import escape_html
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.ops.failure_alerts")


class FailureAlerts:
    """The run hook: after each recorded run, alert on a failure streak or its end."""

    def __init__(self, make_publisher: PublisherFactory) -> None:
        self._make_publisher = make_publisher

    def __call__(self, ctx: JobContext, status: str) -> None:
        after_run(ctx.settings, ctx.db, ctx.job_name, ctx.run_id, status, self._make_publisher)


def after_run(
    settings: Settings,
    db: Database,
    job_name: str,
    run_id: str,
    status: str,
    make_publisher: PublisherFactory,
) -> None:
    """After a run is recorded: alert on the Nth failure in a row, and on the recovery."""
    if status not in ("success", "failed"):
        return
    streak = db.fetch_one("failure_streak", {"job_name": job_name, "run_id": run_id})
    previous = int(streak["failures"]) if streak else 0
    threshold = settings.alert_after_failures
    alert: _Alert | None = None
    if status == "failed" and previous + 1 == threshold:
        started = streak["streak_started_at"] if streak and previous else datetime.now(UTC)
        text = (
            f"⚠️ <b>civicquant</b>: job <code>{escape_html(job_name)}</code> has failed "
            f"{threshold} times in a row."
        )
        alert = _Alert(job_name, "failing", started, text)
    elif status == "success" and previous >= threshold:
        assert streak is not None
        text = (
            f"✅ <b>civicquant</b>: job <code>{escape_html(job_name)}</code> recovered after "
            f"{previous} failed runs."
        )
        alert = _Alert(job_name, "recovered", streak["streak_started_at"], text)
    if alert is not None:
        _notify(settings, db, alert, run_id, make_publisher)


@dataclass(frozen=True, slots=True)
class _Alert:
    job_name: str
    kind: str  # "failing" or "recovered": one alert of each kind per streak
    streak_started_at: datetime
    text: str


def _notify(
    settings: Settings,
    db: Database,
    alert: _Alert,
    run_id: str,
    make_publisher: PublisherFactory,
) -> None:
    log.warning("job_alert", job_alert=alert.kind, alerted_job=alert.job_name)
    chat_id = settings.tg_ops_chat_id
    if not chat_id or settings.tg_bot_token is None:
        return  # no ops chat configured: the log line above is the alert

    async def send() -> None:
        item = ledger.Item(
            queue="ops",
            chat_id=chat_id,
            window_start=alert.streak_started_at,
            window_end=alert.streak_started_at,
            item_key=f"{alert.job_name}:{alert.kind}",
        )
        async with contextlib.aclosing(make_publisher(settings)) as publisher:
            await ledger.publish_once(
                db, publisher, item, [alert.text], holder=run_id, exclusive=False
            )

    try:
        asyncio.run(send())
    except CivicquantError as exc:
        log.error("job_alert_not_sent", alerted_job=alert.job_name, error=str(exc))
