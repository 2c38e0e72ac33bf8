"""Running one job: its lease, its job_runs row, its signals, and its outcome.

Every cron-started subcommand goes through `run_job`: it takes the job's lease (or records
a `skipped` run and exits 0 when a live process holds it), records the run, renews the
lease while the body works, and on any exit (success, error, SIGTERM, SIGINT) records the
outcome, runs the `on_finish` hooks and releases the lease.

The runner knows nothing of publishing: what happens after a run (the ops chat's failure
alerts) is a hook that the composition root (`civicquant.wiring`) passes in.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Generic, TypeVar

import structlog

from civicquant import logs, migrations, redaction
from civicquant.config import Settings
from civicquant.db import Database, hostname, open_database
from civicquant.errors import CivicquantError, DatabaseUnavailable, JobSkipped
from civicquant.runtime import leases, pauses, runs
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.runtime")

T = TypeVar("T")

# Called once a run's end is recorded, with its context and status ("success", "failed",
# "interrupted" or "skipped").
# A hook's CivicquantError is logged; it never changes how the run ended.
FinishHook = Callable[[JobContext, str], None]


class Interrupted(CivicquantError):
    """The run was stopped by a signal before it could finish; `counts`: how far it got.

    Its exit status is the shell's for a signal: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int, counts: dict[str, Any] | None = None) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")
        self.exit_code = 128 + signum
        self.counts = dict(counts or {})


