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
by one run, into one file per table: `<table>/<YYYY-MM-DD>.jsonl.gz` (`.2`, `.3` ... when
that name is taken, e.g. by rows restored and pruned again). Lines are PostgreSQL's own
`to_jsonb(row)`, which `jsonb_populate_recordset` reads back on restore. `manifest.json` at
the archive root lists every file: table, day, rows, SHA-256 and key range. A row is deleted
only after its file is fsynced, renamed into place, listed in the fsynced manifest and read
back to match that listing; deletes then go by key, 1,000 per statement (one transaction
each), re-checking that each row is still prunable. Rows are read in key order by key range,
so memory stays bounded however large the table.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import structlog

from civicquant.db import Database
from civicquant.errors import CivicquantError, InputFormatError, UsageError
from civicquant.runtime.runner import JobContext
from civicquant.timeparse import parse_duration

log = structlog.get_logger("civicquant.ops.retention")

BATCH_SIZE = 1000
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "civicquant-prune-archive/1"

# In the order they are pruned: extraction_jobs before raw_messages frees the posts only
# a retired job referred to.
TABLES = ("job_runs", "published_posts", "extraction_jobs", "raw_messages")
DEFAULT_TABLES = ("job_runs", "extraction_jobs", "published_posts")
# PRUNE_JOB_RUNS_DAYS, PRUNE_EXTRACTION_JOBS_DAYS, PRUNE_PUBLISHED_POSTS_DAYS.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "job_runs": 30,
    "extraction_jobs": 30,
    "published_posts": 90,
}
REVISIONS = "raw_message_revisions"
# The column each table's rows are aged and filed by.
AGE_COLUMNS = {
    "job_runs": "started_at",
    "extraction_jobs": "finished_at",
    "published_posts": "sent_at",
    "raw_messages": "posted_at",
    REVISIONS: "raw_messages.posted_at",
}
RESTORABLE = (*TABLES, REVISIONS)
KEY_COLUMN = "id"  # every prunable table's primary key

_READ_SIZE = 1024 * 1024
_GZIP_LEVEL = 6


