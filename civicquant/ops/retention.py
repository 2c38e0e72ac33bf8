"""Retention: old rows archived to gzip-compressed JSON Lines, verified, then deleted in batches.

What is prunable, per table (`sql/queries/prune.sql` holds the exact conditions):

- `job_runs`: runs started before the cut-off, except the latest success of each job (health
  keeps saying when a job last succeeded rather than "never ran").
- `extraction_jobs`: finished jobs (`ok`, `dead`) of retired pipeline versions, i.e. any
  version other than EXTRACTION_PIPELINE_VERSION; the current version's queue is never touched.
- `published_posts`: publications `sent` before the cut-off; `reserved` and `failed` ones stay,
  since they are what a later run resumes.
- `raw_messages` (only when named): posts from before the cut-off, with their revisions. The
  foreign keys from `extraction_jobs`, `extractions` and `event_sources` have no ON DELETE
  action, so a post any of them refers to (of any pipeline version, not just the current one)
  is kept; pruning `extraction_jobs` first in the same run frees the posts that only a retired
  job referred to. A revision goes with its post: it is archived in the file of its post's day
  and deleted in the same statement, and a post that gained a revision since the archive was
  written is kept.

The cut-off is the start of the UTC day `max age` ago, so each day's rows are archived whole,
by one run, into one file per table; `civicquant.ops.archive` holds that format (day files
of `to_jsonb(row)` lines, and `manifest.json` listing each file's rows, SHA-256 and key
range) and restores a file. A row is deleted only after its file is fsynced, renamed into
place, listed in the fsynced manifest and read back to match that listing; deletes then go
by key, 1,000 per statement (one transaction each), re-checking that each row is still
prunable. Rows are read in key order by key range, so memory stays bounded however large
the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import structlog

from civicquant import outbox
from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import UsageError
from civicquant.ops.archive import (
    AGE_COLUMNS,
    BATCH_SIZE,
    REVISIONS,
    TABLES,
    ArchiveError,
    ArchiveFile,
    TableArchive,
    add_to_manifest,
    prepare_archive_dir,
    read_manifest,
    revision_keys,
    row_keys,
    verify,
)
from civicquant.runtime.context import JobContext
from civicquant.timeparse import parse_duration

log = structlog.get_logger("civicquant.ops.retention")

DEFAULT_TABLES = ("job_runs", "extraction_jobs", "published_posts")
# PRUNE_JOB_RUNS_DAYS, PRUNE_EXTRACTION_JOBS_DAYS, PRUNE_PUBLISHED_POSTS_DAYS.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "job_runs": 30,
    "extraction_jobs": 30,
    "published_posts": 90,
}


@dataclass(frozen=True, slots=True)
class PruneOptions:
    """What to prune: each table with its maximum age, and where to archive first."""

    max_age: Mapping[str, timedelta]
    archive_dir: Path | None = None
    dry_run: bool = False
    batch_size: int = BATCH_SIZE

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables to prune, in pruning order."""
        return tuple(table for table in TABLES if table in self.max_age)


@dataclass(slots=True)
class TableResult:
    """One table's prune: what qualified, and (unless a dry run) what was archived and deleted."""

    table: str
    cutoff: datetime
    rows: int  # prunable when the run started
    oldest: datetime | None
    newest: datetime | None
    days: int
    revisions: int = 0  # raw_messages only: their revisions, archived and deleted with them
    archived: int = 0
    revisions_archived: int = 0
    deleted: int = 0
    revisions_deleted: int = 0
    batches: list[int] = field(default_factory=list)  # rows deleted per batch
    files: list[ArchiveFile] = field(default_factory=list)
    stopped: bool = False  # the run was asked to stop before this table was done


@dataclass(slots=True)
class PruneResult:
    """Every table's outcome, in pruning order."""

    dry_run: bool
    archive_dir: Path | None
    tables: list[TableResult] = field(default_factory=list)


Tally = Callable[[str, int], None]


# -- options ------------------------------------------------------------------------------


def parse_tables(text: str | None) -> tuple[str, ...]:
    """The tables named in --tables (None: the defaults); UsageError names unknown ones."""
    if text is None:
        return DEFAULT_TABLES
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--tables names no table; choose from " + ", ".join(TABLES))
    if REVISIONS in names and "raw_messages" not in names:
        raise UsageError(
            f"--tables: {REVISIONS} are pruned together with their posts; name raw_messages"
        )
    unknown = sorted({name for name in names if name not in (*TABLES, REVISIONS)})
    if unknown:
        raise UsageError(
            f"--tables: unknown table{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"choose from {', '.join(TABLES)}"
        )
    return tuple(table for table in TABLES if table in names)


