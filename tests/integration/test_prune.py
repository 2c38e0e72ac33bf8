"""Retention on a real PostgreSQL: archive, verify, delete in batches, restore."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from civicquant.config import Settings
from civicquant.db import Database
from civicquant.errors import InputFormatError, UsageError
from civicquant.ops import archive
from civicquant.ops import retention as prune
from civicquant.runtime.context import JobContext
from civicquant.runtime.runner import run_job

DAY = (datetime.now(UTC) - timedelta(days=40)).replace(hour=1, minute=0, second=0, microsecond=0)
OTHER_DAY = DAY - timedelta(days=3)
RECENT = datetime.now(UTC) - timedelta(days=2)


def scalar(db: Database, sql: str, params: dict[str, Any] | None = None) -> Any:
    row = db.connection.execute(sql, params or {}).fetchone()
    assert row is not None
    return next(iter(row.values()))


def rows_as_json(db: Database, table: str) -> list[Any]:
    # Table names come from the tests themselves, never from input.
    return [
        row["r"]
        for row in db.connection.execute(
            f"SELECT to_jsonb(t) AS r FROM {table} t ORDER BY id"
        ).fetchall()
    ]


def seed_job_runs(
    db: Database, count: int, at: datetime, *, status: str = "failed", job: str = "extract"
) -> None:
    db.connection.execute(
        """
        INSERT INTO job_runs (run_id, job_name, host, pid, started_at, finished_at, status,
                              counts, error)
        SELECT gen_random_uuid(), %(job)s, 'host-a', g, %(at)s + g * interval '1 second',
               %(at)s + g * interval '1 second' + interval '5 seconds', %(status)s,
               jsonb_build_object('posts', g), CASE WHEN %(status)s = 'failed' THEN 'boom' END
        FROM generate_series(1, %(count)s) AS g
        """,
        {"job": job, "at": at, "status": status, "count": count},
    )


def options(tables: str = "job_runs", older_than: str | None = "30d", **kw: Any) -> Any:
    return prune.build_options(tables=tables, older_than=older_than, **kw)


def run(db: Database, opts: prune.PruneOptions, version: str = "v1") -> prune.PruneResult:
    return prune.prune(db, opts, pipeline_version=version)


def channel(db: Database) -> None:
    db.connection.execute("INSERT INTO channels (channel_id, username) VALUES (1, 'wire')")


def post(db: Database, message_id: int, at: datetime) -> int:
    return int(
        scalar(
            db,
            """
            INSERT INTO raw_messages (channel_id, message_id, text, posted_at, content_sha256,
                                      source, media)
            VALUES (1, %(m)s, 'post ' || %(m)s, %(at)s, md5(%(m)s::text), 'live',
                    '{"kind": "photo", "size": 12}'::jsonb)
            RETURNING id
            """,
            {"m": message_id, "at": at},
        )
    )


def revise(db: Database, raw_id: int, text: str) -> None:
    db.connection.execute(
        """
        INSERT INTO raw_message_revisions (raw_message_id, text, content_sha256, source)
        VALUES (%(id)s, %(text)s, md5(%(text)s), 'live')
        """,
        {"id": raw_id, "text": text},
    )


def extraction_job(
    db: Database, raw_id: int, version: str, status: str, finished: datetime | None
) -> None:
    db.connection.execute(
        """
        INSERT INTO extraction_jobs (raw_message_id, pipeline_version, status, finished_at,
                                     updated_at)
        VALUES (%(id)s, %(version)s, %(status)s, %(finished)s, coalesce(%(finished)s, now()))
        """,
        {"id": raw_id, "version": version, "status": status, "finished": finished},
    )


def manifest(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "manifest.json").read_text())["files"]
    return data


# -- archive, then delete -------------------------------------------------------------------


def test_archive_lists_each_day_file_with_its_true_hash_count_and_key_range(
    db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 40, DAY)
    seed_job_runs(db, 3, OTHER_DAY)
    first, last = scalar(
        db, "SELECT array[min(id), max(id)] FROM job_runs WHERE started_at >= %(d)s", {"d": DAY}
    )

    run(db, options(archive_dir=tmp_path / "archive"))

    listed = manifest(tmp_path / "archive")
    name = f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz"
    assert sorted(listed) == [f"job_runs/{OTHER_DAY:%Y-%m-%d}.jsonl.gz", name]
    data = (tmp_path / "archive" / name).read_bytes()
    lines = gzip.decompress(data).decode().splitlines()
    assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert listed[name]["rows"] == len(lines) == 40
    assert (listed[name]["table"], listed[name]["day"]) == ("job_runs", f"{DAY:%Y-%m-%d}")
    assert (listed[name]["key_min"], listed[name]["key_max"]) == (first, last)
    assert {json.loads(line)["id"] for line in lines} == set(range(first, last + 1))


def test_archived_rows_are_deleted_and_younger_rows_stay(db: Database, tmp_path: Path) -> None:
    seed_job_runs(db, 40, DAY)
    seed_job_runs(db, 5, RECENT)

    result = run(db, options(archive_dir=tmp_path / "archive"))

    assert scalar(db, "SELECT count(*) FROM job_runs") == 5
    assert scalar(db, "SELECT count(*) FROM job_runs WHERE started_at < %(d)s", {"d": RECENT}) == 0
    assert (result.tables[0].archived, result.tables[0].deleted) == (40, 40)


@pytest.mark.parametrize("archived", [True, False], ids=["archived", "unarchived"])
def test_deletes_go_in_batches_of_a_thousand_rows(
    db: Database, tmp_path: Path, archived: bool
) -> None:
    seed_job_runs(db, 2500, DAY)

    result = run(db, options(archive_dir=tmp_path / "archive" if archived else None))

    assert result.tables[0].batches == [1000, 1000, 500]
    assert scalar(db, "SELECT count(*) FROM job_runs") == 0


def test_an_archive_dir_that_cannot_be_written_is_an_error_and_nothing_is_deleted(
    db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 40, DAY)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should go")

    with pytest.raises(archive.ArchiveError, match="not-a-folder"):
        run(db, options(archive_dir=blocker / "archive"))

    assert scalar(db, "SELECT count(*) FROM job_runs") == 40


def test_a_day_file_that_cannot_be_created_stops_the_run_before_any_delete(
    db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 40, DAY)
    root = tmp_path / "archive"
    root.mkdir()
    (root / "job_runs").write_text("a file where the table's folder should go")

    with pytest.raises(archive.ArchiveError, match="job_runs"):
        run(db, options(archive_dir=root))

    assert scalar(db, "SELECT count(*) FROM job_runs") == 40
    assert not (root / "manifest.json").exists()


def test_an_unreadable_manifest_stops_the_run_before_any_delete(
    db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 40, DAY)
    root = tmp_path / "archive"
    root.mkdir()
    (root / "manifest.json").write_text("{not json")

    with pytest.raises(archive.ArchiveError, match="manifest"):
        run(db, options(archive_dir=root))

    assert scalar(db, "SELECT count(*) FROM job_runs") == 40


def test_a_day_archived_before_gets_a_new_file_and_the_old_one_is_kept(
    db: Database, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    seed_job_runs(db, 4, DAY)
    run(db, options(archive_dir=root))
    first = (root / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz").read_bytes()
    seed_job_runs(db, 6, DAY, job="listen")

    run(db, options(archive_dir=root))

    listed = manifest(root)
    again = f"job_runs/{DAY:%Y-%m-%d}.2.jsonl.gz"
    assert listed[again]["rows"] == 6
    assert listed[f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz"]["rows"] == 4
    assert (root / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz").read_bytes() == first


def test_deleted_tables_are_vacuumed(db: Database, tmp_path: Path) -> None:
    seed_job_runs(db, 10, DAY)

    run(db, options())

    # Before PostgreSQL 15 statistics reach other snapshots a moment later.
    deadline = time.monotonic() + 5
    while True:
        db.connection.execute("SELECT pg_stat_clear_snapshot()")
        vacuumed = scalar(
            db,
            "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'job_runs'",
        )
        if vacuumed or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert vacuumed is True


# -- what is prunable -------------------------------------------------------------------------


def test_the_latest_success_of_each_job_is_kept_whatever_its_age(db: Database) -> None:
    seed_job_runs(db, 3, DAY, status="success", job="listen")
    latest = scalar(db, "SELECT max(id) FROM job_runs")
    seed_job_runs(db, 2, DAY + timedelta(hours=1), job="listen")  # later, but failures

    run(db, options())

    assert scalar(db, "SELECT array_agg(id) FROM job_runs") == [latest]


def test_only_finished_extraction_jobs_of_retired_versions_are_pruned_by_default(
    db: Database,
) -> None:
    channel(db)
    old = DAY
    posts = [post(db, number, old) for number in range(1, 7)]
    extraction_job(db, posts[0], "v0", "ok", old)  # pruned
    extraction_job(db, posts[1], "v0", "dead", old)  # pruned
    extraction_job(db, posts[2], "v0", "pending", None)  # not finished
    extraction_job(db, posts[3], "v0", "ok", RECENT)  # too young
    extraction_job(db, posts[4], "v1", "ok", old)  # the current version
    extraction_job(db, posts[5], "v1", "dead", old)  # the current version

    run(db, prune.build_options(), version="v1")

    left = db.connection.execute(
        "SELECT raw_message_id FROM extraction_jobs ORDER BY raw_message_id"
    ).fetchall()
    assert [row["raw_message_id"] for row in left] == posts[2:]


def test_the_raw_log_is_untouched_unless_named(db: Database, tmp_path: Path) -> None:
    channel(db)
    ids = [post(db, number, DAY - timedelta(days=400)) for number in range(1, 4)]
    revise(db, ids[0], "edited")
    before = rows_as_json(db, "raw_messages"), rows_as_json(db, "raw_message_revisions")

    run(db, prune.build_options(older_than="1d", archive_dir=tmp_path / "archive"))

    assert (rows_as_json(db, "raw_messages"), rows_as_json(db, "raw_message_revisions")) == before
    assert not (tmp_path / "archive" / "raw_messages").exists()


def test_only_sent_publications_are_pruned(db: Database) -> None:
    for number, status in enumerate(["sent", "reserved", "failed"]):
        db.connection.execute(
            """
            INSERT INTO published_posts (queue, chat_id, window_start, window_end, content_sha256,
                                         parts, status, reserved_by, reserved_at, sent_at)
            VALUES ('vip', '-100', %(start)s, %(start)s + interval '4 hours', 'x',
                    ARRAY['part one', 'part two'], %(status)s, 'run', %(start)s,
                    CASE WHEN %(status)s = 'sent' THEN %(start)s END)
            """,
            {"start": DAY - timedelta(days=100, hours=4 * number), "status": status},
        )

    run(db, options(tables="published_posts", older_than=None))

    left = db.connection.execute("SELECT status FROM published_posts ORDER BY status").fetchall()
    assert [row["status"] for row in left] == ["failed", "reserved"]


def test_named_raw_log_loses_only_posts_nothing_refers_to_with_their_revisions(
    db: Database, tmp_path: Path
) -> None:
    channel(db)
    current, retired_job, free, extracted, young = (
        post(db, 1, DAY),
        post(db, 2, DAY),
        post(db, 3, DAY),
        post(db, 4, DAY),
        post(db, 5, RECENT),
    )
    revise(db, free, "edit one")
    revise(db, free, "edit two")
    revise(db, current, "kept edit")
    extraction_job(db, current, "v1", "ok", DAY)
    extraction_job(db, retired_job, "v0", "ok", DAY)  # pruned first, freeing its post
    db.connection.execute(
        """
        INSERT INTO extractions (raw_message_id, pipeline_version, content_sha256, topic,
                                 headline, summary, is_breaking, importance, language, provider,
                                 model, prompt_fingerprint)
        VALUES (%(id)s, 'v0', 'x', 'markets', 'h', 's', false, 0.5, 'en', 'rules', 'r', 'f')
        """,
        {"id": extracted},
    )

    result = run(
        db,
        options(tables="raw_messages,extraction_jobs", archive_dir=tmp_path / "archive"),
    )

    left = db.connection.execute("SELECT id FROM raw_messages ORDER BY id").fetchall()
    assert [row["id"] for row in left] == [current, extracted, young]
    revisions = db.connection.execute("SELECT raw_message_id FROM raw_message_revisions").fetchall()
    assert [row["raw_message_id"] for row in revisions] == [current]
    raw = next(table for table in result.tables if table.table == "raw_messages")
    assert (raw.deleted, raw.revisions_deleted) == (2, 2)


def test_a_raw_delete_keeps_a_post_with_a_revision_the_archive_lacks(db: Database) -> None:
    channel(db)
    raw_id = post(db, 1, DAY)
    revise(db, raw_id, "archived edit")
    archived = scalar(db, "SELECT max(id) FROM raw_message_revisions")
    revise(db, raw_id, "edit after the archive was written")

    row = db.fetch_one(
        "prune_raw_messages_delete",
        {"ids": [raw_id], "revision_ids": [archived], "cutoff": RECENT},
    )

    assert row is not None
    assert (row["rows"], row["revisions"]) == (0, 0)
    assert scalar(db, "SELECT count(*) FROM raw_message_revisions") == 2


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_changes_nothing_and_creates_no_archive(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 40, DAY)
    before = rows_as_json(db, "job_runs")
    ctx = JobContext(settings, db, "prune:dry-run", "run", threading.Event())

    prune.prune_job(ctx, options(archive_dir=tmp_path / "archive", dry_run=True))

    assert rows_as_json(db, "job_runs") == before
    assert not (tmp_path / "archive").exists()


def test_dry_run_prints_count_oldest_and_newest_per_table(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 40, DAY)
    ctx = JobContext(settings, db, "prune:dry-run", "run", threading.Event())

    result = prune.prune_job(ctx, options(tables="job_runs,published_posts", dry_run=True))

    text = prune.render(result)
    oldest, newest = DAY + timedelta(seconds=1), DAY + timedelta(seconds=40)
    assert "job_runs: 40 rows" in text
    assert f"oldest {oldest:%Y-%m-%d %H:%M}, newest {newest:%Y-%m-%d %H:%M}" in text
    assert "published_posts: nothing" in text
    assert ctx.counts["job_runs_would_delete"] == 40


# -- restore -----------------------------------------------------------------------------------


def test_restore_brings_the_rows_back_as_they_were(db: Database, tmp_path: Path) -> None:
    seed_job_runs(db, 30, DAY)
    before = rows_as_json(db, "job_runs")
    run(db, options(archive_dir=tmp_path / "archive"))

    result = archive.restore(db, tmp_path / "archive" / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz")

    assert rows_as_json(db, "job_runs") == before
    assert (result.table, result.rows, result.inserted, result.skipped) == ("job_runs", 30, 30, ())


def test_restoring_twice_inserts_nothing_the_second_time(db: Database, tmp_path: Path) -> None:
    seed_job_runs(db, 30, DAY)
    run(db, options(archive_dir=tmp_path / "archive"))
    path = tmp_path / "archive" / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz"
    archive.restore(db, path)
    after_first = rows_as_json(db, "job_runs")

    again = archive.restore(db, path)

    assert (again.inserted, again.already_present) == (0, 30)
    assert rows_as_json(db, "job_runs") == after_first


def test_restore_round_trips_every_prunable_table(db: Database, tmp_path: Path) -> None:
    channel(db)
    free = post(db, 1, DAY)
    revise(db, free, "an edit")
    referenced = post(db, 2, DAY)
    extraction_job(db, referenced, "v1", "ok", DAY)  # the current version's: it and its post stay
    extraction_job(db, free, "v0", "dead", DAY)
    db.connection.execute(
        """
        INSERT INTO published_posts (queue, chat_id, window_start, window_end, event_id,
                                     content_sha256, parts, message_ids, status, reserved_by,
                                     sent_at)
        VALUES ('flash', '-100', %(at)s, %(at)s, 7, 'x', ARRAY['one'], ARRAY[11, 12]::bigint[],
                'sent', 'run', %(at)s - interval '100 days')
        """,
        {"at": DAY},
    )
    seed_job_runs(db, 3, DAY)
    tables = [
        "job_runs",
        "published_posts",
        "extraction_jobs",
        "raw_messages",
        "raw_message_revisions",
    ]
    before = {table: rows_as_json(db, table) for table in tables}
    root = tmp_path / "archive"

    run(
        db,
        options(tables="job_runs,published_posts,extraction_jobs,raw_messages", archive_dir=root),
    )
    assert scalar(db, "SELECT count(*) FROM raw_message_revisions") == 0
    # Foreign keys set the order: posts, then their revisions, then the jobs that refer to them.
    order = [
        "raw_messages",
        "raw_message_revisions",
        "extraction_jobs",
        "job_runs",
        "published_posts",
    ]
    for name in sorted(manifest(root), key=lambda n: order.index(n.split("/")[0])):
        archive.restore(db, root / name)

    assert {table: rows_as_json(db, table) for table in tables} == before


def test_restore_refuses_a_file_that_differs_from_its_manifest_entry(
    db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 30, DAY)
    run(db, options(archive_dir=tmp_path / "archive"))
    path = tmp_path / "archive" / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(lines[:-1]) + "\n").encode()))

    with pytest.raises(InputFormatError, match="manifest"):
        archive.restore(db, path)

    assert scalar(db, "SELECT count(*) FROM job_runs") == 0


def test_restore_refuses_a_file_no_manifest_lists(db: Database, tmp_path: Path) -> None:
    seed_job_runs(db, 5, DAY)
    run(db, options(archive_dir=tmp_path / "archive"))
    (tmp_path / "archive" / "manifest.json").unlink()

    with pytest.raises(InputFormatError, match="not listed in the manifest"):
        archive.restore(db, tmp_path / "archive" / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz")

    assert scalar(db, "SELECT count(*) FROM job_runs") == 0


def test_restore_names_every_row_it_skips(db: Database, tmp_path: Path) -> None:
    seed_job_runs(db, 5, DAY)
    run(db, options(archive_dir=tmp_path / "archive"))
    path = tmp_path / "archive" / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz"
    archive.restore(db, path)
    [first] = db.connection.execute("SELECT min(id) AS id FROM job_runs").fetchall()
    db.connection.execute("DELETE FROM job_runs WHERE id <> %(id)s", {"id": first["id"]})

    result = archive.restore(db, path)

    assert (result.inserted, [row.key for row in result.skipped]) == (4, [first["id"]])
    assert "a row with this id is present" in archive.render_restore(result)


# -- options and the job ---------------------------------------------------------------------------


def test_unknown_table_names_are_a_usage_error_naming_them() -> None:
    with pytest.raises(UsageError, match="unknown tables jobs, posts"):
        prune.build_options(tables="job_runs,posts,jobs")


def test_older_than_applies_to_the_named_tables_and_defaults_to_the_settings_days() -> None:
    named = prune.build_options(tables="published_posts", older_than="10d")
    defaults = prune.build_options(default_days={"job_runs": 7})

    assert named.max_age == {"published_posts": timedelta(days=10)}
    assert defaults.max_age == {
        "job_runs": timedelta(days=7),
        "extraction_jobs": timedelta(days=30),
        "published_posts": timedelta(days=90),
    }


def test_the_raw_log_needs_an_explicit_age() -> None:
    with pytest.raises(UsageError, match="raw_messages has no default retention"):
        prune.build_options(tables="raw_messages")


def test_prune_job_runs_under_its_lease_and_records_its_counts(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 12, DAY)
    opts = options(archive_dir=tmp_path / "archive")

    counts = run_job(
        settings, "prune", lambda ctx: prune.prune_job(ctx, opts), lease="prune"
    ).counts

    assert (counts["job_runs_archived"], counts["job_runs_deleted"]) == (12, 12)
    recorded = db.connection.execute(
        "SELECT status, counts FROM job_runs WHERE job_name = 'prune'"
    ).fetchone()
    assert recorded is not None
    assert recorded["status"] == "success"
    assert recorded["counts"]["job_runs_deleted"] == 12


def test_restore_job_counts_what_it_put_back_and_prints_it(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    seed_job_runs(db, 7, DAY)
    run(db, options(archive_dir=tmp_path / "archive"))
    path = tmp_path / "archive" / f"job_runs/{DAY:%Y-%m-%d}.jsonl.gz"

    outcome = run_job(
        settings,
        "prune:restore",
        lambda ctx: archive.restore_job(ctx, path),
        lease="prune",
    )
    counts = outcome.counts
    assert outcome.value is not None

    assert (counts["restored"], counts["restored_table"]) == (7, "job_runs")
    assert "7 of 7 rows inserted, 0 skipped (verified against manifest.json)" in (
        archive.render_restore(outcome.value)
    )


def test_prune_deletes_flash_outbox_rows_no_longer_news_and_keeps_fresh_ones(
    settings: Settings, db: Database
) -> None:
    db.connection.execute(
        "INSERT INTO events (pipeline_version, topic, headline, first_seen_at, last_seen_at)"
        " SELECT 'v1', 'energy', 'story ' || n, now(), now() FROM generate_series(1, 2) n"
    )
    db.connection.execute(
        "INSERT INTO flash_outbox (event_id, queued_at) SELECT id, CASE WHEN headline = 'story 1'"
        " THEN now() - interval '2 hours' ELSE now() END FROM events"
    )
    ctx = JobContext(settings, db, "prune", "run", threading.Event())
    prune.prune_job(ctx, options())
    assert ctx.counts["flash_outbox_deleted"] == 1
    assert scalar(db, "SELECT count(*) FROM flash_outbox") == 1
