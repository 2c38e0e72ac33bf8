"""Crashes and a missing database: what is left behind is finished right by the next run.

A `civicquant digest` SIGKILLed in the pause between two parts of a multi-part digest,
a `backfill --from-export` SIGKILLed in the middle of a large import, and every command
started while the database is unreachable.
"""

from __future__ import annotations

import signal
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.gen_export import generate
from civicquant.db import Database
from civicquant.ingest.export_file import ExportFile
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.reliability.support import (
    SAMPLE_EXPORT,
    Processes,
    cli_env,
    query,
    wait_until,
)

AT = "2026-11-20T09:30:00Z"  # inside the 08:00-12:00 window
T0 = datetime(2026, 11, 20, 8, 5, tzinfo=UTC)
CHAT = "-1001234567890"
EXPORT_POSTS = 20_000
PASSWORD = "Cr4sh-pw-Xq7Lm2Vb9"


def long_stories(count: int) -> list[str]:
    """Distinct stories long enough that 60 of them need several Telegram messages."""
    return [
        f"Story {i}: the {['central bank', 'oil cartel', 'exchange', 'parliament'][i % 4]} "
        f"in country number {i} announced measure {i * 37} affecting {i * 11} thousand people "
        f"and {i * 3} percent of output, officials said on {i % 28 + 1} November"
        for i in range(count)
    ]


def seed_long_stories(database_url: str) -> None:
    """60 long posts in the raw log, queued for extraction (v1)."""
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        rawlog.store(
            1001,
            [
                RawPost(1001, i + 1, T0 + timedelta(minutes=i), text=text)
                for i, text in enumerate(long_stories(60))
            ],
            "live",
        )


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ledger(database_url: str) -> dict[str, Any] | None:
    rows = query(
        database_url,
        "SELECT status, parts, message_ids, sending_part FROM published_posts ORDER BY id",
    )
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def test_digest_killed_between_parts_is_finished_by_the_next_run_without_repeats(
    database_url: str, procs: Processes, tmp_path: Path
) -> None:
    seed_long_stories(database_url)
    with FakeBotApi() as bot:
        env = cli_env(
            database_url,
            tmp_path / "home",
            TG_BOT_TOKEN=bot_api.TOKEN,
            TG_BOT_API_URL=bot.url,
            TG_VIP_CHAT_ID=CHAT,
            DIGEST_PART_INTERVAL_SECONDS="3",
            DIGEST_MAX_EVENTS="0",  # every event: a digest of several parts
            LEASE_TTL_SECONDS="2",
        )
        extracted = procs.cli("extract", "--oneshot", env=env)
        assert extracted.returncode == 0, extracted.describe()

        victim = procs.spawn_cli("digest", "--at", AT, env=env)
        paused = wait_until(
            lambda: (
                (row := ledger(database_url))
                and len(row["message_ids"]) == 1
                and row["sending_part"] is None
                and row
            ),
            timeout=60,
            interval=0.02,
            what="the digest to pause after its first part",
        )
        assert len(paused["parts"]) >= 3, "the digest should have several parts"
        victim.kill(signal.SIGKILL)
        assert victim.wait(timeout=10).returncode == -signal.SIGKILL
        assert len(bot.sent_messages) == 1

        # The dead run's lease expires after LEASE_TTL_SECONDS; until then a run is skipped.
        wait_until(
            lambda: (
                query(database_url, "SELECT 1 FROM leases WHERE expires_at <= now()")
                or not query(database_url, "SELECT 1 FROM leases")
            ),
            timeout=10,
            what="the killed digest's lease to expire",
        )
        resumed = procs.cli("digest", "--at", AT, env=env, timeout=120)
        assert resumed.returncode == 0, resumed.describe()
        assert "outcome=sent" in resumed.stdout, resumed.describe()

        row = ledger(database_url)
        assert row is not None
        assert row["status"] == "sent"
        texts = [message.text for message in bot.sent_messages]
        assert texts == row["parts"]  # every part once, in order
        assert row["message_ids"] == [m.message_id for m in bot.sent_messages]
        again = procs.cli("digest", "--at", AT, env=env)
        assert again.returncode == 0
        assert "outcome=already_sent" in again.stdout
        assert len(bot.sent_messages) == len(row["parts"])
    runs = query(
        database_url,
        "SELECT status FROM job_runs WHERE job_name = 'digest:vip' ORDER BY started_at",
    )
    assert [run["status"] for run in runs] == ["running", "success", "success"]


