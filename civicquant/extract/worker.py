"""The extract worker: claim jobs, run the provider, store extractions and merge events.

Any number of workers on any number of hosts share the queue: jobs are leased in one
statement with FOR UPDATE SKIP LOCKED, a dead worker's jobs are reclaimed once their lease
expires, and a job's result is written only by the worker that still holds it. While the
queue is empty the worker waits on LISTEN/NOTIFY (ingest notifies on enqueue), with a
short poll as the fallback where notifications do not arrive (PgBouncer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import structlog
from psycopg import sql

from civicquant import outbox, queue
from civicquant.db import Database, Row, hostname
from civicquant.errors import CivicquantError, DatabaseError
from civicquant.events import merge as events
from civicquant.events import similarity
from civicquant.events.merge import ExtractedPost
from civicquant.extract.providers import Provider, ProviderResult
from civicquant.extraction import Extraction
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.extract.worker")

IDLE_POLL_SECONDS = 2.0
RECLAIM_EVERY_SECONDS = 5.0
FLUSH_AFTER_SECONDS = 0.25
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    pipeline_version: str
    oneshot: bool = False
    max_jobs: int | None = None
    max_runtime_seconds: float | None = None
    concurrency: int = 8
    lease_seconds: float = 120.0
    max_attempts: int = 5
    side_effects: bool = True
    shutdown_grace_seconds: float = 10.0
    idle_poll_seconds: float = IDLE_POLL_SECONDS


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased job and the post text it asks about."""

    job_id: int
    raw_message_id: int
    attempt: int
    text: str
    content_sha256: str
    channel_id: int
    message_id: int
    posted_at: Any


class AfterCommit(Protocol):
    """What follows committed extractions (the flash drainer, wired in by `wiring`).

    Called with the events a committed batch queued in the flash outbox. It must return at
    once and never raise: the worker never waits for a send (the drainer sends from a
    thread of its own, on its own connection). `aclose` runs once the worker is done; it
    may wait for a send already in flight, never for more. `counts` are added to the run's.
    """

    counts: Counter[str]

    def __call__(self, event_ids: list[int]) -> None: ...

    async def aclose(self) -> None: ...


ProviderFactory = Callable[[], Provider]
AfterCommitFactory = Callable[[], AfterCommit]


