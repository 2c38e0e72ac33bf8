"""Routes as an operator meets them: `civicquant routes`, `digest --queue NAME`, the crontab.

Every command is the installed executable in a fresh process; the chats are the fake Bot
API's. The last test runs the digest lines of the crontab `civicquant cron` renders, the
way cron runs them (`/bin/sh -c`, only the crontab's environment), twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicquant.db import Database
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.rawlog import RawLog
from tests.acceptance.conftest import CIVICQUANT, run_cli
from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi

ENERGY_CHAT = "-1002000000001"
CRYPTO_CHAT = "-1002000000002"
POSTS = [
    "Brent crude jumps 4% to $79 after OPEC+ extends output cuts into 2027",
    "Federal Reserve holds interest rates steady at 5.25%, Powell signals patience on cuts",
    "Bitcoin falls 6% as exchange Northbridge halts withdrawals after a hot wallet breach",
]


def routes_file(path: Path, every: str) -> Path:
    path.write_text(
        f"""
[[route]]
name = "energy_desk"
kind = "digest"
every = "{every}"
chat_id = {ENERGY_CHAT}
title = "Energy desk"
topics = ["energy"]

[[route]]
name = "crypto_desk"
kind = "digest"
every = "{every}"
chat_id = "{CRYPTO_CHAT}"
title = "Crypto desk"
keywords = ["bitcoin"]
languages = ["en"]

[[route]]
name = "flash"
kind = "flash"
chat_id = {ENERGY_CHAT}
"""
    )
    return path


@dataclass
class Install:
    env_file: Path
    env: dict[str, str]
    bot: FakeBotApi


@pytest.fixture
def install(database_url: str, tmp_path: Path) -> Iterator[Install]:
    with FakeBotApi() as bot:
        env_file = tmp_path / "civicquant.env"
        env_file.write_text(
            f"DATABASE_URL={database_url}\nTG_BOT_TOKEN={bot_api.TOKEN}\n"
            f"TG_BOT_API_URL={bot.url}\nDIGEST_PART_INTERVAL_SECONDS=0\n"
            f"CIVICQUANT_ROUTES={routes_file(tmp_path / 'routes.toml', '1h')}\n"
        )
        env_file.chmod(0o600)
        yield Install(env_file, {"CIVICQUANT_ENV_FILE": str(env_file)}, bot)


def seed(database_url: str, posted_at: datetime, env: dict[str, str]) -> None:
    """The posts, stored as `listen` would, then extracted by `civicquant extract`."""
    with Database.connect(database_url) as db:
        rawlog = RawLog(db, pipeline_version="v1")
        rawlog.save_channel(Channel(1001, "wirewatch"))
        rawlog.store(
            1001,
            [
                RawPost(1001, i + 1, posted_at + timedelta(minutes=i), text=text)
                for i, text in enumerate(POSTS)
            ],
            "live",
        )
    done = run_cli("extract", "--oneshot", "--no-side-effects", env=env)
    assert done.returncode == 0, done.stderr


def by_chat(bot: FakeBotApi) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in bot.sent_messages:
        found.setdefault(message.chat_id, []).append(message.text)
    return found


def assert_each_desk_got_its_own_story_once(bot: FakeBotApi) -> None:
    chats = by_chat(bot)
    assert sorted(chats) == [ENERGY_CHAT, CRYPTO_CHAT]
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


def test_routes_prints_the_built_in_routes_without_a_file(tmp_path: Path) -> None:
    result = run_cli("routes", env={"TG_VIP_CHAT_ID": "-100777", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "built-in routes (CIVICQUANT_ROUTES is not set)"
    assert [line.split()[:3] for line in lines[2:]] == [
        ["vip", "digest", "4h"],
        ["breaking_15m", "breaking", "15m"],
        ["breaking_1h", "breaking", "1h"],
        ["breaking_4h", "breaking", "4h"],
        ["flash", "flash", "with"],
    ]
    assert all("-100777" in line for line in lines[2:])


def test_routes_prints_the_files_routes(install: Install, tmp_path: Path) -> None:
    result = run_cli("routes", env=install.env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"routes from {tmp_path / 'routes.toml'}"
    assert lines[1].split() == ["NAME", "KIND", "EVERY", "CRON", "CHAT", "TITLE", "FILTERS"]
    energy, crypto, flash = (line.split() for line in lines[2:])
    assert energy == [
        "energy_desk", "digest", "1h", "0", "*", "*", "*", "*", ENERGY_CHAT, "Energy", "desk",
        "topics=energy", "min_importance=0.05",
    ]  # fmt: skip
    assert crypto[-3:] == ["languages=en", "keywords=bitcoin", "min_importance=0.05"]
    assert flash[:4] == ["flash", "flash", "with", "extract"]
    assert "min_importance=0.85" in flash


def test_a_bad_routes_file_is_one_line_naming_route_and_field(install: Install) -> None:
    routes = Path(install.env_file.read_text().split("CIVICQUANT_ROUTES=")[1].strip())
    routes.write_text(routes.read_text().replace('topics = ["energy"]', "min_importance = 2"))
    for command in (["routes"], ["digest", "--queue", "energy_desk"], ["cron"]):
        result = run_cli(*command, env=install.env)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr == (
            f"civicquant: error: routes file {routes}: route 'energy_desk': min_importance:"
            " must be a number from 0 to 1\n"
        ), command
        assert "Traceback" not in result.stderr


def test_digest_queue_names_a_route_and_an_unknown_one_is_refused(
    install: Install, database_url: str
) -> None:
    seed(database_url, datetime(2026, 11, 20, 9, 5, tzinfo=UTC), install.env)
    at = "2026-11-20T09:30:00Z"
    for _ in range(2):
        for route in ("energy_desk", "crypto_desk"):
            result = run_cli("digest", "--queue", route, "--at", at, env=install.env)
            assert result.returncode == 0, result.stderr
    assert_each_desk_got_its_own_story_once(install.bot)

    unknown = run_cli("digest", "--queue", "vip", "--at", at, env=install.env)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "civicquant: error: no route named 'vip' (known: energy_desk, crypto_desk, flash)\n"
    )
    flash = run_cli("digest", "--queue", "flash", "--at", at, env=install.env)
    assert flash.returncode == 2
    assert flash.stderr == (
        "civicquant: error: --at takes a digest or breaking route; 'flash' is a flash route\n"
    )
    event = run_cli("digest", "--queue", "energy_desk", "--event", "7", env=install.env)
    assert event.returncode == 2
    assert "--event takes a flash route; 'energy_desk' is a digest route" in event.stderr


def crontab_parts(rendered: str) -> tuple[dict[str, str], list[str]]:
    """The crontab's VAR=value settings, and the commands of its `digest` lines."""
    settings: dict[str, str] = {}
    commands = []
    for line in rendered.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        first = line.split()[0]
        if "=" in first and first[0] not in "*0123456789@":
            name, value = line.split("=", 1)
            settings[name] = value
        elif " digest --queue " in line:
            commands.append(line.split(None, 5)[5])
    return settings, commands


