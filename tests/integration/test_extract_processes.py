"""Real `civicquant extract` processes sharing one queue: no job lost, none done twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.fakes.chat_server import ChatServer

CIVICQUANT = Path(sys.executable).parent / "civicquant"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TOPICS = ["Fed", "oil", "bitcoin", "election", "earnings", "ceasefire", "ECB", "gold"]

pytestmark = pytest.mark.slow


def seed(database_url: str, n: int) -> None:
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        posts = [
            RawPost(
                1001,
                i,
                T0 + timedelta(seconds=i * 7),
                text=f"Report {i}: {TOPICS[i % 8]} update number {i} with {i % 97}% change in {i // 8} markets",
            )
            for i in range(1, n + 1)
        ]
        for start in range(0, n, 1000):
            rawlog.store(1001, posts[start : start + 1000], "live")


def worker(database_url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CIVICQUANT), "extract", *args],
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "DATABASE_URL": database_url,
            "LOG_FORMAT": "json",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def job_states(database_url: str) -> dict[str, int]:
    with Database.connect(database_url) as db:
        rows = db.connection.execute(
            "SELECT status, count(*) AS n FROM extraction_jobs GROUP BY status"
        ).fetchall()
    return {row["status"]: row["n"] for row in rows}


def test_eight_workers_complete_5000_jobs_exactly_once(database_url: str) -> None:
    seed(database_url, 5000)
    procs = [worker(database_url, "--oneshot", "--concurrency", "4") for _ in range(8)]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err[-1500:] for _, err in outputs]
    assert job_states(database_url) == {"ok": 5000}
    with Database.connect(database_url) as db:
        counts = db.connection.execute(
            "SELECT (SELECT count(*) FROM extractions) AS extractions, "
            "(SELECT count(*) FROM event_sources) AS sources, "
            "(SELECT sum(attempts) FROM extraction_jobs) AS attempts"
        ).fetchone()
        done_per_run = db.connection.execute(
            "SELECT sum((counts->>'ok')::int) AS ok FROM job_runs WHERE job_name = 'extract'"
        ).fetchone()
    assert counts is not None
    assert done_per_run is not None
    assert counts["extractions"] == 5000
    assert counts["sources"] == 5000
    assert counts["attempts"] == 5000  # nobody claimed a job twice
    assert done_per_run["ok"] == 5000  # the workers' own counts add up to the jobs


def test_sigkilled_worker_jobs_are_finished_by_the_next_after_lease_expiry(
    database_url: str,
) -> None:
    seed(database_url, 60)
    with ChatServer(delay=30.0) as slow_llm:
        victim = worker(
            database_url,
            "--concurrency",
            "16",
            LLM_PROVIDER="openai",
            LLM_API_URL=slow_llm.url,
            LLM_MODEL_NAME="test",
            EXTRACT_LEASE_SECONDS="3",
        )
        deadline = time.monotonic() + 60
        while job_states(database_url).get("running", 0) == 0:
            assert time.monotonic() < deadline, victim.communicate(timeout=5)[1][-2000:]
            time.sleep(0.1)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
    held = job_states(database_url)["running"]
    assert held > 0

    rescuer = worker(database_url, "--oneshot", LLM_PROVIDER="rules")
    _, err = rescuer.communicate(timeout=120)
    assert rescuer.returncode == 0, err[-2000:]
    # Jobs under a live lease are not touched: a oneshot run may end before expiry.
    time.sleep(3.5)
    second = worker(database_url, "--oneshot", LLM_PROVIDER="rules")
    second.communicate(timeout=120)
    assert job_states(database_url) == {"ok": 60}
    with Database.connect(database_url) as db:
        reclaimed = db.connection.execute(
            "SELECT sum(coalesce((counts->>'reclaimed')::int, 0)) AS n FROM job_runs"
        ).fetchone()
    assert reclaimed is not None
    assert reclaimed["n"] == held
