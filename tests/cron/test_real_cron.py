"""The crontab `civicquant cron` renders, run by a real cron daemon.

What this proves, end to end, that no other suite does:

- `crontab -` accepts the rendered crontab as it stands (what the README's
  `civicquant cron | crontab -` does), and `crontab -l` gives it back unchanged;
- under cron's own environment (no login shell, no virtualenv activated, only what the
  crontab sets: SHELL, PATH, CIVICQUANT_ENV_FILE, LOG_FORMAT) the rendered command lines
  work: the absolute executable starts, it finds the database through the env file named
  by CIVICQUANT_ENV_FILE (DATABASE_URL is in that file only, never in cron's environment),
  a job writes its `job_runs` row, its JSON log lines land in the rendered log directory,
  and `health` writes the Prometheus textfile at the rendered path;
- the row was written by a process the cron daemon started: its pid, while it runs, has the
  daemon among its ancestors and not pytest, and this test never runs that job itself.

The same holds for routes: with a CIVICQUANT_ROUTES file of two one-minute digest routes
(two chats, different filters) in the env file, the rendered crontab has a line for each,
cron runs them with `extract`, and each chat of a fake Bot API server gets its own
route's events, once, while the windows after it post nothing.

Why only the one-minute jobs are installed: the rendered schedule also holds `*/5`,
`*/15`, hourly, `0 */4` and daily jobs, and waiting for those would take hours. The
one-minute lines (`health` and `extract`, both `* * * * *`) are taken from the rendered
file verbatim, with everything around them (SHELL, PATH, CIVICQUANT_ENV_FILE, LOG_FORMAT),
so cron runs exactly the lines an installation runs. Only extract's `--max-runtime 55s`
is cut to 20s so the test does not wait out a full minute; the schedule lines for the other
jobs differ from these only in their timing fields, which `crontab -` has already accepted.

It installs Debian's cron package when no daemon is on the machine, needs root (it
replaces root's crontab for about a minute and puts the old one back), and takes 1-2
minutes: the first cron tick after install, plus the extract run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.cron.conftest import (
    DAEMON_NAMES,
    RootCrontab,
    ancestors,
    pids_with_env,
    process_environ,
    process_name,
    wait_for_exit,
)
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi

CIVICQUANT = Path(sys.executable).parent / "civicquant"
EVERY_MINUTE = "* * * * *"
RENDERED_EXTRACT_RUNTIME = "--max-runtime 55s"
TEST_EXTRACT_RUNTIME = "--max-runtime 20s"
DEADLINE_SECONDS = 150
POLL_SECONDS = 2


@dataclass
class CronInstall:
    """The paths one rendering of the crontab points at, and the rendered text."""

    env_file: Path
    log_dir: Path
    textfile: Path
    rendered: str


@pytest.fixture
def cron_install(database_url: str, tmp_path: Path) -> Iterator[CronInstall]:
    """`civicquant cron` rendered for a temp env file, log dir and textfile.

    At teardown, waits for (and at worst stops, by pid) any job our crontab started: the
    test database is dropped right after, and a job must not outlive the test.
    """
    env_file = tmp_path / "civicquant.env"
    env_file.write_text(f"DATABASE_URL={database_url}\nLOG_FORMAT=json\n")
    try:
        yield render_install(env_file, tmp_path)
    finally:
        _stop_jobs_started_for(env_file)


def render_install(env_file: Path, tmp_path: Path) -> CronInstall:
    """`civicquant --env-file ENV cron`, rendered as an administrator would."""
    env_file.chmod(0o600)
    log_dir = tmp_path / "logs"
    textfile = tmp_path / "textfile" / "civicquant.prom"
    textfile.parent.mkdir()
    rendered = subprocess.run(
        [
            str(CIVICQUANT),
            "--env-file",
            str(env_file),
            "cron",
            "--log-dir",
            str(log_dir),
            "--textfile",
            str(textfile),
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr
    return CronInstall(env_file, log_dir, textfile, rendered.stdout)


def _stop_jobs_started_for(env_file: Path) -> None:
    """Let jobs started from our crontab finish; SIGTERM (then SIGKILL) any that do not."""
    left = wait_for_exit(pids_with_env("CIVICQUANT_ENV_FILE", str(env_file)), timeout=40)
    for pid in left:
        os.kill(pid, signal.SIGTERM)
    for pid in wait_for_exit(left, timeout=10):
        os.kill(pid, signal.SIGKILL)


def job_lines(crontab: str) -> list[str]:
    """The schedule entries: lines that are neither blank, comments nor VAR=value settings."""
    entries = []
    for line in crontab.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        first = stripped.split()[0]
        if "=" in first and not first[0].isdigit() and first[0] not in "*@":
            continue
        entries.append(stripped)
    return entries


def one_minute_crontab(rendered: str) -> str:
    """The rendered crontab with only its `* * * * *` entries, extract cut to 20 seconds."""
    entries = set(job_lines(rendered))
    kept = []
    for line in rendered.splitlines():
        if line.strip() in entries and not line.startswith(EVERY_MINUTE):
            continue
        if line.startswith(EVERY_MINUTE) and " extract " in line:
            assert RENDERED_EXTRACT_RUNTIME in line, f"extract's runtime changed: {line}"
            line = line.replace(RENDERED_EXTRACT_RUNTIME, TEST_EXTRACT_RUNTIME)
        kept.append(line)
    return "\n".join(kept) + "\n"


def without_crontab_header(listing: str) -> str:
    """`crontab -l` minus the "DO NOT EDIT" header some crontab versions prepend."""
    lines = listing.splitlines(keepends=True)
    if lines and lines[0].startswith("# DO NOT EDIT"):
        lines = lines[3:]
    return "".join(lines)


def clear_of_a_cron_tick() -> None:
    """Return at least 2 s away from a minute boundary, when cron rereads crontabs."""
    second = time.time() % 60
    if second > 57:
        time.sleep(62 - second)
    elif second < 2:
        time.sleep(2 - second)


def extract_runs(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT run_id, host, pid, status, error FROM job_runs"
            " WHERE job_name = 'extract' ORDER BY started_at"
        ).fetchall()


def test_crontab_accepts_the_rendered_crontab_as_it_stands(
    cron_install: CronInstall, root_crontab: RootCrontab
) -> None:
    entries = job_lines(cron_install.rendered)
    assert entries, cron_install.rendered
    for entry in entries:
        assert "{" not in entry, f"placeholder left: {entry}"
        assert "}" not in entry, f"placeholder left: {entry}"
        assert f" {CIVICQUANT} " in entry, f"not the installed executable: {entry}"
    assert f"CIVICQUANT_ENV_FILE={cron_install.env_file}\n" in cron_install.rendered
    assert all(str(cron_install.log_dir) in entry for entry in entries)

    # The full schedule is live for milliseconds, away from a tick, so cron never runs it.
    clear_of_a_cron_tick()
    accepted = root_crontab.install_from_stdin(cron_install.rendered)
    listed = root_crontab.listing()
    root_crontab.restore()

    assert accepted.returncode == 0, f"crontab - refused it: {accepted.stderr}"
    assert listed is not None
    assert without_crontab_header(listed) == cron_install.rendered


def test_cron_runs_the_one_minute_jobs_with_the_env_file_and_paths_it_was_rendered_for(
    cron_install: CronInstall,
    root_crontab: RootCrontab,
    cron_daemon: int,
    database_url: str,
    tmp_path: Path,
) -> None:
    ours = one_minute_crontab(cron_install.rendered)
    # The built-in flash route's outbox drain (`digest --queue flash`) runs every minute too.
    assert {entry.split()[6] for entry in job_lines(ours)} == {"extract", "digest", "health"}, ours
    crontab_file = tmp_path / "one-minute.crontab"
    crontab_file.write_text(ours)
    root_crontab.install_file(crontab_file)

    started_by_cron: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        rows = extract_runs(database_url)
        for row in rows:
            if started_by_cron is None and row["host"] == socket.gethostname():
                environ = process_environ(row["pid"])
                if environ.get("CIVICQUANT_ENV_FILE") == str(cron_install.env_file):
                    chain = ancestors(row["pid"])
                    started_by_cron = {
                        "run_id": row["run_id"],
                        "chain": [(pid, process_name(pid)) for pid in chain],
                        "environ": environ,
                        "crontab": root_crontab.listing(),
                    }
        if started_by_cron is not None:
            run = next(r for r in rows if r["run_id"] == started_by_cron["run_id"])
            run = None if run["status"] == "running" else run
        if run is not None and started_by_cron is not None and cron_install.textfile.exists():
            break
        time.sleep(POLL_SECONDS)

    root_crontab.restore()
    assert root_crontab.listing() == root_crontab.saved

    assert started_by_cron is not None, (
        f"no extract run from a process cron started within {DEADLINE_SECONDS} s;"
        f" runs: {extract_runs(database_url)}; logs: {_logs(cron_install.log_dir)}"
    )
    chain = [pid for pid, _name in started_by_cron["chain"]]
    assert cron_daemon in chain, started_by_cron["chain"]
    assert any(name in DAEMON_NAMES for _pid, name in started_by_cron["chain"])
    assert os.getpid() not in chain, started_by_cron["chain"]
    assert started_by_cron["crontab"] is not None
    assert without_crontab_header(started_by_cron["crontab"]) == ours
    environ = started_by_cron["environ"]
    assert "DATABASE_URL" not in environ, "the database must come from the env file"
    assert environ.get("LOG_FORMAT") == "json"

    assert run is not None, f"the extract run never finished: {extract_runs(database_url)}"
    assert run["status"] == "success", run
    # The crontab sends stdout (a one-line summary) and stderr (JSON log lines) to one file.
    events = [
        json.loads(line)
        for line in (cron_install.log_dir / "extract.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(str(event.get("run_id")) == str(run["run_id"]) for event in events), events

    assert cron_install.textfile.exists(), (
        f"health wrote no textfile within {DEADLINE_SECONDS} s; logs: {_logs(cron_install.log_dir)}"
    )
    assert "civicquant_health_status" in cron_install.textfile.read_text()


def _logs(log_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text()[-2000:] for p in sorted(log_dir.glob("*.log"))}


ENERGY_CHAT = "-1002000000001"
CRYPTO_CHAT = "-1002000000002"
# Two one-minute digest routes: each `* * * * *` line publishes the minute that just ended.
ROUTES = f"""
[[route]]
name = "energy_desk"
kind = "digest"
every = "1m"
chat_id = {ENERGY_CHAT}
title = "Energy desk"
topics = ["energy"]

