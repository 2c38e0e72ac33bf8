"""Prune archives: gzip-compressed JSON Lines day files, their manifest, and restoring them.

An archive root holds one folder per table with one file per UTC day of rows:
`<table>/<YYYY-MM-DD>.jsonl.gz` (`.2`, `.3` ... when that name is taken, e.g. by rows
restored and pruned again). Lines are PostgreSQL's own `to_jsonb(row)`, which
`jsonb_populate_recordset` reads back on restore. `manifest.json` at the root lists every
file: table, day, rows, SHA-256 and key range. A day file is written batch by batch under a
temp name, fsynced and renamed into place; the manifest is replaced atomically and fsynced;
`verify` re-reads a file against its listing. `civicquant.ops.retention` writes archives
before it deletes; `restore` loads one file back, skipping rows that are present.

An archive directory is not trusted: no link in it is followed (a planted one would have a
prune overwrite its target), and only a file listed in its manifest, with the listed SHA-256,
row count and key range, is restored.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import structlog

from civicquant.db import Database
from civicquant.errors import CivicquantError, InputFormatError
from civicquant.runtime.context import JobContext

log = structlog.get_logger("civicquant.ops.archive")

BATCH_SIZE = 1000  # rows per statement, for prune's deletes and restore's inserts
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "civicquant-prune-archive/1"

# The prunable tables, in the order they are pruned: extraction_jobs before raw_messages
# frees the posts only a retired job referred to. Their rows are what archives hold.
TABLES = ("job_runs", "published_posts", "extraction_jobs", "raw_messages")
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


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row of an archive file that restore did not insert, and why."""

    key: int
    reason: str


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """An archive file loaded back: its rows, how many were inserted, each one skipped."""

    path: Path
    table: str
    rows: int
    inserted: int
    skipped: tuple[SkippedRow, ...] = ()

    @property
    def already_present(self) -> int:
        return self.rows - self.inserted


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


class TableArchive:
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
            _refuse_link(self.folder)
            # The first write truncates what a crashed run may have left under the temp name.
            appending = day in self._files
            with _open_for_writing(existing.temp, append=appending) as out:
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
                with _open_for_writing(day_file.temp, append=True) as out:
                    out.flush()
                    os.fsync(out.fileno())
                if day_file.final.exists() or day_file.final.is_symlink():
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


def prepare_archive_dir(root: Path) -> None:
    """Make sure the archive root exists and takes a file, before anything is read or deleted."""
    probe = root / ".prune-write-check"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _open_for_writing(probe) as out:
            out.write(b"ok")
            out.flush()
            os.fsync(out.fileno())
        probe.unlink()
    except OSError as exc:
        raise ArchiveError(
            f"cannot write archives in {root}: {exc.strerror or exc}; nothing deleted"
        ) from None
    try:
        read_manifest(root)  # an unreadable manifest stops the run before any delete
    except ArchiveError as exc:
        raise ArchiveError(f"{exc}; nothing deleted") from None


def read_manifest(root: Path) -> dict[str, ArchiveFile]:
    """The files listed in `root/manifest.json` (none when it does not exist yet)."""
    path = root / MANIFEST
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(descriptor, "r", encoding="utf-8") as source:
            text = source.read()
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


def add_to_manifest(root: Path, files: Sequence[ArchiveFile]) -> None:
    """Add files to the manifest atomically: a temp file, fsynced, renamed, folder fsynced."""
    listed = read_manifest(root)
    for item in files:
        listed[item.path] = item
    document = {
        "format": MANIFEST_FORMAT,
        "files": {name: listed[name].manifest_entry() for name in sorted(listed)},
    }
    path = root / MANIFEST
    temp = root / f".{MANIFEST}.partial"
    try:
        with _open_for_writing(temp, text=True) as out:
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


def verify(root: Path, item: ArchiveFile, listed: Mapping[str, ArchiveFile]) -> None:
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
    for key in row_keys(path):
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


def row_keys(path: Path) -> Iterator[int]:
    """The keys of an archive file's rows, in file order."""
    for _line, row in _lines(path):
        yield int(row[KEY_COLUMN])


def revision_keys(path: Path) -> Iterator[tuple[int, int]]:
    """(post, revision) keys of a revisions file, in file order."""
    for _line, row in _lines(path):
        yield int(row["raw_message_id"]), int(row[KEY_COLUMN])