def test_digest_killed_while_a_part_is_in_flight_is_not_resent_without_force(
    database_url: str, procs: Processes, tmp_path: Path
) -> None:
    """Whether the part went out is unknown: a duplicate is worse than a late digest."""
    seed_long_stories(database_url)
    with FakeBotApi() as bot:
        env = cli_env(
            database_url,
            tmp_path / "home",
            TG_BOT_TOKEN=bot_api.TOKEN,
            TG_BOT_API_URL=bot.url,
            TG_VIP_CHAT_ID=CHAT,
            DIGEST_PART_INTERVAL_SECONDS="0",
            DIGEST_MAX_EVENTS="0",  # every event: a digest of several parts
            LEASE_TTL_SECONDS="2",
        )
        assert procs.cli("extract", "--oneshot", env=env).returncode == 0
        bot.hold_after(1)  # part 2 reaches Telegram and gets no answer
        victim = procs.spawn_cli("digest", "--at", AT, env=env)
        wait_until(
            lambda: (row := ledger(database_url)) and row["sending_part"] == 1,
            timeout=60,
            interval=0.02,
            what="the digest to be sending its second part",
        )
        # The ledger says part 2 is about to go; kill only once its request has arrived.
        wait_until(lambda: bot.held, timeout=10, what="the second part to reach the bot")
        victim.kill(signal.SIGKILL)
        victim.wait(timeout=10)
        bot.release()  # the orphaned request goes through: the part did reach the chat
        wait_until(lambda: len(bot.sent_messages) == 2, timeout=10, what="the orphaned part")
        wait_until(
            lambda: (
                query(database_url, "SELECT 1 FROM leases WHERE expires_at <= now()")
                or not query(database_url, "SELECT 1 FROM leases")
            ),
            timeout=10,
            what="the killed digest's lease to expire",
        )
        careful = procs.cli("digest", "--at", AT, env=env)
        assert careful.returncode == 0, careful.describe()
        assert "outcome=in_doubt" in careful.stdout, careful.describe()
        assert len(bot.sent_messages) == 2
        forced = procs.cli("digest", "--at", AT, "--force", env=env)
        assert forced.returncode == 0, forced.describe()
        assert "outcome=sent" in forced.stdout, forced.describe()
        row = ledger(database_url)
        assert row is not None
        assert row["status"] == "sent"
        parts = row["parts"]
        # Only the part in doubt is repeated, and only because --force asked for it.
        assert [m.text for m in bot.sent_messages] == [parts[0], parts[1], *parts[1:]]


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[int]]:
    path = tmp_path_factory.mktemp("big-export") / "result.json"
    generate(EXPORT_POSTS, path, seed=11)
    return path, {post.message_id for post in ExportFile(path)}


def test_backfill_killed_mid_import_is_completed_exactly_once_by_the_rerun(
    database_url: str, big_export: tuple[Path, set[int]], procs: Processes, tmp_path: Path
) -> None:
    path, message_ids = big_export
    assert len(message_ids) == EXPORT_POSTS
    env = cli_env(database_url, tmp_path / "home")

    def stored() -> int:
        return int(query(database_url, "SELECT count(*) AS n FROM raw_messages")[0]["n"])

    victim = procs.spawn_cli("backfill", "--from-export", str(path), env=env)
    wait_until(lambda: stored() > 0, timeout=60, interval=0.01, what="the first batch")
    victim.kill(signal.SIGKILL)
    victim.wait(timeout=10)
    # A batch's statement the victim had already sent still runs to its commit: count once
    # its server process has noticed the dead client and gone.
    wait_until(
        lambda: (
            not query(
                database_url,
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            )
        ),
        timeout=30,
        interval=0.05,
        what="the killed import's connection to close",
    )
    at_kill = stored()
    assert 0 < at_kill < EXPORT_POSTS, f"the kill should land mid-import ({at_kill} stored)"

    rerun = procs.cli("backfill", "--from-export", str(path), env=env, timeout=300)
    assert rerun.returncode == 0, rerun.describe()
    assert f"unchanged={at_kill}" in rerun.stdout, rerun.stdout

    rows = query(
        database_url,
        "SELECT count(*) AS n, count(DISTINCT message_id) AS distinct_ids, "
        "array_agg(message_id) AS ids FROM raw_messages",
    )[0]
    assert rows["n"] == rows["distinct_ids"] == EXPORT_POSTS
    assert set(rows["ids"]) == message_ids
    queued = query(
        database_url,
        "SELECT count(*) AS n, count(DISTINCT raw_message_id) AS distinct_posts, "
        "(SELECT count(*) FROM raw_messages WHERE text <> '') AS with_text "
        "FROM extraction_jobs",
    )[0]
    assert queued["n"] == queued["distinct_posts"] == queued["with_text"]
    mark = query(database_url, "SELECT last_message_id FROM channels")[0]["last_message_id"]
    assert mark == max(message_ids)


UNREACHABLE_COMMANDS = [
    ("db", "migrate"),
    ("db", "status"),
    ("runs",),
    ("listen", "--duration", "5s"),
    ("backfill", "--from-export", str(SAMPLE_EXPORT)),
    ("enqueue",),
    ("extract", "--oneshot"),
    ("digest", "--dry-run", "--at", AT),
]


@pytest.mark.parametrize("args", UNREACHABLE_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_unreachable_database_is_one_line_naming_the_host_not_the_password(
    args: tuple[str, ...], procs: Processes, tmp_path: Path
) -> None:
    port = closed_port()
    env = cli_env(
        f"postgresql://cq:{PASSWORD}@127.0.0.1:{port}/civicquant",
        tmp_path / "home",
        TG_SOURCE_CHANNELS="@wirewatch_demo",
        DB_CONNECT_TIMEOUT_SECONDS="3",
    )
    result = procs.cli(*args, env=env, timeout=60)
    assert result.returncode == 1, result.describe()
    assert "Traceback" not in result.stderr
    [line] = result.error_lines
    assert line.startswith("civicquant: error: "), line
    assert f"127.0.0.1:{port}" in line, line
    assert PASSWORD not in result.output


@pytest.mark.parametrize("output_format", ["text", "json", "prometheus"])
def test_health_with_the_database_unreachable_exits_2_naming_the_host(
    output_format: str, procs: Processes, tmp_path: Path
) -> None:
    port = closed_port()
    env = cli_env(
        f"postgresql://cq:{PASSWORD}@127.0.0.1:{port}/civicquant",
        tmp_path / "home",
        DB_CONNECT_TIMEOUT_SECONDS="3",
    )
    result = procs.cli("health", "--format", output_format, env=env, timeout=60)
    assert result.returncode == 2, result.describe()
    assert "Traceback" not in result.stderr
    if output_format == "prometheus":  # metrics carry no free text
        assert "civicquant_health_status 2" in result.stdout
    else:
        assert f"127.0.0.1:{port}" in result.stdout, result.describe()
    assert PASSWORD not in result.output