class ArchiveError(CivicquantError):
    """An archive file could not be written or did not read back as written; its rows stay."""


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


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One archive file as listed in the manifest."""

    path: str  # relative to the archive root, e.g. job_runs/2026-10-01.jsonl.gz
    table: str
    day: date
    rows: int
    sha256: str
    key_min: int
    key_max: int

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "day": self.day.isoformat(),
            "rows": self.rows,
            "sha256": self.sha256,
            "key_column": KEY_COLUMN,
            "key_min": self.key_min,
            "key_max": self.key_max,
            "age_column": AGE_COLUMNS[self.table],
        }

    @classmethod
    def from_manifest(cls, path: str, entry: Mapping[str, Any]) -> ArchiveFile:
        try:
            return cls(
                path=path,
                table=str(entry["table"]),
                day=date.fromisoformat(str(entry["day"])),
                rows=int(entry["rows"]),
                sha256=str(entry["sha256"]),
                key_min=int(entry["key_min"]),
                key_max=int(entry["key_max"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputFormatError(
                f"{MANIFEST}: the entry for {path} is malformed ({exc})"
            ) from None


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


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """An archive file loaded back: its rows, how many were inserted, how many were present."""

    path: Path
    table: str
    rows: int
    inserted: int
    verified: bool  # its SHA-256 and row count matched a manifest beside it

    @property
    def already_present(self) -> int:
        return self.rows - self.inserted


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


def prune_job(ctx: JobContext, options: PruneOptions, *, out: IO[str] | None = None) -> None:
    """`civicquant prune`: archive and delete old rows (a dry run prints the plan instead).

    Counts go into ctx (`<table>_archived`, `<table>_deleted`, `<table>_files`, or
    `<table>_would_delete`); call `prune` directly for the per-table result.
    """
    version = ctx.settings.extraction_pipeline_version
    if options.dry_run:
        result = plan(ctx.db, options, pipeline_version=version)
        for table in result.tables:
            ctx.count(f"{table.table}_would_delete", table.rows)
        _print(out, render(result))
        return
    prune(ctx.db, options, pipeline_version=version, stop=ctx.stop, tally=ctx.count)


def restore_job(ctx: JobContext, path: Path, *, out: IO[str] | None = None) -> None:
    """`civicquant prune --restore FILE`: load one archive file back and print what happened."""
    result = restore(ctx.db, path)
    ctx.notes["restored_table"] = result.table
    ctx.count("restored", result.inserted)
    ctx.count("already_present", result.already_present)
    _print(out, render_restore(result))


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
        _prepare_archive_dir(root)
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
    archive = _TableArchive(root, table, also_free_in=(REVISIONS,) if raw else ())
    revisions = _TableArchive(root, REVISIONS, stem_of=archive.stem) if raw else None
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
    _add_to_manifest(root, files)
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
    listed = _read_manifest(root)
    for item in outcome.files:
        _verify(root, item, listed)
    table = outcome.table
    if table == "raw_messages":
        batches: Iterator[tuple[list[int], list[int]]] = _raw_batches(root, outcome, batch_size)
    else:
        keys = (key for item in outcome.files for key in _keys(root / item.path))
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
            for post_id in _keys(root / item.path):
                yield post_id, []
            continue
        edits = _revision_keys(root / paired.path)
        pending = next(edits, None)
        for post_id in _keys(root / item.path):
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


# -- archive files ------------------------------------------------------------------------


@dataclass(slots=True)
class _DayFile:
    day: date
    stem: str
    temp: Path
    final: Path
    digest: Any = field(default_factory=hashlib.sha256)
    rows: int = 0
    key_min: int = 0
    key_max: int = 0


class _TableArchive:
    """One table's day files of one run: appended batch by batch, renamed into place at close.

    Each batch is one gzip member appended to its day's file (a multi-member gzip file reads
    as one stream), so only one file is open at a time however many days a table spans. The
    SHA-256 covers the bytes as written; the manifest records it and the check re-reads them.
    """

    def __init__(
        self,
        root: Path,
        table: str,
        *,
        also_free_in: Sequence[str] = (),
        stem_of: Callable[[date], str] | None = None,
    ) -> None:
        self.root = root
        self.table = table
        self.folder = root / table
        self._name_folders = [self.folder, *(root / other for other in also_free_in)]
        self._stem_of = stem_of
        self._files: dict[date, _DayFile] = {}
        self._closed = False

    def stem(self, day: date) -> str:
        """The file name (no suffix) this run uses for a day: the date, or date.N when taken."""
        if day in self._files:
            return self._files[day].stem
        if self._stem_of is not None:
            return self._stem_of(day)
        for number in range(1, 10_000):
            stem = day.isoformat() if number == 1 else f"{day.isoformat()}.{number}"
            if not any((folder / f"{stem}.jsonl.gz").exists() for folder in self._name_folders):
                return stem
        raise ArchiveError(f"{self.folder}: too many archive files for {day}")

    def append(self, rows: Iterable[tuple[date, int, str]]) -> None:
        """Append rows (day, key, JSON line) to their day files, one gzip member per day."""
        by_day: dict[date, list[tuple[int, str]]] = {}
        for day, key, line in rows:
            by_day.setdefault(day, []).append((key, line))
        for day, items in by_day.items():
            self._append_day(day, items)

    def _append_day(self, day: date, items: list[tuple[int, str]]) -> None:
        existing = self._files.get(day)
        if existing is None:
            stem = self.stem(day)
            existing = _DayFile(
                day=day,
                stem=stem,
                temp=self.folder / f".{stem}.jsonl.gz.partial",
                final=self.folder / f"{stem}.jsonl.gz",
                key_min=items[0][0],
                key_max=items[0][0],
            )
        text = "".join(line + "\n" for _key, line in items)
        member = gzip.compress(text.encode("utf-8"), compresslevel=_GZIP_LEVEL, mtime=0)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # The first write truncates what a crashed run may have left under the temp name.
            with open(existing.temp, "ab" if day in self._files else "wb") as out:
                out.write(member)
        except OSError as exc:
            raise ArchiveError(
                f"cannot write archive {existing.temp}: {exc.strerror or exc}; "
                f"no {self.table} row was deleted"
            ) from None
        self._files[day] = existing
        existing.digest.update(member)
        existing.rows += len(items)
        keys = [key for key, _line in items]
        existing.key_min = min(existing.key_min, *keys)
        existing.key_max = max(existing.key_max, *keys)

    def close(self) -> list[ArchiveFile]:
        """Fsync each day file, rename it into place, fsync the folder; return their listings."""
        done: list[ArchiveFile] = []
        try:
            for day_file in sorted(self._files.values(), key=lambda item: item.day):
                with open(day_file.temp, "ab") as out:
                    out.flush()
                    os.fsync(out.fileno())
                if day_file.final.exists():
                    raise ArchiveError(
                        f"{day_file.final} appeared while archiving; "
                        f"no {self.table} row was deleted"
                    )
                os.replace(day_file.temp, day_file.final)
                done.append(
                    ArchiveFile(
                        path=day_file.final.relative_to(self.root).as_posix(),
                        table=self.table,
                        day=day_file.day,
                        rows=day_file.rows,
                        sha256=day_file.digest.hexdigest(),
                        key_min=day_file.key_min,
                        key_max=day_file.key_max,
                    )
                )
            if done:
                _fsync_dir(self.folder)
        except OSError as exc:
            raise ArchiveError(
                f"cannot finish archive in {self.folder}: {exc.strerror or exc}; "
                f"no {self.table} row was deleted"
            ) from None
        self._closed = True
        return done

    def discard(self) -> None:
        """Remove the temp files of an archive that was not closed (after an error)."""
        if self._closed:
            return
        for day_file in self._files.values():
            day_file.temp.unlink(missing_ok=True)


def _prepare_archive_dir(root: Path) -> None:
    """Make sure the archive root exists and takes a file, before anything is read or deleted."""
    probe = root / ".prune-write-check"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as out:
            out.write(b"ok")
            out.flush()
            os.fsync(out.fileno())
        probe.unlink()
    except OSError as exc:
        raise ArchiveError(
            f"cannot write archives in {root}: {exc.strerror or exc}; nothing deleted"
        ) from None
    try:
        _read_manifest(root)  # an unreadable manifest stops the run before any delete
    except ArchiveError as exc:
        raise ArchiveError(f"{exc}; nothing deleted") from None


def _read_manifest(root: Path) -> dict[str, ArchiveFile]:
    """The files listed in `root/manifest.json` (none when it does not exist yet)."""
    path = root / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
        files = data["files"]
        if data.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError("not a civicquant prune manifest")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArchiveError(f"{path} is not a readable manifest ({exc})") from None
    try:
        return {name: ArchiveFile.from_manifest(name, entry) for name, entry in files.items()}
    except InputFormatError as exc:
        raise ArchiveError(f"{path}: {exc}") from None


def _add_to_manifest(root: Path, files: Sequence[ArchiveFile]) -> None:
    """Add files to the manifest atomically: a temp file, fsynced, renamed, folder fsynced."""
    listed = _read_manifest(root)
    for item in files:
        listed[item.path] = item
    document = {
        "format": MANIFEST_FORMAT,
        "files": {name: listed[name].manifest_entry() for name in sorted(listed)},
    }
    path = root / MANIFEST
    temp = root / f".{MANIFEST}.partial"
    try:
        with open(temp, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        _fsync_dir(root)
    except OSError as exc:
        raise ArchiveError(
            f"cannot write {path}: {exc.strerror or exc}; "
            "the rows of the files it would list were not deleted"
        ) from None


def _verify(root: Path, item: ArchiveFile, listed: Mapping[str, ArchiveFile]) -> None:
    """Re-read a written file: its bytes and rows must match its manifest entry on disk."""
    entry = listed.get(item.path)
    if entry is None or entry != item:
        raise ArchiveError(
            f"{item.path} is not listed as written in {MANIFEST}; its rows were not deleted"
        )
    path = root / item.path
    try:
        problem = _mismatch(path, entry)
    except InputFormatError as exc:
        problem = str(exc)
    if problem:
        raise ArchiveError(f"{item.path} failed its check ({problem}); its rows were not deleted")


def _mismatch(path: Path, entry: ArchiveFile) -> str | None:
    """What differs between a file and its manifest entry, or None."""
    digest = _sha256(path)
    if digest != entry.sha256:
        return f"SHA-256 {digest} is not the manifest's {entry.sha256}"
    rows = 0
    for key in _keys(path):
        rows += 1
        if not entry.key_min <= key <= entry.key_max:
            return f"key {key} outside the manifest's range {entry.key_min}..{entry.key_max}"
    if rows != entry.rows:
        return f"{rows} rows, the manifest says {entry.rows}"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as source:
            for chunk in iter(lambda: source.read(_READ_SIZE), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each line of an archive file with its parsed row; InputFormatError names a bad one."""
    number = 1  # the line being read
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as source:
            for line in source:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get(KEY_COLUMN), int):
                    raise ValueError(f"not a row with an integer {KEY_COLUMN}")
                yield line.rstrip("\n"), row
                number += 1
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise InputFormatError(f"{path}, line {number}: not a readable archive ({exc})") from None


