"""SIGKILL `civicquant extract` workers at random moments: the queue and the events stay right.

Three workers share a queue of 3,000 posts (fed in waves while they run, so every kill
lands on a worker with work in hand). Trial after trial one worker, chosen at random, is
SIGKILLed after a random delay and a replacement is started; a final `extract --oneshot`
drains what the dead left behind once their leases expire. Every job must end `ok`
exactly once, and every event must agree with its sources: a kill inside the commit
transaction rolls it back whole, so no event is left stale, empty or double-counted.
The trials are seeded, so a failure replays with the same kills.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.reliability.support import Processes, Running, cli_env, query, wait_until

pytestmark = pytest.mark.reliability

SEED = 20261123
JOBS = 3000
FIRST_WAVE = 900
TRIALS = 24
WORKERS = 3
LEASE_SECONDS = 2
T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
CHANNELS = [Channel(2001 + i, f"wire_{i}") for i in range(5)]

# Stories several channels carry, each retold with small variations, so posts merge into
# shared events (and some events gain sources from several channels).
STORIES = [
    "The European Central Bank raises its deposit rate by 25 basis points to 3.5 percent, "
    "citing persistent services inflation across the euro area",
    "OPEC+ agrees to extend 1.2 million barrels per day of voluntary output cuts until the "
    "end of June, two delegates say after the meeting in Vienna",
    "Portugal's president dissolves parliament and calls a snap general election for "
    "31 January after the minority government lost the confidence vote",
    "Bitcoin falls 8 percent to 61,000 dollars as exchanges report record liquidations of "
    "leveraged long positions overnight",
    "The US Federal Reserve holds rates steady and signals two cuts next year as inflation "
    "cools faster than officials expected",
    "A magnitude 6.4 earthquake strikes off the coast of northern Japan, the meteorological "
    "agency says, with no tsunami warning issued",
    "Germany's industrial output drops 1.9 percent in October, the statistics office says, "
    "the steepest monthly fall since the spring",
    "Gold hits a record 2,450 dollars an ounce as investors seek safety after the weak US "
    "payrolls report on Friday",
    "The Bank of England keeps its main rate at 5 percent in a split vote, with two members "
    "backing an immediate cut",
    "Ceasefire talks resume in Cairo with mediators from Qatar and Egypt presenting a new "
    "three stage proposal to both delegations",
    "Apple shares slide 4 percent after the company warns of weaker iPhone demand in China "
    "during the holiday quarter",
    "The Turkish central bank raises its policy rate to 50 percent to fight inflation that "
    "has reached 75 percent this year",
]
VARIATIONS: list[Callable[[str], str]] = [
    lambda text: text,
    lambda text: f"BREAKING: {text}",
    lambda text: f"{text}, officials said",
    lambda text: f"{text}. More to follow",
    lambda text: text.replace(" says", " said"),
    lambda text: f"JUST IN: {text}",
]
WORDS = [
    "minister",
    "council",
    "port",
    "grain",
    "harbour",
    "bridge",
    "storm",
    "court",
    "ruling",
    "vote",
    "budget",
    "tariff",
    "shipment",
    "strike",
    "union",
    "airline",
    "airport",
    "refinery",
    "pipeline",
    "drought",
    "harvest",
    "wheat",
    "copper",
    "mine",
    "exports",
    "imports",
    "census",
    "survey",
    "tender",
    "bond",
    "yield",
    "auction",
    "merger",
    "lawsuit",
    "recall",
    "factory",
    "plant",
    "railway",
    "tunnel",
    "summit",
    "treaty",
    "border",
    "patrol",
    "festival",
    "museum",
    "satellite",
    "launch",
    "rocket",
    "vaccine",
    "hospital",
    "school",
    "teachers",
    "nurses",
    "farmers",
    "fishermen",
]
NOTHING_TO_READ = ["🔥🔥🔥", "https://t.me/somewhere/123", "👍"]


def post_texts(rng: random.Random, count: int) -> list[str]:
    """Half retold stories, half one-off reports, and a few posts with nothing to read."""
    texts = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.02:
            texts.append(rng.choice(NOTHING_TO_READ))
        elif roll < 0.5:
            texts.append(rng.choice(VARIATIONS)(rng.choice(STORIES)))
        else:
            words = " ".join(rng.choice(WORDS) for _ in range(14))
            texts.append(f"Report {i}: the {words} in region {rng.randrange(500)}")
    return texts


def seed_posts(database_url: str, texts: list[str], first_index: int) -> None:
    """Store posts through the raw log (which queues them), one batch per channel."""
    by_channel: dict[int, list[RawPost]] = {}
    for offset, text in enumerate(texts):
        index = first_index + offset
        channel = CHANNELS[index % len(CHANNELS)]
        by_channel.setdefault(channel.channel_id, []).append(
            RawPost(
                channel.channel_id,
                index // len(CHANNELS) + 1,
                # 3,000 posts over ~8 hours: stories recur inside the 6-hour merge window.
                T0 + timedelta(seconds=index * 10),
                text=text,
            )
        )
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        for channel in CHANNELS:
            rawlog.save_channel(channel)
        for channel_id, posts in by_channel.items():
            rawlog.store(channel_id, posts, "live")


def job_states(database_url: str) -> dict[str, int]:
    rows = query(database_url, "SELECT status, count(*) AS n FROM extraction_jobs GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


def run_recorded(database_url: str, pid: int) -> bool:
    rows = query(
        database_url, "SELECT 1 FROM job_runs WHERE job_name = 'extract' AND pid = %s", (pid,)
    )
    return bool(rows)


def holds_jobs(database_url: str, pid: int) -> bool:
    """Whether the worker with this pid holds leased jobs (its id is host:pid:run)."""
    rows = query(
        database_url,
        "SELECT 1 FROM extraction_jobs WHERE status = 'running' AND leased_by LIKE %s LIMIT 1",
        (f"%:{pid}:%",),
    )
    return bool(rows)


def test_randomly_sigkilled_extract_workers_leave_every_job_done_once_and_events_consistent(
    database_url: str, procs: Processes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rng = random.Random(SEED)
    texts = post_texts(rng, JOBS)
    seed_posts(database_url, texts[:FIRST_WAVE], 0)
    # The rest arrives in one wave per trial, the way listen feeds the queue.
    step = -(-(JOBS - FIRST_WAVE) // TRIALS)
    waves = [(start, texts[start : start + step]) for start in range(FIRST_WAVE, JOBS, step)]
    env = cli_env(
        database_url,
        tmp_path_factory.mktemp("home"),
        EXTRACT_LEASE_SECONDS=str(LEASE_SECONDS),
        LOG_LEVEL="WARNING",
    )

    everyone: list[Running] = []

    def start_worker() -> Running:
        worker = procs.spawn_cli("extract", "--concurrency", "4", env=env)
        everyone.append(worker)
        return worker

    workers = [start_worker() for _ in range(WORKERS)]
    started = time.monotonic()
    kills_with_work_in_hand = 0
    for trial in range(TRIALS):
        if trial < len(waves):
            seed_posts(database_url, waves[trial][1], waves[trial][0])
        # The adversary strikes at a random moment, or earlier at a worker it catches with
        # work in hand: on a fast machine a wave is done within a fraction of a second, and
        # kills of idle workers alone would test little.
        strike_at = time.monotonic() + rng.uniform(0.05, 1.5)
        busy: list[int] = []
        while not busy and time.monotonic() < strike_at:
            busy = [i for i in range(WORKERS) if holds_jobs(database_url, workers[i].pid)]
        victim = rng.choice(busy) if busy else rng.randrange(WORKERS)
        if busy:
            kills_with_work_in_hand += 1
        exited = workers[victim].poll()
        assert exited is None, (
            f"trial {trial}: worker {victim} had already exited\n"
            + workers[victim].finished().describe()
        )
        workers[victim].kill(signal.SIGKILL)
        workers[victim].wait(timeout=10)
        workers[victim] = start_worker()
    trials_took = time.monotonic() - started

    # The survivors stop cooperatively (SIGTERM): they finish or release what they hold.
    # (Once up: a SIGTERM while Python is still importing ends it before any work.)
    for worker in workers:
        wait_until(
            partial(run_recorded, database_url, worker.pid),
            timeout=30,
            what=f"worker {worker.pid} to record its run",
        )
    time.sleep(0.2)
    for worker in workers:
        worker.kill(signal.SIGTERM)
    for worker in workers:
        finished = worker.wait(timeout=30)
        assert finished.returncode == 0, finished.describe()

    # What the killed workers held is claimable once their leases expire.
    time.sleep(LEASE_SECONDS + 0.5)
    drain = procs.cli("extract", "--oneshot", "--concurrency", "4", env=env, timeout=120)
    assert drain.returncode == 0, drain.describe()
    # Nobody, killed or not, met an error it had to log (lease losses are warnings).
    for running in everyone:
        logged = running.stderr()
        assert '"level": "error"' not in logged, logged[-3000:]
        assert "Traceback" not in logged, logged[-3000:]

    assert job_states(database_url) == {"ok": JOBS}
    totals = query(
        database_url,
        "SELECT (SELECT count(*) FROM extractions) AS extractions, "
        "(SELECT count(*) FROM extractions WHERE pipeline_version = 'v1') AS v1_extractions, "
        "(SELECT count(*) FROM extractions WHERE updated_at <> created_at) AS rewritten, "
        "(SELECT sum(attempts) FROM extraction_jobs) AS attempts, "
        "(SELECT count(*) FROM extraction_jobs "
        "   WHERE leased_by IS NOT NULL OR lease_expires_at IS NOT NULL) AS leased, "
        "(SELECT count(*) FROM event_sources) AS sources, "
        "(SELECT count(*) FROM events WHERE merged_into IS NULL) AS live_events",
    )[0]
    assert totals["extractions"] == JOBS == totals["v1_extractions"]
    # Each stored once: a second completion would have rewritten the row (upsert).
    assert totals["rewritten"] == 0
    # No lease is left behind to hold up the next run.
    assert totals["leased"] == 0
    # The kills did take work away from live workers: some jobs were claimed again.
    # The kills must have hit workers with work in hand, not only idle ones (how many
    # depends on the machine's speed, so only a few are asked for).
    assert kills_with_work_in_hand >= 3, (kills_with_work_in_hand, trials_took)
    assert totals["attempts"] > JOBS

    # Every post with something to read is in exactly one event (the primary key of
    # event_sources allows at most one; the count says none is missing).
    headlines = query(database_url, "SELECT headline FROM extractions")
    readable = sum(1 for row in headlines if row["headline"].strip())
    assert 0 < readable < JOBS
    assert totals["sources"] == readable

    # No event left stale by a kill mid-commit: each live one agrees with its sources...
    stale = query(
        database_url,
        "SELECT e.id, e.source_count, e.first_seen_at, e.last_seen_at, "
        "       count(DISTINCT s.channel_id) AS channels, min(s.posted_at) AS first_source, "
        "       max(s.posted_at) AS last_source, count(s.raw_message_id) AS sources "
        "FROM events e LEFT JOIN event_sources s ON s.event_id = e.id "
        "WHERE e.merged_into IS NULL "
        "GROUP BY e.id "
        "HAVING count(s.raw_message_id) = 0 "
        "    OR e.source_count <> count(DISTINCT s.channel_id) "
        "    OR e.first_seen_at <> min(s.posted_at) OR e.last_seen_at <> max(s.posted_at) "
        "LIMIT 10",
    )
    assert stale == []
    # ...and each merged one gave all its sources to a live event.
    misplaced = query(
        database_url,
        "SELECT e.id FROM events e JOIN events t ON t.id = e.merged_into "
        "WHERE t.merged_into IS NOT NULL "
        "   OR EXISTS (SELECT 1 FROM event_sources s WHERE s.event_id = e.id)",
    )
    assert misplaced == []
    # The stories did merge: the check above looked at multi-source events too.
    merged = query(
        database_url,
        "SELECT count(*) FILTER (WHERE source_count > 1) AS multi, max(source_count) AS widest "
        "FROM events WHERE merged_into IS NULL",
    )[0]
    assert totals["live_events"] < totals["sources"]
    assert merged["multi"] > 0
    assert merged["widest"] == len(CHANNELS)
    # A live event's headline is one of its own sources' headlines.
    foreign = query(
        database_url,
        "SELECT e.id FROM events e WHERE e.merged_into IS NULL AND NOT EXISTS ("
        "  SELECT 1 FROM event_sources s JOIN extractions x "
        "    ON x.raw_message_id = s.raw_message_id AND x.pipeline_version = s.pipeline_version "
        "  WHERE s.event_id = e.id AND x.headline = e.headline) LIMIT 10",
    )
    assert foreign == []
