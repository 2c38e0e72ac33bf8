"""civicquant's pipeline run in this process: store posts, extract them, read events back.

Posts go in through `RawLog` (which enqueues their extraction jobs), then one `Worker` with
the rules extractor works the queue empty (oneshot, no side effects) under `asyncio.run`,
as `civicquant extract --oneshot --no-side-effects` does. What the pipeline made is read
from the tables: a post's event from `event_sources`, its language from `extractions`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from civicquant import logs, queue
from civicquant.config import Settings, load_settings
from civicquant.db import Database
from civicquant.extract.providers import RulesAdapter
from civicquant.extract.worker import Worker, WorkerOptions
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.runtime.context import JobContext

BATCH = 500  # posts per RawLog.store, what ingest stores per transaction
# The developer's civicquant settings never reach a measurement (bench.processes does the
# same for children).
_SETTING_PREFIXES = ("TG_", "LLM_", "DATABASE_URL", "CIVICQUANT_", "LOG_", "DIGEST_", "EXTRACT")

PostKey = tuple[int, int]  # (channel_id, message_id)


def settings(url: str, workdir: Path) -> Settings:
    """`load_settings()` as a clean install sees it: the defaults, this database, rules.

    The environment is emptied of civicquant settings while they load (and restored), and
    the env file is an empty one in `workdir`, so no `.env` in the working directory counts.
    """
    env_file = workdir / "quality.env"
    env_file.write_text("", encoding="utf-8")
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith(_SETTING_PREFIXES)]:
            del os.environ[key]
        os.environ.update(
            DATABASE_URL=url,
            CIVICQUANT_HOME=str(workdir / "home"),
            CIVICQUANT_ENV_FILE=str(env_file),
            LLM_PROVIDER="rules",
        )
        return load_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def connect(url: str) -> Iterator[Database]:
    """A connection to the scratch database, closed afterwards."""
    with Database.connect(url, application_name="civicquant bench quality") as db:
        yield db


def job_context(db: Database, config: Settings, job_name: str) -> JobContext:
    """A JobContext as the runner makes one: fresh run id, a stop flag never set."""
    return JobContext(config, db, job_name, str(uuid.uuid4()), threading.Event())


def store(db: Database, version: str, channels: Sequence[Channel], posts: Iterable[RawPost]) -> int:
    """Save the channels and store the posts in the order given (backfill, enqueued).

    A stream's posts arrive in time order across channels, so they are stored (and their
    jobs claimed) in that order: consecutive posts of one channel go in one batch of at
    most BATCH. Returns the jobs enqueued.
    """
    rawlog = RawLog(db, pipeline_version=version)
    for channel in channels:
        rawlog.save_channel(channel)
    enqueued = 0
    run: list[RawPost] = []
    for post in posts:
        if run and (post.channel_id != run[0].channel_id or len(run) >= BATCH):
            enqueued += rawlog.store(run[0].channel_id, run, "backfill").enqueued
            run = []
        run.append(post)
    if run:
        enqueued += rawlog.store(run[0].channel_id, run, "backfill").enqueued
    return enqueued


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a oneshot extract run did (the job's counts) and how long `Worker.run` took."""

    counts: Counter[str]
    seconds: float


def extract(db: Database, config: Settings, version: str) -> Extracted:
    """Work the version's queue empty in this process; returns its counts and wall time.

    Raises when a job is left in any state but ok: a measurement over part of the posts
    would be wrong without saying so.
    """
    ctx = job_context(db, config, "extract")
    worker = Worker(ctx, RulesAdapter(), WorkerOptions(version, oneshot=True, side_effects=False))
    started = time.perf_counter()
    asyncio.run(worker.run())
    seconds = time.perf_counter() - started
    left = {status: n for status, n in queue.counts(db).get(version, {}).items() if status != "ok"}
    if left:
        raise RuntimeError(f"extract left jobs of {version} unfinished: {left}{_an_error(db)}")
    return Extracted(ctx.counts, seconds)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Within the block, the pipeline logs only errors (its debug lines would flood stderr).

    A job that fails is caught by `extract` anyway, which names the commonest error.
    """
    logs.configure_logging(fmt="console", level="ERROR")
    try:
        yield
    finally:
        logs.reset_logging()


def _an_error(db: Database) -> str:
    """The most common last_error of failed jobs, as a suffix for a message ('' if none)."""
    row = db.connection.execute(
        "SELECT last_error, count(*) AS n FROM extraction_jobs WHERE last_error IS NOT NULL"
        " GROUP BY last_error ORDER BY n DESC LIMIT 1"
    ).fetchone()
    return f"; {row['n']} with {row['last_error']!r}" if row else ""


def events(db: Database, version: str) -> dict[PostKey, int | None]:
    """Each stored post's event under `version`, None when it joined none (no headline)."""
    rows = db.connection.execute(
        "SELECT r.channel_id, r.message_id, s.event_id FROM raw_messages r"
        " LEFT JOIN event_sources s ON s.raw_message_id = r.id AND s.pipeline_version = %s",
        (version,),
    ).fetchall()
    return {(row["channel_id"], row["message_id"]): row["event_id"] for row in rows}


def languages(db: Database, version: str) -> dict[PostKey, str | None]:
    """Each stored post's extracted language under `version` (None: not extracted)."""
    rows = db.connection.execute(
        "SELECT r.channel_id, r.message_id, e.language FROM raw_messages r"
        " LEFT JOIN extractions e ON e.raw_message_id = r.id AND e.pipeline_version = %s",
        (version,),
    ).fetchall()
    return {(row["channel_id"], row["message_id"]): row["language"] for row in rows}
