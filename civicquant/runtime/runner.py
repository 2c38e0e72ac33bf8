"""Running one job: its lease, its job_runs row, its signals, and its outcome.

Every cron-started subcommand goes through `run_job`: it takes the job's lease (or records
a `skipped` run and exits 0 when a live process holds it), records the run, renews the
lease while the body works, and on any exit (success, error, SIGTERM, SIGINT) records the
outcome and releases the lease.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import structlog

from civicquant import logs, migrations, redaction
from civicquant.config import Settings
from civicquant.db import Database, hostname, open_database
from civicquant.errors import CivicquantError, DatabaseUnavailable
from civicquant.publish import flash as alerts
from civicquant.runtime import leases, runs

log = structlog.get_logger("civicquant.runtime.runner")


class Interrupted(CivicquantError):
    """The run was stopped by a signal before it could finish."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}")
        self.exit_code = 128 + signum


@dataclass
class JobContext:
    """What a job body gets: settings, the database, its run id, a stop flag and counters."""

    settings: Settings
    db: Database
    job_name: str
    run_id: str
    stop: threading.Event
    counts: Counter[str] = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)

    def count(self, key: str, amount: int = 1) -> None:
        self.counts[key] += amount

    def summary(self) -> dict[str, Any]:
        return {**self.counts, **self.notes}


def run_job(
    settings: Settings,
    job_name: str,
    body: Callable[[JobContext], None],
    *,
    lease: str | None = None,
    cooperative: bool = False,
) -> dict[str, Any]:
    """Run `body` as the job `job_name`; return its counts.

    `lease` names the lease the job needs (None: no lease, e.g. queue workers that coordinate
    through their queue rows). A `cooperative` body watches `ctx.stop` and winds down on the
    first SIGTERM/SIGINT; other bodies are interrupted at once. Raises CivicquantError on
    failure, after the failed run is recorded.
    """
    run_id = str(uuid.uuid4())
    logs.bind_run(job_name, run_id)
    db = open_database(settings, application_name=f"civicquant {job_name}")
    try:
        migrations.require_current(db)
        holder = f"{hostname()}:{os.getpid()}:{run_id[:8]}"
        if lease is not None:
            taken = leases.acquire(db, lease, holder, settings.lease_ttl_seconds)
            if taken is None:
                held = leases.current(db, lease)
                held_by = str(held["holder"]) if held else "unknown"
                runs.record_skipped(db, job_name, run_id, held_by)
                log.info(
                    "job_skipped_lease_held",
                    lease=lease,
                    held_by=held_by,
                    expires_at=str(held["expires_at"]) if held else None,
                )
                return {"skipped": True, "lease_held_by": held_by}
        runs.start(db, job_name, run_id)
        return _run_body(settings, db, job_name, run_id, body, lease, holder, cooperative)
    finally:
        db.close()


def _run_body(
    settings: Settings,
    db: Database,
    job_name: str,
    run_id: str,
    body: Callable[[JobContext], None],
    lease: str | None,
    holder: str,
    cooperative: bool,
) -> dict[str, Any]:
    stop = threading.Event()
    ctx = JobContext(settings, db, job_name, run_id, stop)
    heartbeat: leases.Heartbeat | None = None
    if lease is not None:
        heartbeat_db = db.open_sibling(f"civicquant {job_name} lease")
        heartbeat = leases.Heartbeat(
            heartbeat_db, lease, holder, settings.lease_ttl_seconds, on_lost=stop
        )
        heartbeat.start()
    previous = _install_signal_handlers(stop, cooperative)
    log.info("job_started", lease=lease)
    try:
        body(ctx)
    except BaseException as exc:
        error = _error_line(exc)
        _record_end(ctx, "failed", error)
        log.error("job_failed", error=error, **ctx.summary())
        if isinstance(exc, CivicquantError):
            raise
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(signal.SIGINT) from None
        raise
    else:
        if heartbeat is not None and heartbeat.lost:
            error = f"lease {lease} was lost (expired and taken over) while running"
            _record_end(ctx, "failed", error)
            raise CivicquantError(error)
        _record_end(ctx, "success", None)
        log.info("job_finished", **ctx.summary())
        return ctx.summary()
    finally:
        _restore_signal_handlers(previous)
        if heartbeat is not None:
            heartbeat.stop()
        if lease is not None:
            _release(db, lease, holder)


def _record_end(ctx: JobContext, status: str, error: str | None) -> None:
    """Record how the run ended, then let alerts see the job's failure streak."""
    try:
        runs.finish(ctx.db, ctx.run_id, status, ctx.summary(), error)
    except DatabaseUnavailable:
        # The job's connection died with the server (a restart): try once on a new one,
        # so the run is recorded as it ended and counts towards the failure streak.
        try:
            with ctx.db.open_sibling(f"civicquant {ctx.job_name} end") as fresh:
                runs.finish(fresh, ctx.run_id, status, ctx.summary(), error)
        except CivicquantError as exc:
            # Still gone: the run stays `running`; health shows it as not finished.
            log.error("job_run_not_recorded", status=status, error=str(exc))
            return
    except CivicquantError as exc:
        log.error("job_run_not_recorded", status=status, error=str(exc))
        return
    try:
        alerts.after_run(ctx.settings, ctx.db, ctx.job_name, ctx.run_id, status)
    except CivicquantError as exc:
        log.error("job_alert_check_failed", error=str(exc))


def _release(db: Database, lease: str, holder: str) -> None:
    """Release the lease, on a new connection if the job's died; else it simply expires."""
    try:
        leases.release(db, lease, holder)
        return
    except DatabaseUnavailable:
        pass
    except CivicquantError as exc:
        log.warning("lease_release_failed", lease=lease, error=str(exc))
        return
    try:
        with db.open_sibling("civicquant lease release") as fresh:
            leases.release(fresh, lease, holder)
    except CivicquantError as exc:
        log.warning("lease_release_failed", lease=lease, error=str(exc))


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, CivicquantError):
        text = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted by SIGINT"
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return redaction.redact(text.splitlines()[0] if text else type(exc).__name__)


SignalHandler = Callable[[int, FrameType | None], Any] | int | None


def _install_signal_handlers(stop: threading.Event, cooperative: bool) -> dict[int, SignalHandler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        if cooperative and not stop.is_set():
            log.info("job_stopping", signal=signal.Signals(signum).name)
            stop.set()
            return
        raise Interrupted(signum)

    previous: dict[int, SignalHandler] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handle)
    return previous


def _restore_signal_handlers(previous: dict[int, SignalHandler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