def retry_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: 30 s, 60 s, 120 s ... capped at an hour, ±50%."""
    base = min(RETRY_BASE_SECONDS * 2.0 ** max(attempt - 1, 0), RETRY_CAP_SECONDS)
    jitter: float = (rng or random.Random()).uniform(0.5, 1.5)
    return base * jitter


class Worker:
    """One extract process: a claim loop feeding up to `concurrency` provider calls."""

    def __init__(
        self,
        ctx: JobContext,
        provider: Provider,
        options: WorkerOptions,
        *,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.provider = provider
        self.options = options
        self.after_commit = after_commit if options.side_effects else None
        self.worker_id = f"{hostname()}:{os.getpid()}:{ctx.run_id[:8]}"
        # Results are written on a connection of their own, from a thread (see _finish);
        # claims, lease renewals and releases stay on the job's connection in the loop.
        self._results_db = self.db
        self._slots = asyncio.Semaphore(options.concurrency)
        self._claimed_total = 0
        # Reposts reuse an extraction instead of a provider call (sql/0009): only where a
        # call costs more than a lookup, so not for the rules extractor.
        self._reuse = provider.name != "rules"
        self._fingerprints: dict[int, str] = {}  # job id -> its text's fingerprint
        self._reused: dict[int, int] = {}  # job id -> the post whose extraction it copies
        # This run's first call for each fingerprint: its post and its task (reposts wait).
        self._leaders: dict[str, tuple[int, asyncio.Task[ProviderResult]]] = {}
        self.last_error: str | None = None  # the latest job failure, for the run's error line

    # -- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Work until the queue is empty (oneshot), max-jobs, max-runtime or a stop signal."""
        deadline = (
            time.monotonic() + self.options.max_runtime_seconds
            if self.options.max_runtime_seconds
            else None
        )
        # Claim ahead of the provider, and commit results in batches: one transaction per
        # batch of results, not per job, keeps the event loop free to feed the provider.
        prefetch = max(self.options.concurrency * 4, 100)
        flush_size = max(self.options.concurrency, 25)
        in_flight: dict[asyncio.Task[ProviderResult], Claimed] = {}
        ready: dict[asyncio.Task[ProviderResult], Claimed] = {}
        ready_since = 0.0
        next_reclaim = 0.0
        next_extend = time.monotonic() + self.options.lease_seconds / 3
        # LISTEN before the first claim, so no notification falls between an empty claim and
        # the wait; a oneshot run never waits, so it opens no connection for it.
        listener = None if self.options.oneshot else _Listener(self.db, queue.NOTIFY_CHANNEL)
        self._results_db = self._sibling_or_same("civicquant extract results")
        # This connection now runs only the queue's statements: plan them once, not per claim.
        generic = self._results_db is not self.db and self.db.use_generic_plans()
        try:
            while True:
                now = time.monotonic()
                stopping = self.ctx.stop.is_set() or (deadline is not None and now >= deadline)
                if now >= next_reclaim:
                    reclaimed = queue.reclaim_expired(self.db)
                    if reclaimed:
                        self.ctx.count("reclaimed", reclaimed)
                        log.warning("jobs_reclaimed", jobs=reclaimed, reason="lease expired")
                    next_reclaim = now + RECLAIM_EVERY_SECONDS
                if now >= next_extend and (in_flight or ready):
                    queue.extend_leases(self.db, self.worker_id, self.options.lease_seconds)
                    next_extend = now + self.options.lease_seconds / 3
                held = len(in_flight) + len(ready)
                wanted = 0 if stopping else min(prefetch - held, self._budget())
                queue_empty = False
                if wanted >= max(1, prefetch // 2) or (wanted > 0 and not in_flight):
                    claimed = self._claim(wanted)
                    queue_empty = not claimed
                    in_flight.update(self._start(claimed))
                if in_flight:
                    done, _ = await asyncio.wait(
                        in_flight, timeout=FLUSH_AFTER_SECONDS, return_when=asyncio.FIRST_COMPLETED
                    )
                    if done and not ready:
                        ready_since = time.monotonic()
                    ready.update({task: in_flight.pop(task) for task in done})
                if ready and (
                    len(ready) >= flush_size
                    or not in_flight
                    or stopping
                    or time.monotonic() - ready_since >= FLUSH_AFTER_SECONDS
                ):
                    batch, ready = ready, {}
                    await self._finish(batch)
                if stopping and in_flight:
                    await self._drain(in_flight)
                if in_flight or ready:
                    continue
                if stopping or self._budget() == 0:
                    break
                if not queue_empty:
                    continue  # a batch just finished: claim the next before deciding to wait
                if listener is None:  # oneshot
                    break
                wait = self.options.idle_poll_seconds
                if deadline is not None:
                    wait = min(wait, max(deadline - time.monotonic(), 0.0))
                if await listener.wait(wait, self.ctx.stop):
                    self.ctx.count("woken_by_notify")
        finally:
            if ready:
                await self._finish(ready)
            if in_flight:
                await self._drain(in_flight)
            if listener is not None:
                listener.close()
            if generic:
                with contextlib.suppress(CivicquantError):  # a lost connection says so itself
                    self.db.use_generic_plans(False)
            if self._results_db is not self.db:
                self._results_db.close()
                self._results_db = self.db

    def _sibling_or_same(self, application_name: str) -> Database:
        try:
            return self.db.open_sibling(application_name)
        except CivicquantError:
            return self.db  # a connection not opened by Database.connect: share it

    def _budget(self) -> int:
        if self.options.max_jobs is None:
            return 1 << 30
        return max(self.options.max_jobs - self._claimed_total, 0)

    def _claim(self, limit: int) -> list[Claimed]:
        rows = queue.claim(
            self.db,
            self.options.pipeline_version,
            self.worker_id,
            limit,
            self.options.lease_seconds,
        )
        self._claimed_total += len(rows)
        return [
            Claimed(
                job_id=row["id"],
                raw_message_id=row["raw_message_id"],
                attempt=row["attempts"],
                text=row["text"],
                content_sha256=row["content_sha256"],
                channel_id=row["channel_id"],
                message_id=row["message_id"],
                posted_at=row["posted_at"],
            )
            for row in rows
        ]

    def _start(self, claimed: list[Claimed]) -> dict[asyncio.Task[ProviderResult], Claimed]:
        """A task per claimed job: a provider call, or the reuse of an extraction."""
        if not self._reuse:
            return {asyncio.create_task(self._extract(job)): job for job in claimed}
        for job in claimed:
            self._fingerprints[job.job_id] = similarity.fingerprint(job.text)
        stored = self._stored_extractions(
            {self._fingerprints[job.job_id] for job in claimed} - self._leaders.keys()
        )
        started: dict[asyncio.Task[ProviderResult], Claimed] = {}
        for job in claimed:
            key = self._fingerprints[job.job_id]
            task: asyncio.Task[ProviderResult]
            if key in stored:
                source, extraction = stored[key]
                task = asyncio.create_task(_reused(extraction))
                self._reused[job.job_id] = source
            elif key in self._leaders and not _failed(self._leaders[key][1]):
                source, leader = self._leaders[key]
                task = asyncio.create_task(_follow(leader))
                self._reused[job.job_id] = source
            else:
                task = asyncio.create_task(self._extract(job))
                if key != similarity.EMPTY_FINGERPRINT:
                    self._leaders[key] = (job.raw_message_id, task)
            started[task] = job
        return started

    def _stored_extractions(self, keys: set[str]) -> dict[str, tuple[int, Extraction]]:
        """Stored extractions of these fingerprints under this version, by fingerprint."""
        keys.discard(similarity.EMPTY_FINGERPRINT)
        if not keys:
            return {}
        rows = self.db.fetch_all(
            "reusable_extractions",
            {"pipeline_version": self.options.pipeline_version, "fingerprints": sorted(keys)},
        )
        return {
            str(row["text_fingerprint"]): (int(row["raw_message_id"]), _stored_extraction(row))
            for row in rows
        }

    async def _extract(self, job: Claimed) -> ProviderResult:
        async with self._slots:
            return await self.provider.extract(job.text)

    async def _drain(self, in_flight: dict[asyncio.Task[ProviderResult], Claimed]) -> None:
        """On shutdown: finish what completes within the grace period, release the rest."""
        if not in_flight:
            return
        done, pending = await asyncio.wait(in_flight, timeout=self.options.shutdown_grace_seconds)
        if done:
            await self._finish({task: in_flight.pop(task) for task in done})
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        released = [in_flight.pop(task).job_id for task in pending]
        if released:
            queue.release(self.db, released, self.worker_id)
            self.ctx.count("released", len(released))
            log.info("jobs_released", jobs=len(released))

    # -- results ----------------------------------------------------------------------

    async def _finish(self, done: dict[asyncio.Task[ProviderResult], Claimed]) -> None:
        succeeded: list[tuple[Claimed, ExtractedPost]] = []
        failures: list[tuple[Claimed, str, str]] = []
        for task, job in done.items():
            exc = task.exception()
            if exc is None:
                succeeded.append((job, self._extracted(job, task.result())))
            elif isinstance(exc, CivicquantError):
                failures.append((job, getattr(exc, "error_class", "provider_error"), str(exc)))
            else:
                failures.append((job, "provider_error", f"{type(exc).__name__}: {exc}"))
        # On the results connection, in a thread: provider calls go on while it commits.
        queued = await asyncio.to_thread(self._settle, succeeded, failures)
        if queued and self.after_commit is not None:
            self.after_commit(queued)  # wakes the drainer; never waits for a send

    def _settle(
        self,
        succeeded: list[tuple[Claimed, ExtractedPost]],
        failures: list[tuple[Claimed, str, str]],
    ) -> list[int]:
        """Commit the batch's results and failures; return the events queued for alerts."""
        queued: list[int] = []
        if succeeded:
            try:
                queued = self._commit(succeeded)
            except DatabaseError as exc:
                # The batch rolled back; its jobs are still ours. One post the database
                # refuses must not fail its neighbours: each is stored alone, and only the
                # ones refused again are failed for a retry.
                if len(succeeded) == 1:
                    failures = [*failures, (succeeded[0][0], "persistence_error", str(exc))]
                else:
                    for pair in succeeded:
                        queued.extend(self._settle([pair], []))
        if failures:
            self._fail(failures)
        return queued

    def _extracted(self, job: Claimed, result: ProviderResult) -> ExtractedPost:
        reused_from = self._reused.pop(job.job_id, None)
        if reused_from is not None:
            self.ctx.count("reused")
        return ExtractedPost(
            raw_message_id=job.raw_message_id,
            channel_id=job.channel_id,
            message_id=job.message_id,
            posted_at=job.posted_at,
            text=job.text,
            content_sha256=job.content_sha256,
            extraction=result.extraction,
            provider=self.provider.name,
            model=self.provider.model,
            prompt_fingerprint=self.provider.prompt_fingerprint,
            latency_ms=result.latency_ms,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            text_fingerprint=self._fingerprints.pop(job.job_id, None),
            reused_from=reused_from,
        )

    def _commit(self, pairs: list[tuple[Claimed, ExtractedPost]]) -> list[int]:
        """Complete the jobs we still hold, store their extractions, merge and queue the
        breaking events' flash alerts: one transaction. Returns the events queued."""
        version = self.options.pipeline_version
        db = self._results_db
        queued: list[int] = []
        with db.transaction():
            ours = queue.complete(db, [job.job_id for job, _ in pairs], self.worker_id)
            posts = [post for job, post in pairs if job.job_id in ours]
            events.store_extractions(db, posts, version)
            merged = events.merge(db, posts, version)
            if self.options.side_effects:
                # With the extraction, or not at all: a crash after this commit leaves
                # the alert to the next drain. A --no-side-effects run queues nothing, or
                # the next cron drain would publish what it was asked not to.
                queued = outbox.queue_breaking(db, merged.touched)
        self.ctx.count("ok", len(posts))
        if queued:
            self.ctx.count("alerts_queued", len(queued))
        self.ctx.count("events_created", len(merged.created))
        self.ctx.count("events_joined", len(merged.joined))
        if len(posts) < len(pairs):
            # Our lease expired and another worker took these over: its result stands.
            self.ctx.count("lease_lost", len(pairs) - len(posts))
            log.warning("jobs_lease_lost", jobs=len(pairs) - len(posts))
        # One event per post: not even built at the default level, where it would be dropped.
        if log.is_enabled_for(logging.DEBUG):
            for job, post in pairs:
                if job.job_id in ours:
                    log.debug(
                        "extraction_done",
                        processing_run_id=self.ctx.run_id,
                        raw_message_id=job.raw_message_id,
                        status="ok",
                        attempt_count=job.attempt,
                        pipeline_version=version,
                        prompt_version=self.provider.prompt_fingerprint[:12],
                        topic=post.extraction.topic,
                    )
        return queued

    def _fail(self, failures: list[tuple[Claimed, str, str]]) -> None:
        status = queue.fail(
            self._results_db,
            self.worker_id,
            [
                (job.job_id, error_class, error, retry_delay(job.attempt))
                for job, error_class, error in failures
            ],
            self.options.max_attempts,
        )
        for job, error_class, error in failures:
            state = status.get(job.job_id, "lost")
            self.ctx.count("dead" if state == "dead" else "failed")
            self.last_error = error
            log.warning(
                "extraction_failed",
                processing_run_id=self.ctx.run_id,
                raw_message_id=job.raw_message_id,
                status=state,
                attempt_count=job.attempt,
                pipeline_version=self.options.pipeline_version,
                prompt_version=self.provider.prompt_fingerprint[:12],
                error_class=error_class,
                error=error,
            )


async def _reused(extraction: Extraction) -> ProviderResult:
    """A stored extraction as a provider result: no call, no latency, no tokens."""
    return ProviderResult(extraction, 0.0, None, None)


async def _follow(leader: asyncio.Task[ProviderResult]) -> ProviderResult:
    """The result of this run's call for the same text (its failure fails the repost too)."""
    result = await asyncio.shield(leader)
    return ProviderResult(result.extraction, 0.0, None, None)


def _failed(task: asyncio.Task[ProviderResult]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _stored_extraction(row: Row) -> Extraction:
    return Extraction.model_validate(
        {
            "topic": row["topic"],
            "headline": row["headline"],
            "summary": row["summary"],
            "entities": row["entities"],
            "is_breaking": row["is_breaking"],
            "breaking_window": row["breaking_window"],
            "importance": round(float(row["importance"]), 3),
            "language": row["language"],
        }
    )


class _Listener:
    """LISTEN on its own connection; `wait` returns on a notification or after a timeout."""

    def __init__(self, db: Database, channel: str) -> None:
        self._conn: psycopg.Connection[Any] | None = None
        try:
            self._conn = db.open_sibling("civicquant extract listen").connection
            self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except CivicquantError as exc:
            log.warning("listen_unavailable", error=str(exc), fallback="polling")
            self._conn = None
        except psycopg.Error as exc:
            log.warning("listen_unavailable", error=str(exc).splitlines()[0], fallback="polling")
            self._conn = None

    async def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait for a notification; True when one arrived before the timeout or a stop."""
        conn = self._conn
        deadline = time.monotonic() + timeout

        def block() -> bool:
            # In short slices, so a stop signal is noticed within half a second.
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if conn is None:
                    stop.wait(min(remaining, 0.5))
                    continue
                try:
                    if any(True for _ in conn.notifies(timeout=min(remaining, 0.5), stop_after=1)):
                        return True
                except psycopg.Error as exc:
                    # The LISTEN connection is gone (a restart, a failover): poll from now on.
                    # The worker's own connection reports an outage on its next statement.
                    log.warning(
                        "listen_lost", error=str(exc).strip().splitlines()[0], fallback="polling"
                    )
                    self.close()
                    return False
            return False

        return await asyncio.to_thread(block)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def extract_job(
    ctx: JobContext,
    options: WorkerOptions,
    *,
    make_provider: ProviderFactory,
    make_after_commit: AfterCommitFactory | None = None,
) -> None:
    """`civicquant extract`: build the provider and the side effects, run a worker, close them.

    Both are built inside the worker's event loop (an HTTP client belongs to one loop); with
    `--no-side-effects` the after-commit hook is never built.
    """

    async def work() -> None:
        provider = make_provider()
        after_commit = make_after_commit() if options.side_effects and make_after_commit else None
        ctx.notes["provider"] = provider.name
        ctx.notes["pipeline_version"] = options.pipeline_version
        worker = Worker(ctx, provider, options, after_commit=after_commit)
        try:
            await worker.run()
        finally:
            await provider.aclose()
            if after_commit is not None:
                await after_commit.aclose()
                ctx.counts.update(after_commit.counts)
        require_one_success(ctx, worker.last_error)

    asyncio.run(work())


def require_one_success(ctx: JobContext, last_error: str | None) -> None:
    """Fail the run when it tried at least one job and every one it tried failed.

    A provider that refuses every request (a wrong key, a wrong model) then ends the run
    `failed`, exit 1, naming the last error, instead of a `success` that did nothing.
    A job whose result another worker's took over (lease_lost) was no failure of ours.
    """
    failed = ctx.counts["failed"] + ctx.counts["dead"]
    if failed == 0 or ctx.counts["ok"] or ctx.counts["lease_lost"]:
        return
    raise CivicquantError(
        f"no extraction job succeeded: all {failed} tried failed; the last: {last_error}"
    )