[[route]]
name = "crypto_desk"
kind = "digest"
every = "1m"
chat_id = "{CRYPTO_CHAT}"
title = "Crypto desk"
keywords = ["bitcoin"]
"""
POSTS = [
    "Brent crude jumps 4% to $79 after OPEC+ extends output cuts into 2027",
    "Bitcoin falls 6% as exchange Northbridge halts withdrawals after a hot wallet breach",
    "Federal Reserve holds interest rates steady at 5.25%, Powell signals patience on cuts",
]
ROUTE_JOBS = ("digest:energy_desk", "digest:crypto_desk")


@pytest.fixture
def routed_install(database_url: str, tmp_path: Path) -> Iterator[tuple[CronInstall, FakeBotApi]]:
    """An install whose env file names a routes file and the fake Bot API, rendered."""
    with FakeBotApi() as bot:
        routes = tmp_path / "routes.toml"
        routes.write_text(ROUTES)
        env_file = tmp_path / "civicquant.env"
        env_file.write_text(
            f"DATABASE_URL={database_url}\nLOG_FORMAT=json\nCIVICQUANT_ROUTES={routes}\n"
            f"TG_BOT_TOKEN={bot_api.TOKEN}\nTG_BOT_API_URL={bot.url}\n"
            "DIGEST_PART_INTERVAL_SECONDS=0\n"
        )
        try:
            yield render_install(env_file, tmp_path), bot
        finally:
            _stop_jobs_started_for(env_file)


def route_runs(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT job_name, host, status, started_at, error FROM job_runs"
            " WHERE job_name = ANY(%s) ORDER BY started_at",
            (list(ROUTE_JOBS),),
        ).fetchall()


def publications(database_url: str) -> list[tuple[str, str, datetime, str]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT queue, chat_id, window_start, status FROM published_posts ORDER BY id"
        ).fetchall()
    return [(r["queue"], r["chat_id"], r["window_start"], r["status"]) for r in rows]


def test_cron_publishes_two_routes_to_their_own_chats_once_each(
    routed_install: tuple[CronInstall, FakeBotApi],
    root_crontab: RootCrontab,
    cron_daemon: int,
    database_url: str,
    tmp_path: Path,
) -> None:
    install, bot = routed_install
    ours = one_minute_crontab(install.rendered)
    assert {" ".join(entry.split()[6:9]) for entry in job_lines(ours)} >= {
        "digest --queue energy_desk",
        "digest --queue crypto_desk",
    }, ours

    # The posts are stamped inside the next whole minute (the one after, close to a tick):
    # extract's run at its start reads them, the digest runs at its end publish it, and
    # the run a minute later finds its window empty.
    now = datetime.now(UTC)
    window = now.replace(second=0, microsecond=0) + timedelta(minutes=1 if now.second < 40 else 2)
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        rawlog.store(
            1001,
            [
                RawPost(1001, i + 1, window + timedelta(seconds=5 + i), text=t)
                for i, t in enumerate(POSTS)
            ],
            "live",
        )
    crontab_file = tmp_path / "routes.crontab"
    crontab_file.write_text(ours)
    clear_of_a_cron_tick()
    root_crontab.install_file(crontab_file)

    # Wait for the runs of both routes after the window's end and one more (an empty window).
    after = window + timedelta(minutes=1)
    deadline = time.monotonic() + (after - datetime.now(UTC)).total_seconds() + 150
    finished: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        finished = [
            run
            for run in route_runs(database_url)
            if run["started_at"] >= after and run["status"] != "running"
        ]
        if all(sum(r["job_name"] == job for r in finished) >= 2 for job in ROUTE_JOBS):
            break
        time.sleep(POLL_SECONDS)
    root_crontab.restore()

    assert all(sum(r["job_name"] == job for r in finished) >= 2 for job in ROUTE_JOBS), (
        f"route runs: {route_runs(database_url)}; logs: {_logs(install.log_dir)}"
    )
    assert {run["status"] for run in finished} == {"success"}, finished
    assert {run["host"] for run in finished} == {socket.gethostname()}

    chats: dict[str, list[str]] = {}
    for message in bot.sent_messages:
        chats.setdefault(message.chat_id, []).append(message.text)
    assert sorted(chats) == [ENERGY_CHAT, CRYPTO_CHAT], bot.sent_messages
    [energy] = chats[ENERGY_CHAT]
    [crypto] = chats[CRYPTO_CHAT]
    assert "Energy desk" in energy
    assert "Brent crude" in energy
    assert "Bitcoin" not in energy
    assert "Federal Reserve" not in energy
    assert "Crypto desk" in crypto
    assert "Bitcoin" in crypto
    assert "Brent" not in crypto
    assert "Federal Reserve" not in crypto
    assert publications(database_url) == [
        ("energy_desk", ENERGY_CHAT, window, "sent"),
        ("crypto_desk", CRYPTO_CHAT, window, "sent"),
    ] or publications(database_url) == [
        ("crypto_desk", CRYPTO_CHAT, window, "sent"),
        ("energy_desk", ENERGY_CHAT, window, "sent"),
    ]