def _open_for_writing(path: Path, *, append: bool = False, text: bool = False) -> Any:
    """`path` opened to write (truncated unless `append`), never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, f"{path} is a symbolic link, never followed") from None
        raise
    if text:
        return os.fdopen(descriptor, "w", encoding="utf-8")
    return os.fdopen(descriptor, "wb")


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise OSError(errno.ELOOP, f"{path} is a symbolic link, never followed")


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- restoring ----------------------------------------------------------------------------


def restorable(path: Path) -> ArchiveFile:
    """The manifest listing of a file `--restore` may load; InputFormatError if it may not.

    The cheap checks, no database and no reading of the rows: the CLI makes them before a
    run is recorded, so a wrong path is a refused command, never a failed run.
    """
    try:
        mode = path.lstat().st_mode
    except OSError:
        raise InputFormatError(f"--restore {path}: no such file") from None
    if stat.S_ISLNK(mode) or path.parent.is_symlink():
        raise InputFormatError(f"--restore {path}: a symbolic link; archives never follow links")
    if not stat.S_ISREG(mode):
        raise InputFormatError(f"--restore {path}: not a regular file")
    entry = _manifest_entry_for(path)
    if entry is None:
        raise InputFormatError(
            f"--restore {path}: not listed in the {MANIFEST} of its archive; only files prune"
            " wrote (and listed with their SHA-256) are restored"
        )
    if entry.table not in RESTORABLE:
        raise InputFormatError(
            f"{path}: {MANIFEST} names table {entry.table!r}, not a prunable one"
        )
    return entry


def restore(db: Database, path: Path, *, batch_size: int = BATCH_SIZE) -> RestoreResult:
    """Load one archive file back; a present row is skipped and named, so twice is harmless.

    Only a file listed in the manifest of its archive (in its folder or the folder above) is
    restored, and only when its SHA-256, row count and key range match: a file planted
    without a listing, or changed since, restores nothing. Neither the file nor its folder
    may be a symbolic link. Every skipped row is reported with its reason, and the table's
    id sequence is moved past the ids put back. Restore a day's raw_messages file before its
    raw_message_revisions file.
    """
    entry = restorable(path)
    table = entry.table
    problem = _mismatch(path, entry)
    if problem:
        raise InputFormatError(f"{path} does not match {MANIFEST} ({problem}); not restored")
    rows = 0
    inserted = 0
    skipped: list[SkippedRow] = []
    with db.transaction():
        for batch in _line_chunks(path, batch_size):
            rows += len(batch)
            keys = [key for key, _line in batch]
            rows_json = "[" + ",".join(line for _key, line in batch) + "]"
            done = {
                row["id"] for row in db.fetch_all(f"prune_{table}_restore", {"rows": rows_json})
            }
            inserted += len(done)
            missed = [key for key in keys if key not in done]
            if missed:
                skipped.extend(_skipped(db, table, missed))
        db.fetch_all(f"prune_{table}_advance_ids")
    for row in skipped:
        log.warning(
            "prune_restore_skipped", path=str(path), table=table, id=row.key, reason=row.reason
        )
    log.info(
        "prune_restored",
        path=str(path),
        table=table,
        rows=rows,
        inserted=inserted,
        skipped=len(skipped),
    )
    return RestoreResult(
        path=path, table=table, rows=rows, inserted=inserted, skipped=tuple(skipped)
    )


def _skipped(db: Database, table: str, keys: list[int]) -> list[SkippedRow]:
    """Why each of these rows was not inserted: its id is taken, or another unique key is."""
    present = {row["id"] for row in db.fetch_all(f"prune_{table}_present", {"ids": keys})}
    reasons = []
    for key in keys:
        if key in present:
            reason = "a row with this id is present"
        elif table == "published_posts":
            reason = "another publication of its window is present, or it was never sent"
        else:
            reason = "another row with the same unique key is present"
        reasons.append(SkippedRow(key, reason))
    return reasons


def _manifest_entry_for(path: Path) -> ArchiveFile | None:
    """The manifest listing of a file: manifest.json in its folder or the one above."""
    folder = path.absolute().parent
    for root in (folder, folder.parent):
        if not (root / MANIFEST).is_file():
            continue
        try:
            listed = read_manifest(root)
        except ArchiveError as exc:
            raise InputFormatError(str(exc)) from None
        name = path.absolute().relative_to(root).as_posix()
        if name in listed:
            return listed[name]
    return None


def _line_chunks(path: Path, size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for line, row in _lines(path):
        chunk.append((int(row[KEY_COLUMN]), line))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- job ----------------------------------------------------------------------------------


def restore_job(ctx: JobContext, path: Path) -> RestoreResult:
    """`civicquant prune --restore FILE`: load one archive file back; counts go into ctx."""
    result = restore(ctx.db, path)
    ctx.notes["restored_table"] = result.table
    ctx.count("restored", result.inserted)
    ctx.count("already_present", result.already_present)
    return result


# -- reports ------------------------------------------------------------------------------


def render_restore(result: RestoreResult) -> str:
    """A line for the file (its table, what was inserted, what skipped), one per skipped row."""
    lines = [
        f"restored {result.path} into {result.table}: {result.inserted} of {result.rows} rows "
        f"inserted, {len(result.skipped)} skipped (verified against {MANIFEST})"
    ]
    lines.extend(f"  skipped id {row.key}: {row.reason}" for row in result.skipped)
    return "\n".join(lines) + "\n"
