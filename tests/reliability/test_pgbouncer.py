"""The pipeline through PgBouncer in transaction pooling mode, as the README promises.

Every command connects to PgBouncer (DB_PREPARED_STATEMENTS=0), never to the server
itself; the test looks at the results on a direct connection. One test also runs the
commands with prepared statements left on, to show what an operator who forgets the
setting sees (recorded, not asserted: only that each failure is a clean one-line error).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.gen_export import generate
from civicquant.db import Database
from civicquant.errors import CivicquantError
from civicquant.runtime import leases
from tests.reliability.bouncer import Bouncer, Unavailable, running
from tests.reliability.support import (
    ROOT,
    SAMPLE_EXPORT,
    Finished,
    Processes,
    cli_env,
    query,
    wait_until,
)

AT = "2026-11-20T10:00:00Z"
GENERATED_POSTS = 1500  # enough that three workers really share the queue


@pytest.fixture(scope="module")
def bouncer(pg_server: str) -> Iterator[Bouncer]:
    try:
        with running(pg_server) as started:
            yield started
    except Unavailable as exc:
        pytest.skip(f"no PgBouncer to test through: {exc}")


@pytest.fixture(scope="module")
def generated_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exports") / "result.json"
    generate(GENERATED_POSTS, path, seed=7)
    return path


def job_states(database_url: str) -> dict[str, int]:
    rows = query(database_url, "SELECT status, count(*) AS n FROM extraction_jobs GROUP BY status")
    return {row["status"]: row["n"] for row in rows}


def assert_ok(result: Finished) -> None:
    assert result.returncode == 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()


def test_whole_pipeline_runs_through_pgbouncer_in_transaction_mode(
    bouncer: Bouncer,
    empty_database_url: str,
    generated_export: Path,
    procs: Processes,
    tmp_path: Path,
) -> None:
    env = cli_env(bouncer.url(empty_database_url), tmp_path / "home", DB_PREPARED_STATEMENTS="0")

    migrated = procs.cli("db", "migrate", env=env)
    assert_ok(migrated)
    assert "applied 0001_" in migrated.stdout
    status = procs.cli("db", "status", env=env)
    assert_ok(status)
    assert "pending" not in status.stdout
    assert f"127.0.0.1:{bouncer.port}" in status.stdout

    for export, name in ((SAMPLE_EXPORT, "@wirewatch_demo"), (generated_export, "@bench_wire")):
        imported = procs.cli("backfill", "--from-export", str(export), "--channels", name, env=env)
        assert_ok(imported)
        assert "inserted=" in imported.stdout
    # Posts with nothing to read (a bare photo) are stored but not queued.
    jobs = query(empty_database_url, "SELECT count(*) AS n FROM extraction_jobs")[0]["n"]
    assert jobs > GENERATED_POSTS * 0.9

    workers = [
        procs.spawn_cli("extract", "--oneshot", "--concurrency", "4", env=env) for _ in range(3)
    ]
    for result in [worker.wait(timeout=240) for worker in workers]:
        assert_ok(result)
    assert job_states(empty_database_url) == {"ok": jobs}
    totals = query(
        empty_database_url,
        "SELECT (SELECT count(*) FROM extractions) AS extractions, "
        "(SELECT sum(attempts) FROM extraction_jobs) AS attempts, "
        "(SELECT sum((counts->>'ok')::int) FROM job_runs WHERE job_name = 'extract') AS ok, "
        "(SELECT count(*) FROM job_runs WHERE job_name = 'extract' AND status = 'success') "
        "AS runs",
    )[0]
    assert totals == {"extractions": jobs, "attempts": jobs, "ok": jobs, "runs": 3}

    preview = procs.cli("digest", "--dry-run", "--at", AT, env=env)
    assert_ok(preview)
    assert "----- part 1/" in preview.stdout

    # The flash drain's reads (the outbox, the ledger) through PgBouncer too.
    flash_preview = procs.cli("digest", "--queue", "flash", "--dry-run", env=env)
    assert_ok(flash_preview)

    listed = procs.cli("runs", "--format", "json", env=env)
    assert_ok(listed)
    assert {run["job_name"] for run in json.loads(listed.stdout)} >= {
        "backfill",
        "extract",
        "digest:vip:dry-run",
    }

    # Jobs this test does not run count as fresh, so no job is `down` for never having run.
    query(
        empty_database_url,
        "INSERT INTO job_runs (run_id, job_name, host, pid, status, finished_at) "
        "SELECT gen_random_uuid(), job, 'elsewhere', 1, 'success', now() "
        "FROM unnest(%s::text[]) AS job",
        (
            [
                "listen",
                "digest:vip",
                "digest:breaking_15m",
                "digest:breaking_1h",
                "digest:breaking_4h",
                "digest:flash",
                "prune",
            ],
        ),
    )
    health = procs.cli("health", "--format", "json", env=env)
    report = json.loads(health.stdout)
    # Not down (the exports' old posts may make their channels look stale, and that is
    # health's business, not PgBouncer's).
    assert health.returncode == report["exit_code"] in (0, 1), health.describe()
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["database"]["state"] == "ok"
    assert f"127.0.0.1:{bouncer.port}" in checks["database"]["detail"]
    assert checks["migrations"]["state"] == "ok"
    assert {job["job"]: job["state"] for job in report["jobs"]}["extract"] == "ok"


def test_idle_extract_worker_falls_back_to_polling_through_pgbouncer(
    bouncer: Bouncer, database_url: str, procs: Processes, tmp_path: Path
) -> None:
    """LISTEN reaches some pooled server connection, never this client: polling must do."""
    env = cli_env(
        bouncer.url(database_url), tmp_path / "home", DB_PREPARED_STATEMENTS="0", LOG_LEVEL="INFO"
    )
    worker = procs.spawn_cli("extract", "--max-runtime", "12s", env=env)
    wait_until(
        lambda: query(
            database_url,
            "SELECT 1 FROM job_runs WHERE job_name = 'extract' AND status = 'running'",
        ),
        timeout=30,
        what="the worker to start",
    )
    time.sleep(1.0)  # now it waits on its (deaf) LISTEN connection with an empty queue
    imported = procs.cli(
        "backfill", "--from-export", str(SAMPLE_EXPORT), "--channels", "@wirewatch_demo", env=env
    )
    assert_ok(imported)
    jobs = query(database_url, "SELECT count(*) AS n FROM extraction_jobs")[0]["n"]
    assert jobs > 0
    wait_until(
        lambda: job_states(database_url) == {"ok": jobs},
        timeout=10,
        interval=0.2,
        what="the idle worker to pick up the new jobs",
    )
    finished = worker.wait(timeout=60)
    assert_ok(finished)
    run = query(database_url, "SELECT status, counts FROM job_runs WHERE job_name = 'extract'")[0]
    assert run["status"] == "success"
    assert run["counts"]["ok"] == jobs
    # The listening client holds no server connection while it waits, so no notification
    # can reach it: the jobs were found by the poll.
    assert "woken_by_notify" not in run["counts"]


def test_lease_race_through_pgbouncer_has_exactly_one_winner(
    bouncer: Bouncer, database_url: str, procs: Processes, tmp_path: Path
) -> None:
    env = cli_env(
        bouncer.url(database_url),
        tmp_path / "home",
        DB_PREPARED_STATEMENTS="0",
        LEASE_TTL_SECONDS="2",
        PYTHONPATH=str(ROOT),
    )
    start_at = time.time() + 2.0
    racers = [
        procs.start(
            [
                sys.executable,
                "-m",
                "tests.helpers.job_process",
                "race",
                "--hold",
                "3",
                "--start-at",
                str(start_at),
            ],
            env,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    results = [racer.wait(timeout=60) for racer in racers]
    for result in results:
        assert_ok(result)
    outputs = [result.stdout.split() for result in results]
    assert sorted(outputs) == [["holding", "done"]] + [["skipped"]] * 3
    rows = query(
        database_url,
        "SELECT status, count(*) AS n FROM job_runs WHERE job_name = 'race' GROUP BY status",
    )
    assert {row["status"]: row["n"] for row in rows} == {"success": 1, "skipped": 3}


def test_with_prepared_statements_left_on_every_failure_is_one_clean_line(
    bouncer: Bouncer,
    empty_database_url: str,
    generated_export: Path,
    procs: Processes,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What an operator sees behind PgBouncer without DB_PREPARED_STATEMENTS=0.

    Which commands fail is reported (shown with `pytest -s`), not asserted: it depends on
    the PgBouncer version (1.21+ can track protocol-level prepared statements).
    """
    env = cli_env(bouncer.url(empty_database_url), tmp_path / "home")
    steps = [
        ("db", "migrate"),
        ("backfill", "--from-export", str(SAMPLE_EXPORT), "--channels", "@wirewatch_demo"),
        ("backfill", "--from-export", str(generated_export), "--channels", "@bench_wire"),
        ("extract", "--oneshot", "--concurrency", "4"),
        ("digest", "--dry-run", "--at", AT),
        ("health", "--format", "json"),
        ("runs",),
    ]
    report = [f"through {bouncer.version} (transaction pooling), DB_PREPARED_STATEMENTS unset:"]
    for step in steps:
        if step[0] == "extract":
            workers = [procs.spawn_cli(*step, env=env) for _ in range(3)]
            results = [worker.wait(timeout=240) for worker in workers]
        else:
            results = [procs.cli(*step, env=env)]
        for result in results:
            assert "Traceback" not in result.stderr, result.describe()
            # A failure is one clean line; health may also answer with a report of its own.
            report_given = step[0] == "health" and result.stdout.startswith("{")
            assert result.returncode == 0 or report_given or len(result.error_lines) == 1, (
                result.describe()
            )
            verdict = "ok" if result.returncode == 0 else f"exit {result.returncode}"
            if result.error_lines:
                verdict += f": {result.error_lines[-1]}"
            report.append(f"  {' '.join(step[:2])}: {verdict}")
    states = job_states(empty_database_url)
    errors = query(
        empty_database_url,
        "SELECT left(last_error, 120) AS error, count(*) AS n "
        "FROM extraction_jobs WHERE last_error IS NOT NULL GROUP BY 1 ORDER BY n DESC LIMIT 3",
    )
    report.append(f"  extraction_jobs by status: {states}")
    report.extend(f"  job error x{row['n']}: {row['error']}" for row in errors)
    with capsys.disabled():
        print("\n" + "\n".join(report))