class _Signalled(KeyboardInterrupt):
    """A stop signal, raised by its handler; the runner turns it into Interrupted.

    A KeyboardInterrupt, not an Exception: asyncio logs and drops an Exception raised inside
    one of its callbacks (where a handler may run while `digest` publishes), which left the
    process hung, and a body's `except Exception` would swallow it too.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass(frozen=True)
class JobOutcome(Generic[T]):
    """How a run ended well: its counts (as job_runs records them) and what the body returned.

    A run skipped because another process holds the lease has `skipped` set, the holder in
    `counts["lease_held_by"]`, and no value; a run of a paused job has `paused` set.
    """

    counts: dict[str, Any] = field(default_factory=dict)
    value: T | None = None

    @property
    def skipped(self) -> bool:
        return bool(self.counts.get("skipped"))


def run_job(
    settings: Settings,
    job_name: str,
    body: Callable[[JobContext], T],
    *,
    lease: str | None = None,
    cooperative: bool = False,
    interruptible: bool = False,
    on_finish: Sequence[FinishHook] = (),
) -> JobOutcome[T]:
    """Run `body` as the job `job_name`; return its counts and the body's return value.

    `lease` names the lease the job needs (None: no lease, e.g. queue workers that coordinate
    through their queue rows). A `cooperative` body watches `ctx.stop` and winds down on the
    first SIGTERM/SIGINT; other bodies are interrupted at once. An `interruptible` body's
    wind-down leaves its work unfinished (a backfill, an import): the run is then recorded
    `interrupted` and Interrupted raised; otherwise (listen, extract: a stop is how they end)
    it is a success. A run cut off by a signal is always `interrupted`, never `failed`.
    `on_finish` hooks run after the run's end is recorded. Raises CivicquantError on
    failure, after the failed run is recorded.
    """
    run_id = str(uuid.uuid4())
    logs.bind_run(job_name, run_id)
    db = open_database(settings, application_name=f"civicquant {job_name}")
    try:
        migrations.require_current(db)
        abandoned = runs.abandon_gone(db)
        if abandoned:
            log.warning("job_runs_abandoned", run_ids=abandoned)

        paused = pauses.pauses(db, [job_name]).get(job_name)
        if paused is not None and paused.active:
            note = {"paused": True, "paused_by": paused.paused_by, "pause": paused.describe()}
            runs.record_paused(db, job_name, run_id, note)
            log.info("job_paused", pause=paused.describe())
            return JobOutcome(note)
        holder = f"{hostname()}:{os.getpid()}:{run_id[:8]}"
        fence: leases.Fence | None = None
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
                return JobOutcome({"skipped": True, "lease_held_by": held_by})
            fence = leases.Fence(lease, holder, taken.generation, settings.lease_ttl_seconds)
        runs.start(db, job_name, run_id)
        run = _Run(lease, holder, cooperative, interruptible, tuple(on_finish))
        ctx = JobContext(settings, db, job_name, run_id, threading.Event(), fence=fence)
        return _run_body(ctx, body, run)
    finally:
        db.close()


@dataclass(frozen=True, slots=True)
class _Run:
    """How a run is held: its lease and holder, whether it winds down, what follows it."""

    lease: str | None
    holder: str
    cooperative: bool
    interruptible: bool
    on_finish: tuple[FinishHook, ...]


def _run_body(ctx: JobContext, body: Callable[[JobContext], T], run: _Run) -> JobOutcome[T]:
    lease, holder = run.lease, run.holder
    heartbeat: leases.Heartbeat | None = None
    if lease is not None:
        heartbeat_db = ctx.db.open_sibling(f"civicquant {ctx.job_name} lease")
        heartbeat = leases.Heartbeat(
            heartbeat_db, lease, holder, ctx.settings.lease_ttl_seconds, on_lost=ctx.stop
        )
        heartbeat.start()
    received: list[int] = []  # the stop signals, in order
    previous = _install_signal_handlers(ctx.stop, run.cooperative, received)
    log.info("job_started", lease=lease)
    try:
        value = body(ctx)
    except JobSkipped as skipped:
        ctx.notes.update(skipped.notes)
        _record_end(ctx, "skipped", None, ())
        log.info("job_skipped", reason=str(skipped), **ctx.summary())
        return JobOutcome({**ctx.summary(), "skipped": True})
    except BaseException as exc:
        signum = _stopping_signal(exc, received if run.interruptible else [])
        if signum is not None:
            raise _interrupted(ctx, signum, run) from None
        error = _error_line(exc)
        _record_end(ctx, "failed", error, run.on_finish)
        log.error("job_failed", error=error, **ctx.summary())
        raise
    else:
        if run.interruptible and received:
            raise _interrupted(ctx, received[0], run)
        if heartbeat is not None and heartbeat.lost:
            error = f"lease {lease} was lost (expired and taken over) while running"
            _record_end(ctx, "failed", error, run.on_finish)
            raise CivicquantError(error)
        _record_end(ctx, "success", None, run.on_finish)
        log.info("job_finished", **ctx.summary())
        return JobOutcome(ctx.summary(), value)
    finally:
        _restore_signal_handlers(previous)
        if heartbeat is not None:
            heartbeat.stop()
        if lease is not None:
            _release(ctx.db, lease, holder)


def _stopping_signal(exc: BaseException, received: list[int]) -> int | None:
    """The signal that ended the body, if one did: raised by it, or one it wound down on."""
    if isinstance(exc, _Signalled):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    # An interruptible body may end a wind-down with an error of its own ("stopped while
    # reading the header"): the signal is still why it ended.
    return received[0] if received else None


def _interrupted(ctx: JobContext, signum: int, run: _Run) -> Interrupted:
    """Record the run `interrupted`, with how far it got; the Interrupted to raise."""
    stopped = Interrupted(signum, ctx.summary())
    _record_end(ctx, "interrupted", str(stopped), run.on_finish)
    log.warning("job_interrupted", signal=stopped.signal_name, **ctx.summary())
    return stopped


def _record_end(
    ctx: JobContext, status: str, error: str | None, on_finish: Sequence[FinishHook]
) -> None:
    """Record how the run ended, then run the hooks (the failure alerts see the streak)."""
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
    for hook in on_finish:
        try:
            hook(ctx, status)
        except CivicquantError as exc:
            log.error("job_finish_hook_failed", error=str(exc))


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
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return redaction.redact(text.splitlines()[0] if text else type(exc).__name__)


SignalHandler = Callable[[int, FrameType | None], Any] | int | None


def _install_signal_handlers(
    stop: threading.Event, cooperative: bool, received: list[int]
) -> dict[int, SignalHandler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if cooperative and not stop.is_set():
            log.info("job_stopping", signal=signal.Signals(signum).name)
            stop.set()
            return
        raise _Signalled(signum)

    previous: dict[int, SignalHandler] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handle)
    return previous


def _restore_signal_handlers(previous: dict[int, SignalHandler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