def test_the_crontabs_route_lines_publish_each_route_to_its_chat_once(
    install: Install, database_url: str, tmp_path: Path
) -> None:
    # Daily routes: the window a run publishes is yesterday (UTC), whatever the time now.
    routes_file(tmp_path / "routes.toml", "1d")
    now = datetime.now(UTC)
    if now + timedelta(minutes=2) > now.replace(hour=0, minute=0, second=0) + timedelta(days=1):
        time.sleep(150)  # not across midnight
        now = datetime.now(UTC)
    yesterday_noon = now.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    seed(database_url, yesterday_noon, install.env)

    log_dir = tmp_path / "logs"
    rendered = run_cli(
        "--env-file", str(install.env_file), "cron", "--log-dir", str(log_dir), env={}
    )
    assert rendered.returncode == 0, rendered.stderr
    settings, commands = crontab_parts(rendered.stdout)
    assert commands == [
        f"{CIVICQUANT} digest --queue energy_desk > /dev/null 2>> {log_dir}/digest.log",
        f"{CIVICQUANT} digest --queue crypto_desk > /dev/null 2>> {log_dir}/digest.log",
        f"{CIVICQUANT} digest --queue flash > /dev/null 2>> {log_dir}/digest.log",
    ]
    assert "0 0 * * *     " + commands[0] in rendered.stdout
    assert "* * * * *     " + commands[2] in rendered.stdout  # the flash outbox's drain

    # As cron runs a line: /bin/sh -c, the crontab's variables and HOME, nothing else.
    cron_env = {**settings, "HOME": os.environ.get("HOME", "/root")}
    for _ in range(2):
        for command in commands:
            ran = subprocess.run(
                ["/bin/sh", "-c", command], env=cron_env, timeout=120, capture_output=True
            )
            assert ran.returncode == 0, (log_dir / "digest.log").read_text()[-2000:]
    assert_each_desk_got_its_own_story_once(install.bot)
    logged = [
        json.loads(line)
        for line in (log_dir / "digest.log").read_text().splitlines()
        if line.startswith("{")
    ]
    finished = [e for e in logged if e.get("event") == "job_finished"]
    assert sorted(e["job"] for e in finished) == sorted(
        ["digest:energy_desk", "digest:crypto_desk", "digest:flash"] * 2
    )