def default_days(settings: Settings) -> dict[str, int]:
    """How many days each pruned table keeps by default (the PRUNE_*_DAYS settings)."""
    return {
        "job_runs": settings.prune_job_runs_days,
        "extraction_jobs": settings.prune_extraction_jobs_days,
        "published_posts": settings.prune_published_posts_days,
    }


def build_options(
    *,
    tables: str | None = None,
    older_than: str | None = None,
    default_days: Mapping[str, int] | None = None,
    archive_dir: Path | None = None,
    dry_run: bool = False,
) -> PruneOptions:
    """Options from the command line: --older-than overrides each named table's default age."""
    chosen = parse_tables(tables)
    days = {**DEFAULT_RETENTION_DAYS, **(default_days or {})}
    override = (
        timedelta(seconds=parse_duration(older_than, "--older-than"))
        if older_than is not None
        else None
    )
    max_age: dict[str, timedelta] = {}
    for table in chosen:
        if override is not None:
            max_age[table] = override
        elif table in days:
            max_age[table] = timedelta(days=days[table])
        else:
            raise UsageError(f"{table} has no default retention: give --older-than with it")
    return PruneOptions(max_age=max_age, archive_dir=archive_dir, dry_run=dry_run)


def cutoff_for(now: datetime, max_age: timedelta) -> datetime:
    """The start of the UTC day `max_age` before `now`: rows before it are prunable."""
    moment = (now - max_age).astimezone(UTC)
    return datetime.combine(moment.date(), time(), tzinfo=UTC)


# -- jobs ---------------------------------------------------------------------------------


def prune_job(ctx: JobContext, options: PruneOptions) -> PruneResult:
    """`civicquant prune`: archive and delete old rows, or (a dry run) plan it; return the result.

    Counts go into ctx (`<table>_archived`, `<table>_deleted`, `<table>_files`, or
    `<table>_would_delete`); `render` shows the result.
    """
    version = ctx.settings.extraction_pipeline_version
    if options.dry_run:
        result = plan(ctx.db, options, pipeline_version=version)
        for table in result.tables:
            ctx.count(f"{table.table}_would_delete", table.rows)
        return result
    result = prune(ctx.db, options, pipeline_version=version, stop=ctx.stop, tally=ctx.count)
    # The flash outbox's stale rows, which its drains delete too: here as well, so it stays
    # small where no flash route (so no drain) runs. No archive: they are no longer news.
    stale = outbox.prune(ctx.db, datetime.now(UTC) - outbox.KEEP_FOR)
    if stale:
        ctx.count("flash_outbox_deleted", stale)
    return result


# -- planning -----------------------------------------------------------------------------


def plan(db: Database, options: PruneOptions, *, pipeline_version: str) -> PruneResult:
    """What a prune would archive and delete, per table; changes nothing."""
    now = _now(db)
    keep_ids = _keep_ids(db) if "job_runs" in options.max_age else []
    result = PruneResult(dry_run=True, archive_dir=options.archive_dir)
    for table in options.tables:
        cutoff = cutoff_for(now, options.max_age[table])
        params = _params(cutoff, pipeline_version, keep_ids)
        result.tables.append(_summary(db, table, params))
    return result


def _summary(db: Database, table: str, params: Mapping[str, Any]) -> TableResult:
    row = db.fetch_one(f"prune_{table}_summary", params)
    assert row is not None  # an aggregate always returns a row
    return TableResult(
        table=table,
        cutoff=params["cutoff"],
        rows=int(row["rows"]),
        oldest=row["oldest"],
        newest=row["newest"],
        days=int(row["days"]),
        revisions=int(row["revisions"]),
    )


# -- pruning ------------------------------------------------------------------------------


def prune(
    db: Database,
    options: PruneOptions,
    *,
    pipeline_version: str,
    stop: threading.Event | None = None,
    tally: Tally | None = None,
) -> PruneResult:
    """Archive (with an archive dir) then delete the prunable rows of each table, then VACUUM."""
    count: Tally = tally or (lambda key, amount: None)
    stop = stop or threading.Event()
    root = options.archive_dir
    if root is not None:
        prepare_archive_dir(root)
    now = _now(db)
    keep_ids = _keep_ids(db) if "job_runs" in options.max_age else []
    result = PruneResult(dry_run=False, archive_dir=root)
    for table in options.tables:
        if stop.is_set():
            log.warning("prune_stopped", before_table=table)
            break
        cutoff = cutoff_for(now, options.max_age[table])
        params = _params(cutoff, pipeline_version, keep_ids)
        outcome = _summary(db, table, params)
        result.tables.append(outcome)
        if outcome.rows == 0:
            log.info("prune_table_clean", table=table, cutoff=cutoff.isoformat())
            continue
        if root is not None:
            _archive_table(db, root, outcome, params, options.batch_size, stop, count)
            if not outcome.stopped:
                _delete_archived(db, root, outcome, params, options.batch_size, stop, count)
        else:
            _delete_unarchived(db, outcome, params, options.batch_size, stop, count)
        if outcome.deleted or outcome.revisions_deleted:
            _vacuum(db, table)
        log.info(
            "prune_table_done",
            table=table,
            cutoff=cutoff.isoformat(),
            archived=outcome.archived,
            deleted=outcome.deleted,
            revisions_deleted=outcome.revisions_deleted,
            files=len(outcome.files),
        )
    return result