def _keys(path: Path) -> Iterator[int]:
    for _line, row in _lines(path):
        yield int(row[KEY_COLUMN])


def _revision_keys(path: Path) -> Iterator[tuple[int, int]]:
    """(post, revision) keys of a revisions file, in file order."""
    for _line, row in _lines(path):
        yield int(row["raw_message_id"]), int(row[KEY_COLUMN])


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _chunks(items: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- restoring ----------------------------------------------------------------------------


def restore(db: Database, path: Path, *, batch_size: int = BATCH_SIZE) -> RestoreResult:
    """Load one archive file back; present rows are skipped, so restoring twice is harmless.

    When a manifest lists the file (in its folder or the folder above), its SHA-256 and row
    count are checked first and a mismatch restores nothing. Every line is parsed before the
    first insert. Restore a day's raw_messages file before its raw_message_revisions file.
    """
    if not path.is_file():
        raise InputFormatError(f"--restore {path}: no such file")
    entry = _manifest_entry_for(path)
    table = entry.table if entry is not None else path.parent.name
    if table not in RESTORABLE:
        raise InputFormatError(
            f"{path}: cannot tell its table (not in a manifest, and its folder {table!r} "
            f"is not one of {', '.join(RESTORABLE)})"
        )
    if entry is not None:
        problem = _mismatch(path, entry)
        if problem:
            raise InputFormatError(f"{path} does not match {MANIFEST} ({problem}); not restored")
    else:
        log.warning("prune_restore_unverified", path=str(path), reason="no manifest entry")
        for _line in _lines(path):  # parse every line before inserting any
            pass
    rows = 0
    inserted = 0
    for batch in _line_chunks(path, batch_size):
        rows += len(batch)
        inserted += db.execute(f"prune_{table}_restore", {"rows": "[" + ",".join(batch) + "]"})
    log.info(
        "prune_restored",
        path=str(path),
        table=table,
        rows=rows,
        inserted=inserted,
        verified=entry is not None,
    )
    return RestoreResult(
        path=path, table=table, rows=rows, inserted=inserted, verified=entry is not None
    )


def _manifest_entry_for(path: Path) -> ArchiveFile | None:
    """The manifest listing of a file: manifest.json in its folder or the one above."""
    resolved = path.resolve()
    for folder in (resolved.parent, resolved.parent.parent):
        if not (folder / MANIFEST).is_file():
            continue
        try:
            listed = _read_manifest(folder)
        except ArchiveError as exc:
            raise InputFormatError(str(exc)) from None
        name = resolved.relative_to(folder).as_posix()
        if name in listed:
            return listed[name]
    return None


def _line_chunks(path: Path, size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line, _row in _lines(path):
        chunk.append(line)
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


def render_restore(result: RestoreResult) -> str:
    """One line: the file, its table, what was inserted and what was already there."""
    check = "verified against manifest.json" if result.verified else "no manifest entry to verify"
    return (
        f"restored {result.path} into {result.table}: {result.inserted} of {result.rows} rows "
        f"inserted, {result.already_present} already present ({check})\n"
    )


def _plural(number: int, noun: str) -> str:
    suffix = "" if number == 1 else ("es" if noun.endswith("ch") else "s")
    return f"{number} {noun}{suffix}"


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}" if moment else "-"


def _print(out: IO[str] | None, text: str) -> None:
    import sys

    print(text, end="", file=out or sys.stdout)