def hammer(
    url: str, *, prepared_statements: bool, threads: int = 4, rounds: int = 100
) -> list[str]:
    """Run the same named queries from several connections at once; return the errors."""
    errors: list[str] = []

    def work(worker: int) -> None:
        with Database.connect(url, prepared_statements=prepared_statements) as db:
            for round_number in range(rounds):
                try:
                    db.fetch_one("get_lease", {"name": f"probe-{worker}"})
                    with db.transaction():
                        leases.acquire(db, f"probe-{worker}", f"worker-{worker}", 30)
                        leases.release(db, f"probe-{worker}", f"worker-{worker}")
                except CivicquantError as exc:
                    errors.append(f"round {round_number}: {exc}")

    pool = [threading.Thread(target=work, args=(worker,)) for worker in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return errors


def test_database_seam_with_prepared_statements_off_survives_pooled_server_connections(
    bouncer: Bouncer, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """DB_PREPARED_STATEMENTS=0 is what makes repeated queries safe behind PgBouncer."""
    through = bouncer.url(database_url)
    assert hammer(through, prepared_statements=False) == []
    with_prepared = hammer(through, prepared_statements=True)
    with capsys.disabled():  # shown with `pytest -s`: what the setting prevents
        print(
            f"\nthrough {bouncer.version} with prepared statements on: {len(with_prepared)} of "
            f"400 rounds failed" + (f", e.g. {with_prepared[0]}" if with_prepared else "")
        )


def test_prepared_statements_left_on_behind_pgbouncer_are_named_not_taken_for_job_failures(
    bouncer: Bouncer, database_url: str, generated_export: Path, procs: Processes, tmp_path: Path
) -> None:
    """Each lost prepared statement is a setting error naming DB_PREPARED_STATEMENTS=0."""
    through = bouncer.url(database_url)
    errors = hammer(through, prepared_statements=True)
    assert errors, f"{bouncer.version} kept every prepared statement: nothing to detect"
    assert all("set DB_PREPARED_STATEMENTS=0" in error for error in errors), errors[:3]

    setup = cli_env(through, tmp_path / "home", DB_PREPARED_STATEMENTS="0")
    assert_ok(procs.cli("backfill", "--from-export", str(generated_export), env=setup))
    env = cli_env(through, tmp_path / "home", DB_PREPARED_STATEMENTS="1")
    workers = [
        procs.spawn_cli("extract", "--oneshot", "--concurrency", "4", env=env) for _ in range(3)
    ]
    for result in (worker.wait(timeout=240) for worker in workers):
        assert "Traceback" not in result.stderr, result.describe()
        if result.returncode != 0:
            assert result.returncode == 2, result.describe()
            [line] = result.error_lines
            assert "set DB_PREPARED_STATEMENTS=0" in line, line
    # No job was failed for it: a run that met it stopped, naming the setting.
    failed = query(
        database_url,
        "SELECT count(*) AS n FROM extraction_jobs WHERE last_error LIKE '%%prepared statement%%'",
    )
    assert failed[0]["n"] == 0
