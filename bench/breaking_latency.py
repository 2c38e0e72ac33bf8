"""`breaking_latency`: a post committed to the raw log until its alert reaches the Bot API.

A real `civicquant extract` process waits idle on LISTEN/NOTIFY; each breaking post is
stored (committed, which notifies), extracted with the rules provider, merged, and
flashed through python-telegram-bot to the fake Bot API server, whose clock of arrival
is compared with the commit's. Posts are stored one at a time, each after the previous
alert arrived, so the figure is latency, not throughput.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench.context import Context
from bench.pg import scratch_database
from bench.results import Row, verdict
from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog

CIVICQUANT = os.path.join(os.path.dirname(sys.executable), "civicquant")
CITIES = [
    "Rotterdam",
    "Houston",
    "Singapore",
    "Antwerp",
    "Jamnagar",
    "Ulsan",
    "Baytown",
    "Ruwais",
    "Ras Tanura",
    "Yanbu",
    "Mongstad",
    "Pernis",
    "Lavera",
    "Sines",
    "Gdansk",
    "Kwinana",
    "Richmond",
    "Whiting",
    "Joliet",
    "Sarnia",
    "Corpus Christi",
    "Port Arthur",
    "Lake Charles",
    "Baton Rouge",
    "Pascagoula",
    "Wood River",
    "Deer Park",
    "Texas City",
    "Beaumont",
    "Chalmette",
]
TARGET_P50, TARGET_P95 = 2.0, 5.0


def run(ctx: Context) -> list[Row]:
    sys.path.insert(0, str(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from tests.fakes.bot_api import TOKEN, FakeBotApi

    count = ctx.size(30, 10)
    latencies: list[float] = []
    with (
        scratch_database(ctx.server, "breaking") as url,
        Database.connect(url) as db,
        FakeBotApi() as bot,
    ):
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "bench_wire"))
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LLM_PROVIDER": "rules",
            "TG_BOT_TOKEN": TOKEN,
            "TG_BOT_API_URL": bot.url,
            "TG_VIP_CHAT_ID": "-1001000000001",
            "FLASH_MIN_IMPORTANCE": "0.4",
            "LOG_LEVEL": "WARNING",
        }
        worker = subprocess.Popen(
            [CIVICQUANT, "extract", "--max-runtime", "600s"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ctx.workdir,
        )
        try:
            _wait_until_listening(db)
            for index in range(count):
                before = len(bot.sent_messages)
                post = RawPost(
                    1001,
                    index + 1,
                    _now(),
                    text=f"🚨 BREAKING: Explosion at {CITIES[index % len(CITIES)]} refinery "
                    f"number {index}; {index + 3} injured, fire crews on site",
                )
                started = time.monotonic()
                rawlog.store(1001, [post], "live")
                while len(bot.sent_messages) == before:
                    if time.monotonic() - started > 30:
                        raise RuntimeError(f"no alert for post {index + 1} within 30 s")
                    time.sleep(0.002)
                latencies.append(time.monotonic() - started)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18]
    return [
        Row(
            name=f"breaking latency p50 ({count} posts, extract waiting on NOTIFY)",
            measured=p50,
            unit="s",
            reference="",
            ratio=None,
            target=f"<= {TARGET_P50:.0f} s",
            verdict=verdict(p50 <= TARGET_P50),
        ),
        Row(
            name=f"breaking latency p95 ({count} posts)",
            measured=p95,
            unit="s",
            reference="",
            ratio=None,
            target=f"<= {TARGET_P95:.0f} s",
            verdict=verdict(p95 <= TARGET_P95),
        ),
    ]


def _wait_until_listening(db: Database) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = db.connection.execute(
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE application_name = 'civicquant extract listen'"
        ).fetchone()
        if row and row["n"]:
            return
        time.sleep(0.1)
    raise RuntimeError("the extract worker never started listening")


def _now() -> datetime:
    return datetime.now(UTC)