def _params(cutoff: datetime, pipeline_version: str, keep_ids: list[int]) -> dict[str, Any]:
    return {"cutoff": cutoff, "pipeline_version": pipeline_version, "keep_ids": keep_ids}


def _now(db: Database) -> datetime:
    row = db.fetch_one("prune_now")
    assert row is not None
    now: datetime = row["now"]
    return now


def _keep_ids(db: Database) -> list[int]:
    return [int(row["id"]) for row in db.fetch_all("prune_job_runs_keep")]


def _archive_table(
    db: Database,
    root: Path,
    outcome: TableResult,
    params: Mapping[str, Any],
    batch_size: int,
    stop: threading.Event,
    count: Tally,
) -> None:
    """Stream the table's prunable rows into day files, then list them in the manifest."""
    table = outcome.table
    raw = table == "raw_messages"
    archive = TableArchive(root, table, also_free_in=(REVISIONS,) if raw else ())
    revisions = TableArchive(root, REVISIONS, stem_of=archive.stem) if raw else None
    after = 0
    try:
        while True:
            if stop.is_set():
                outcome.stopped = True
                log.warning("prune_stopped", table=table, archived=outcome.archived)
                break
            rows = db.fetch_all(
                f"prune_{table}_batch", {**params, "after": after, "limit": batch_size}
            )
            if not rows:
                break
            archive.append((row["day"], int(row["key"]), str(row["line"])) for row in rows)
            outcome.archived += len(rows)
            if revisions is not None:
                ids = [int(row["key"]) for row in rows]
                edits = db.fetch_all("prune_raw_message_revisions_of", {"ids": ids})
                revisions.append((row["day"], int(row["key"]), str(row["line"])) for row in edits)
                outcome.revisions_archived += len(edits)
            after = int(rows[-1]["key"])
        files = archive.close()
        if revisions is not None:
            files += revisions.close()
    finally:
        archive.discard()
        if revisions is not None:
            revisions.discard()
    if not files:
        return
    add_to_manifest(root, files)
    outcome.files = files
    count(f"{table}_archived", outcome.archived)
    count(f"{table}_files", sum(1 for item in files if item.table == table))
    if raw:
        count(f"{REVISIONS}_archived", outcome.revisions_archived)
    log.info(
        "prune_table_archived",
        table=table,
        rows=outcome.archived,
        revisions=outcome.revisions_archived,
        files=len(files),
    )


def _delete_archived(
    db: Database,
    root: Path,
    outcome: TableResult,
    params: Mapping[str, Any],
    batch_size: int,
    stop: threading.Event,
    count: Tally,
) -> None:
    """Check every file of this run against the manifest on disk, then delete by their keys."""
    listed = read_manifest(root)
    for item in outcome.files:
        verify(root, item, listed)
    table = outcome.table
    if table == "raw_messages":
        batches: Iterator[tuple[list[int], list[int]]] = _raw_batches(root, outcome, batch_size)
    else:
        keys = (key for item in outcome.files for key in row_keys(root / item.path))
        batches = ((chunk, []) for chunk in _chunks(keys, batch_size))
    for ids, revision_ids in batches:
        if stop.is_set():
            outcome.stopped = True
            log.warning("prune_stopped", table=table, deleted=outcome.deleted)
            return
        if table == "raw_messages":
            row = db.fetch_one(
                "prune_raw_messages_delete",
                {**params, "ids": ids, "revision_ids": revision_ids},
            )
            assert row is not None
            deleted, revisions = int(row["rows"]), int(row["revisions"])
        else:
            deleted = db.execute(f"prune_{table}_delete", {**params, "ids": ids})
            revisions = 0
        _record_batch(outcome, deleted, revisions, count)
    kept = outcome.archived - outcome.deleted
    if kept:
        # Changed since it was archived (requeued, referred to again, edited): stays, and
        # its archived copy is harmless (a restore skips rows that are present).
        log.info("prune_rows_kept", table=table, rows=kept)


