"""Leases with real processes: one winner, takeover after a SIGKILL, release on signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicquant.config import Settings
from civicquant.db import Database, open_database
from civicquant.runtime import leases

ROOT = Path(__file__).resolve().parents[2]


_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _reap_processes() -> Iterator[None]:
    """Kill and reap every process a test started, closing its pipes."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def spawn(database_url: str, job: str, *args: str, ttl: int = 2) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEASE_TTL_SECONDS": str(ttl),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.job_process", job, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    _started.append(proc)
    return proc


def wait_for_line(proc: subprocess.Popen[str], expected: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"never printed {expected!r}; stderr: {proc.communicate()[1][-2000:]}")


def test_acquire_takes_a_free_lease_and_refuses_a_held_one(db: Database) -> None:
    assert leases.acquire(db, "listen", "host-a:1", 30) is not None
    assert leases.acquire(db, "listen", "host-b:2", 30) is None
    lease = leases.current(db, "listen")
    assert lease is not None
    assert lease["holder"] == "host-a:1"


def test_holder_can_reacquire_its_own_lease(db: Database) -> None:
    first = leases.acquire(db, "listen", "host-a:1", 30)
    again = leases.acquire(db, "listen", "host-a:1", 30)
    assert first is not None
    assert again is not None
    assert again.acquired_at == first.acquired_at


def test_expired_lease_is_taken_over(db: Database) -> None:
    assert leases.acquire(db, "listen", "host-a:1", 0.2) is not None
    time.sleep(0.4)
    assert leases.acquire(db, "listen", "host-b:2", 30) is not None
    assert leases.renew(db, "listen", "host-a:1", 30) is False


def test_release_by_another_holder_does_nothing(db: Database) -> None:
    leases.acquire(db, "listen", "host-a:1", 30)
    leases.release(db, "listen", "host-b:2")
    assert leases.current(db, "listen") is not None
    leases.release(db, "listen", "host-a:1")
    assert leases.current(db, "listen") is None


def test_racing_processes_exactly_one_wins(database_url: str) -> None:
    start_at = time.time() + 2.0
    procs = [
        spawn(database_url, "race", "--hold", "3", "--start-at", str(start_at)) for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    outputs = [out.split() for out, _ in results]
    assert all(proc.returncode == 0 for proc in procs), [err[-2000:] for _, err in results]
    assert all(proc.returncode == 0 for proc in procs)
    assert sum("holding" in out for out in outputs) == 1
    assert sum("skipped" in out for out in outputs) == 3
    with Database.connect(database_url) as db:
        rows = db.connection.execute(
            "SELECT status, count(*) AS n FROM job_runs WHERE job_name = 'race' GROUP BY status"
        ).fetchall()
    assert {row["status"]: row["n"] for row in rows} == {"success": 1, "skipped": 3}


def test_sigkilled_holder_loses_the_lease_after_expiry(database_url: str) -> None:
    holder = spawn(database_url, "listen", "--hold", "60", ttl=2)
    wait_for_line(holder, "holding")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)

    blocked = spawn(database_url, "listen", "--hold", "0", ttl=2)
    assert blocked.communicate(timeout=60)[0].split() == ["skipped"]

    time.sleep(2.5)
    successor = spawn(database_url, "listen", "--hold", "0", ttl=2)
    out = successor.communicate(timeout=60)[0].split()
    assert out == ["holding", "done"]
    with Database.connect(database_url) as db:
        statuses = [
            row["status"]
            for row in db.connection.execute(
                "SELECT status FROM job_runs WHERE job_name = 'listen' ORDER BY started_at"
            ).fetchall()
        ]
    # the killed run never got to record its end: the next run on the host marks it abandoned
    assert statuses == ["abandoned", "skipped", "success"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_releases_the_lease_and_records_the_run(database_url: str, signum: int) -> None:
    holder = spawn(database_url, "listen", "--hold", "60", "--cooperative", ttl=30)
    wait_for_line(holder, "holding")
    holder.send_signal(signum)
    assert holder.wait(timeout=20) == 0
    with Database.connect(database_url) as db:
        assert leases.current(db, "listen") is None
        run = db.connection.execute("SELECT status, counts FROM job_runs").fetchone()
    assert run is not None
    assert run["status"] == "success"
    assert run["counts"]["stopped"] is True


def test_non_cooperative_job_interrupted_by_sigterm_is_recorded_interrupted(
    database_url: str,
) -> None:
    holder = spawn(database_url, "prune", "--hold", "60", ttl=30)
    wait_for_line(holder, "holding")
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(timeout=20) == 128 + signal.SIGTERM
    with Database.connect(database_url) as db:
        assert leases.current(db, "prune") is None
        run = db.connection.execute("SELECT status, error FROM job_runs").fetchone()
    assert run is not None
    assert run["status"] == "interrupted"
    assert run["error"] == "interrupted by SIGTERM"


def test_sigterm_while_asyncio_runs_a_step_still_ends_the_job(database_url: str) -> None:
    # asyncio logs and drops an Exception raised inside a callback: the signal must not be one.
    holder = spawn(database_url, "digest:vip", "--hold", "60", "--asyncio", ttl=30)
    wait_for_line(holder, "holding")
    assert holder.wait(timeout=20) == 128 + signal.SIGTERM
    with Database.connect(database_url) as db:
        assert leases.current(db, "digest:vip") is None
        run = db.connection.execute("SELECT status, error FROM job_runs").fetchone()
    assert run is not None
    assert run["status"] == "interrupted"
    assert run["error"] == "interrupted by SIGTERM"


def test_heartbeat_keeps_a_lease_alive_past_its_ttl(database_url: str) -> None:
    holder = spawn(database_url, "listen", "--hold", "60", "--cooperative", ttl=1)
    wait_for_line(holder, "holding")
    time.sleep(2.5)  # more than twice the TTL: only renewals keep it ours
    with Database.connect(database_url) as db:
        assert leases.acquire(db, "listen", "intruder", 30) is None
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=20)


def test_job_connections_give_up_on_a_silent_server_within_half_a_lease_ttl(
    settings: Settings,
) -> None:
    # LEASE_TTL_SECONDS=5 (the fixture): the heartbeat's sibling connection inherits it.
    with open_database(settings) as db, db.open_sibling("civicquant test lease") as sibling:
        for conn in (db, sibling):
            parameters = conn.connection.info.get_parameters()
            assert parameters["tcp_user_timeout"] == "2500"
            assert parameters["keepalives"] == "1"
            assert parameters["keepalives_idle"] == "1"
