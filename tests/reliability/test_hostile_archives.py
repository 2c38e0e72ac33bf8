"""`prune --restore` and `prune` against an archive directory that is not to be trusted.

Real processes on real databases: a restore into a fresh database leaves the id sequences
past what it put back and names every row it skipped; a file no manifest lists is never
restored (a planted publication would be sent by the next digest); a planted symbolic link
is never followed by a prune.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg
from tests.reliability.support import ERROR_PREFIX, Processes, cli_env, query


@pytest.fixture
def second_database(pg_server: str, template_db: str) -> Iterator[str]:
    name = pg.create_database(pg_server, template=template_db)
    yield pg.with_dbname(pg_server, name)
    pg.drop_database(pg_server, name)


def seed_old_runs(url: str, count: int) -> None:
    query(
        url,
        "INSERT INTO job_runs (run_id, job_name, host, pid, status, started_at, finished_at) "
        "SELECT gen_random_uuid(), 'extract', 'h', 1, 'failed', now() - interval '60 days', "
        "now() - interval '60 days' FROM generate_series(1, %(count)s) RETURNING id",
        {"count": count},
    )


def test_restore_into_a_fresh_database_names_what_it_skips_and_moves_the_ids_on(
    database_url: str, second_database: str, procs: Processes, tmp_path: Path
) -> None:
    seed_old_runs(database_url, 20)
    archive = tmp_path / "archive"
    env = cli_env(database_url, tmp_path / "home")
    pruned = procs.cli("prune", "--older-than", "45d", "--archive-dir", str(archive), env=env)
    assert pruned.returncode == 0, pruned.describe()
    [day_file] = sorted((archive / "job_runs").glob("*.jsonl.gz"))

    fresh = cli_env(second_database, tmp_path / "home2")
    restored = procs.cli("prune", "--restore", str(day_file), env=fresh)
    assert restored.returncode == 0, restored.describe()
    # The restore's own run took id 1 in the fresh database: that archived row is named.
    assert "19 of 20 rows inserted, 1 skipped" in restored.stdout, restored.describe()
    assert "skipped id 1: a row with this id is present" in restored.stdout
    after = procs.cli("prune", "--dry-run", "--older-than", "45d", env=fresh)
    assert after.returncode == 0, after.describe()  # its run row takes a new id: no collision
    count = query(second_database, "SELECT count(*) AS n FROM job_runs")[0]["n"]
    assert count == 1 + 19 + 1


def test_a_planted_file_without_a_manifest_is_not_restored(
    database_url: str, procs: Processes, tmp_path: Path
) -> None:
    folder = tmp_path / "archive" / "published_posts"
    folder.mkdir(parents=True)
    planted = folder / "2026-11-20.jsonl.gz"
    row = {
        "id": 1,
        "queue": "vip",
        "chat_id": "-100",
        "window_start": "2026-11-20T08:00:00+00:00",
        "window_end": "2026-11-20T12:00:00+00:00",
        "item_key": "window",
        "content_sha256": "x",
        "parts": ['<a href="https://evil.example/login">log in</a>'],
        "message_ids": [],
        "sending_part": 0,
        "status": "reserved",
        "reserved_by": "x",
        "reserved_at": "2026-11-20T08:00:00+00:00",
        "updated_at": "2026-11-20T08:00:00+00:00",
        "pipeline_version": "v1",
    }
    planted.write_bytes(gzip.compress((json.dumps(row) + "\n").encode()))
    result = procs.cli(
        "prune", "--restore", str(planted), env=cli_env(database_url, tmp_path / "home")
    )
    assert result.returncode == 2, result.describe()
    [line] = result.error_lines
    assert line.startswith(ERROR_PREFIX), line
    assert "not listed in the manifest.json" in line, line
    assert query(database_url, "SELECT count(*) AS n FROM published_posts")[0]["n"] == 0


def test_prune_never_follows_a_link_planted_in_the_archive(
    database_url: str, procs: Processes, tmp_path: Path
) -> None:
    seed_old_runs(database_url, 5)
    day = query(
        database_url, "SELECT (min(started_at) AT TIME ZONE 'UTC')::date AS d FROM job_runs"
    )
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "archive" / "job_runs"
    folder.mkdir(parents=True)
    (folder / f".{day[0]['d']:%Y-%m-%d}.jsonl.gz.partial").symlink_to(victim)
    result = procs.cli(
        "prune",
        "--older-than",
        "45d",
        "--archive-dir",
        str(tmp_path / "archive"),
        env=cli_env(database_url, tmp_path / "home"),
    )
    assert victim.read_text() == "precious\n"
    assert result.returncode == 1, result.describe()
    [line] = result.error_lines
    assert "symbolic link, never followed" in line, line
    assert (
        query(database_url, "SELECT count(*) AS n FROM job_runs WHERE job_name = 'extract'")[0]["n"]
        == 5
    )