def _delete_unarchived(
    db: Database,
    outcome: TableResult,
    params: Mapping[str, Any],
    batch_size: int,
    stop: threading.Event,
    count: Tally,
) -> None:
    """Delete the prunable rows in key-ordered batches, without archiving them."""
    after = 0
    while not stop.is_set():
        row = db.fetch_one(
            f"prune_{outcome.table}_delete_next", {**params, "after": after, "limit": batch_size}
        )
        assert row is not None
        if not row["rows"]:
            return
        _record_batch(outcome, int(row["rows"]), int(row["revisions"]), count)
        after = int(row["last_key"])
    outcome.stopped = True
    log.warning("prune_stopped", table=outcome.table, deleted=outcome.deleted)


def _record_batch(outcome: TableResult, deleted: int, revisions: int, count: Tally) -> None:
    outcome.deleted += deleted
    outcome.revisions_deleted += revisions
    outcome.batches.append(deleted)
    count(f"{outcome.table}_deleted", deleted)
    if revisions:
        count(f"{REVISIONS}_deleted", revisions)
    log.info(
        "prune_batch_deleted",
        table=outcome.table,
        batch=len(outcome.batches),
        rows=deleted,
        revisions=revisions,
    )


def _raw_batches(
    root: Path, outcome: TableResult, batch_size: int
) -> Iterator[tuple[list[int], list[int]]]:
    """Post keys in batches, each with the keys of its posts' archived revisions."""
    ids: list[int] = []
    revision_ids: list[int] = []
    for post_id, edits in _posts_with_revisions(root, outcome.files):
        ids.append(post_id)
        revision_ids.extend(edits)
        if len(ids) == batch_size:
            yield ids, revision_ids
            ids, revision_ids = [], []
    if ids:
        yield ids, revision_ids


def _posts_with_revisions(
    root: Path, files: Sequence[ArchiveFile]
) -> Iterator[tuple[int, list[int]]]:
    # A day's revisions file is sorted by post, like the day's posts file: walk both at once.
    revisions_by_stem = {Path(item.path).name: item for item in files if item.table == REVISIONS}
    for item in files:
        if item.table != "raw_messages":
            continue
        paired = revisions_by_stem.get(Path(item.path).name)
        if paired is None:
            for post_id in row_keys(root / item.path):
                yield post_id, []
            continue
        edits = revision_keys(root / paired.path)
        pending = next(edits, None)
        for post_id in row_keys(root / item.path):
            mine: list[int] = []
            while pending is not None and pending[0] == post_id:
                mine.append(pending[1])
                pending = next(edits, None)
            if pending is not None and pending[0] < post_id:
                break
            yield post_id, mine
        if pending is not None:
            raise ArchiveError(
                f"{paired.path} has a revision of post {pending[0]} that {item.path} does not "
                "pair with; its remaining rows were not deleted"
            )


def _vacuum(db: Database, table: str) -> None:
    # VACUUM cannot run in a transaction; the Database seam is autocommit.
    db.execute(f"prune_{table}_vacuum")
    if table == "raw_messages":
        db.execute(f"prune_{REVISIONS}_vacuum")
    log.info("prune_vacuumed", table=table)


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- reports ------------------------------------------------------------------------------


def render(result: PruneResult) -> str:
    """A few lines per table: what qualified and what happened (or would happen) to it."""
    lines = ["prune (dry run, nothing changed):" if result.dry_run else "prune:"]
    for table in result.tables:
        before = f"{AGE_COLUMNS[table.table]} before {table.cutoff:%Y-%m-%d %H:%M} UTC"
        if table.rows == 0:
            lines.append(f"  {table.table}: nothing with {before}")
            continue
        span = f"oldest {_when(table.oldest)}, newest {_when(table.newest)}"
        edits = f" and {table.revisions} revisions" if table.table == "raw_messages" else ""
        if result.dry_run:
            where = (
                f"archived to {result.archive_dir} in {_plural(table.days, 'day file')}, then "
                if result.archive_dir is not None
                else ""
            )
            lines.append(
                f"  {table.table}: {table.rows} rows{edits} with {before} ({span}) "
                f"would be {where}deleted"
            )
            continue
        archived = (
            f"archived {table.archived} in {_plural(len(table.files), 'file')}, "
            if result.archive_dir is not None
            else ""
        )
        stopped = " (stopped early)" if table.stopped else ""
        lines.append(
            f"  {table.table}: {table.rows} rows with {before} ({span}): {archived}"
            f"deleted {table.deleted} in {_plural(len(table.batches), 'batch')}{stopped}"
        )
    return "\n".join(lines) + "\n"


def _plural(number: int, noun: str) -> str:
    suffix = "" if number == 1 else ("es" if noun.endswith("ch") else "s")
    return f"{number} {noun}{suffix}"


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "-"
