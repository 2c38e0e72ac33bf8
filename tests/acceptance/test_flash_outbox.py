"""Flash alerts through the outbox, with real processes: the installed `civicquant extract`
and `civicquant digest --queue flash` (cron's drain) against a fake Bot API over HTTP.

Extraction never waits for the Bot API; an alert extract could not send is sent by the
next drain; concurrent drainers send each alert once; a drainer killed mid-send leaves the
alert in doubt (health names it, only --force resends it); an alert committed with its
extraction survives a crash before any drain; a drainer whose lease was taken over sends
nothing more.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from civicquant.runtime import leases
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.reliability.support import Finished, Processes, cli_env, query, wait_until

VIP = "-1001000000001"
RAS_TANURA = "🚨 BREAKING: Explosion reported at Ras Tanura oil terminal in Saudi Arabia; Brent jumps 6% to $84"
QUAKE = "🚨 BREAKING: Magnitude 7.4 earthquake strikes off northern Japan; tsunami warning issued for Hokkaido coast"
FED = "🚨 BREAKING: Federal Reserve announces emergency 50bp rate cut in unscheduled meeting"
BREAKING = [FED, RAS_TANURA, QUAKE]  # most important first: the order a drain sends them


def calm(count: int) -> list[str]:
    """Posts that are no breaking news, enough to take several extract batches."""
    return [
        f"Euro area services PMI edges up to 49.9 in November from 49.8, survey {i} says"
        for i in range(count)
    ]


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path / "proc-output")
    try:
        yield processes
    finally:
        processes.cleanup()


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


def store(database_url: str, texts: list[str]) -> None:
    """The posts in the raw log, queued for extraction in this order."""
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        now = datetime.now(UTC)
        rawlog.store(1001, [RawPost(1001, i + 1, now, text=t) for i, t in enumerate(texts)], "live")


def environment(database_url: str, home: Path, bot: FakeBotApi, **extra: str) -> dict[str, str]:
    return cli_env(
        database_url,
        home,
        TG_BOT_TOKEN=bot_api.TOKEN,
        TG_BOT_API_URL=bot.url,
        TG_VIP_CHAT_ID=VIP,
        FLASH_MIN_IMPORTANCE="0.4",
        EXTRACTION_PIPELINE_VERSION="v1",
        **extra,
    )


def queue_without_sending(procs: Processes, env: dict[str, str]) -> None:
    """Extract with no bot token: the alerts are queued in the outbox, and nothing sends."""
    quiet = {key: value for key, value in env.items() if key != "TG_BOT_TOKEN"}
    extracted = procs.cli("extract", "--oneshot", env=quiet)
    assert extracted.returncode == 0, extracted.describe()
    assert "alerts_queued=" in extracted.stdout, extracted.describe()


def ledger(database_url: str) -> list[dict[str, Any]]:
    return query(
        database_url,
        "SELECT event_id, status, sending_part, error, cardinality(message_ids) AS sent "
        "FROM published_posts WHERE queue = 'flash' ORDER BY id",
    )


def jobs_left(database_url: str) -> int:
    rows = query(database_url, "SELECT count(*) AS n FROM extraction_jobs WHERE status <> 'ok'")
    return int(rows[0]["n"])


def lease_free(database_url: str) -> bool:
    held = query(
        database_url,
        "SELECT 1 FROM leases WHERE name = 'digest:flash' AND expires_at > now()",
    )
    return not held


def drain(procs: Processes, env: dict[str, str], *args: str) -> Finished:
    return procs.cli("digest", "--queue", "flash", *args, env=env)


def texts_sent(bot: FakeBotApi) -> list[str]:
    return [message.text for message in bot.sent_messages]


def test_a_slow_bot_api_never_holds_up_extraction(
    database_url: str, procs: Processes, tmp_path: Path, bot: FakeBotApi
) -> None:
    # More posts than one batch takes (100 claimed at a time), the breaking one first.
    store(database_url, [RAS_TANURA, *calm(180)])
    env = environment(database_url, tmp_path / "home", bot)
    bot.hold_after(0)  # every alert reaches the Bot API and waits there for an answer
    worker = procs.spawn_cli("extract", "--max-runtime", "4s", env=env)
    wait_until(lambda: bot.held, timeout=30, what="the first alert to reach the Bot API")
    wait_until(lambda: jobs_left(database_url) == 0, timeout=30, what="every job done")
    # Every job was done while the alert's send was still in flight: not answered, not
    # given up on (a send that timed out would have left the alert in doubt).
    assert bot.held == 1
    assert bot.sent_messages == []
    [row] = ledger(database_url)
    assert (row["status"], row["sending_part"], row["error"]) == ("reserved", 0, None)
    bot.release()
    finished = worker.wait(timeout=60)
    assert finished.returncode == 0, finished.describe()
    assert "alerts_sent=1" in finished.stdout, finished.describe()
    [alert] = bot.sent_messages
    assert "Ras Tanura" in alert.text
    assert [row["status"] for row in ledger(database_url)] == ["sent"]


def test_an_alert_extract_could_not_send_is_sent_by_the_next_cron_drain_once(
    database_url: str, procs: Processes, tmp_path: Path, bot: FakeBotApi
) -> None:
    store(database_url, [RAS_TANURA])
    env = environment(database_url, tmp_path / "home", bot, FLOODWAIT_MAX_SECONDS="1")
    # The Bot API turns the post away while extract runs (extract's drainer tries once): a
    # flood wait far longer than FLOODWAIT_MAX_SECONDS, so nothing is sent; `failed`.
    bot.fail_next(bot_api.flood(retry_after=600))
    extracted = procs.cli("extract", "--max-runtime", "3s", env=env)
    assert extracted.returncode == 0, extracted.describe()
    assert "alerts_failed=1" in extracted.stdout, extracted.describe()
    assert bot.sent_messages == []
    assert [row["status"] for row in ledger(database_url)] == ["failed"]

    drained = drain(procs, env)
    assert drained.returncode == 0, drained.describe()
    assert "alerts_sent=1" in drained.stdout, drained.describe()
    again = drain(procs, env)
    assert again.returncode == 0, again.describe()
    [alert] = bot.sent_messages
    assert "Ras Tanura" in alert.text
    runs = query(
        database_url,
        "SELECT status FROM job_runs WHERE job_name = 'digest:flash' ORDER BY started_at",
    )
    assert [run["status"] for run in runs] == ["success", "success"]


def test_extracts_drainer_and_cron_drains_at_once_send_each_alert_once(
    database_url: str, procs: Processes, tmp_path: Path, bot: FakeBotApi
) -> None:
    store(database_url, BREAKING)
    env = environment(database_url, tmp_path / "home", bot)
    bot.slow_sends(0.5)  # each send takes a while: the drainers overlap
    worker = procs.spawn_cli("extract", "--max-runtime", "5s", env=env)
    wait_until(lambda: bot.held, timeout=30, what="extract's drainer to be sending")
    cron_drains = [procs.spawn_cli("digest", "--queue", "flash", env=env) for _ in range(3)]
    for running in [worker, *cron_drains]:
        finished = running.wait(timeout=60)
        assert finished.returncode == 0, finished.describe()
    drained = drain(procs, env)  # whatever is left, and nothing twice
    assert drained.returncode == 0, drained.describe()
    sent = texts_sent(bot)
    assert len(sent) == len(BREAKING) == len(set(sent))
    for story, text in zip(["Federal Reserve", "Ras Tanura", "earthquake"], sent, strict=True):
        assert story in text
    assert {row["status"] for row in ledger(database_url)} == {"sent"}
    assert len(ledger(database_url)) == len(BREAKING)


def test_a_drainer_killed_mid_send_leaves_the_alert_in_doubt_until_forced(
    database_url: str, procs: Processes, tmp_path: Path, bot: FakeBotApi
) -> None:
    store(database_url, [RAS_TANURA])
    env = environment(database_url, tmp_path / "home", bot, LEASE_TTL_SECONDS="2")
    queue_without_sending(procs, env)
    bot.hold_after(0)
    victim = procs.spawn_cli("digest", "--queue", "flash", env=env)
    wait_until(lambda: bot.held, timeout=30, what="the alert to reach the Bot API")
    victim.kill(signal.SIGKILL)
    victim.wait(timeout=10)
    bot.release()  # the orphaned request goes through: the alert did reach the chat
    wait_until(lambda: bot.sent_messages, timeout=10, what="the orphaned alert")
    wait_until(lambda: lease_free(database_url), timeout=10, what="the dead drainer's lease")

    careful = drain(procs, env)
    assert careful.returncode == 0, careful.describe()
    assert len(bot.sent_messages) == 1
    [row] = ledger(database_url)
    assert (row["status"], row["sending_part"], row["sent"]) == ("reserved", 0, 0)

    env["HEALTH_RESERVED_MINUTES"] = "1"
    query(database_url, "UPDATE published_posts SET reserved_at = now() - interval '2 minutes'")
    report = procs.cli("health", env=env)
    event = row["event_id"]
    resend = f"civicquant digest --queue flash --event {event} --chat {VIP} --force"
    assert "1 in doubt" in report.stdout, report.describe()
    assert resend in report.stdout, report.describe()

    forced = drain(procs, env, "--event", str(event), "--chat", VIP, "--force")
    assert forced.returncode == 0, forced.describe()
    assert len(bot.sent_messages) == 2  # resent because --force asked, and only then
    assert [row["status"] for row in ledger(database_url)] == ["sent"]


def test_an_alert_committed_with_its_extraction_is_sent_after_a_crash_before_any_drain(
    database_url: str, procs: Processes, tmp_path: Path, bot: FakeBotApi
) -> None:
    store(database_url, [RAS_TANURA])
    env = environment(database_url, tmp_path / "home", bot)
    # Another drainer holds the route's lease, so extract's drainer cannot start sending.
    with Database.connect(database_url) as db:
        assert leases.acquire(db, "digest:flash", "elsewhere:1:busy", 600) is not None
    worker = procs.spawn_cli("extract", "--max-runtime", "60s", env=env)
    wait_until(lambda: jobs_left(database_url) == 0, timeout=30, what="the post extracted")
    assert query(database_url, "SELECT event_id FROM flash_outbox")
    worker.kill(signal.SIGKILL)
    worker.wait(timeout=10)
    assert bot.requests == []
    query(database_url, "DELETE FROM leases WHERE name = 'digest:flash'")

    drained = drain(procs, env)
    assert drained.returncode == 0, drained.describe()
    [alert] = bot.sent_messages
    assert "Ras Tanura" in alert.text


def test_a_drainer_whose_lease_was_taken_over_sends_no_further_alert(
    database_url: str, procs: Processes, tmp_path: Path, bot: FakeBotApi
) -> None:
    store(database_url, [FED, RAS_TANURA])
    # A long TTL: the heartbeat would notice the take-over only after 20 s; the fence, at
    # the next ledger write.
    env = environment(database_url, tmp_path / "home", bot, LEASE_TTL_SECONDS="60")
    queue_without_sending(procs, env)
    bot.hold_after(0)
    drainer = procs.spawn_cli("digest", "--queue", "flash", env=env)
    wait_until(lambda: bot.held, timeout=30, what="the first alert to reach the Bot API")
    # The lease expires as the database sees it (a drainer cut off), and another takes it.
    query(database_url, "UPDATE leases SET expires_at = now() WHERE name = 'digest:flash'")
    with Database.connect(database_url) as db:
        assert leases.acquire(db, "digest:flash", "standby:1:took-over", 600) is not None
    bot.release()
    finished = drainer.wait(timeout=60)
    assert finished.returncode == 1, finished.describe()
    assert "no longer held by this run" in finished.stderr, finished.describe()
    [alert] = bot.sent_messages  # the send in flight went out; the next was never made
    assert "Federal Reserve" in alert.text
    assert [row["status"] for row in ledger(database_url)] == ["sent"]
