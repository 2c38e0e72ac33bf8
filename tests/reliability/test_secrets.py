"""Secrets never reach what civicquant prints or stores, whatever the command and outcome.

Every command runs as a real process with known secret values in its environment and
LOG_LEVEL=DEBUG (so third-party loggers, httpx's request lines among them, speak too).
Each secret is really used (the fakes check they received it), so finding it nowhere
means it was kept out, not that it was never touched. Then everything printed on stdout
and stderr, the health textfile, and every row of every table are searched for each
secret, raw and percent-encoded.

TG_API_ID is set (12345) but not searched for: it is a public application id, not a
secret (`Settings.secret_values` leaves it out), and five digits occur in any log.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.fakes import bot_api
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.chat_server import ChatServer, error
from tests.reliability.support import (
    SAMPLE_EXPORT,
    Finished,
    Processes,
    cli_env,
    dump_rows,
    query,
)

AT = "2026-11-20T10:00:00Z"
VIP_CHAT = "-1001234567890"
KICKED_CHAT = "-1009999999999"

API_HASH = "c0ffee15dead4bee5ca1ab1ef00dfa11"
JUNK_SESSION = "1JunkSessionString-7aQ9zLmN3pRt5vWxQ"
LLM_KEY = "sk-test-Zq8X2mWv4Kp7Rt1Ny6Bc3Hd9Lf5Gj0"
DB_PASSWORD = "Pw-4sEcReT-9wX7qZk2"


@dataclass(frozen=True)
class SecretDatabase:
    """A database owned by a role with a password; `url` carries the password.

    A server that trusts local connections (the embedded one) accepts the password and
    ignores it; what matters here is that civicquant holds it.
    """

    url: str
    direct_url: str  # the same database as the test server's own superuser, for checks


@pytest.fixture
def secret_database(pg_server: str) -> Iterator[SecretDatabase]:
    """An empty database owned by a new role whose password is DB_PASSWORD."""
    suffix = secrets.token_hex(6)
    role, dbname = f"cq_secret_{suffix}", f"cq_secret_{suffix}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(DB_PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dbname), sql.Identifier(role)
            )
        )
    server = conninfo_to_dict(pg_server)
    host = str(server.get("host") or "localhost")
    port = str(server.get("port") or "5432")
    if host.startswith("/"):
        url = f"postgresql://{role}:{DB_PASSWORD}@/{dbname}?host={quote(host)}&port={port}"
    else:
        url = f"postgresql://{role}:{DB_PASSWORD}@{host}:{port}/{dbname}"
    direct = psycopg.conninfo.make_conninfo(pg_server, dbname=dbname)
    try:
        yield SecretDatabase(url, direct)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def session_string_for(port: int) -> str:
    """A well-formed Telethon StringSession (a made-up key) for a DC at 127.0.0.1:`port`."""
    packed = struct.pack(">B4sH256s", 2, socket.inet_aton("127.0.0.1"), port, os.urandom(256))
    return "1" + base64.urlsafe_b64encode(packed).decode("ascii")


def forms(value: str) -> set[str]:
    """A secret as it could be written: raw, percent-encoded, form-encoded."""
    return {value, quote(value, safe=""), quote_plus(value, safe="")}


def leaks(haystack: str, named: dict[str, str]) -> list[str]:
    found = []
    for name, value in named.items():
        for form in forms(value):
            start = haystack.find(form)
            if start >= 0:
                context = haystack[max(0, start - 120) : start + len(form) + 40]
                found.append(f"{name} found: ...{context}...")
    return found


def test_no_secret_is_printed_or_stored_by_any_command(
    secret_database: SecretDatabase, procs: Processes, tmp_path: Path
) -> None:
    reachable_session = session_string_for(closed_port())
    named = {
        "TG_BOT_TOKEN": bot_api.TOKEN,
        "TG_API_HASH": API_HASH,
        "TG_SESSION_STRING (junk)": JUNK_SESSION,
        "TG_SESSION_STRING (well-formed)": reachable_session,
        "LLM_API_KEY": LLM_KEY,
        "DATABASE_URL password": DB_PASSWORD,
    }
    textfile = tmp_path / "civicquant.prom"
    results: list[Finished] = []
    with FakeBotApi() as bot, ChatServer() as llm:
        env = cli_env(
            secret_database.url,
            tmp_path / "home",
            LOG_LEVEL="DEBUG",
            TG_API_ID="12345",
            TG_API_HASH=API_HASH,
            TG_SESSION_STRING=JUNK_SESSION,
            TG_BOT_TOKEN=bot_api.TOKEN,
            TG_BOT_API_URL=bot.url,
            TG_VIP_CHAT_ID=VIP_CHAT,
            DIGEST_PART_INTERVAL_SECONDS="0",
            LLM_API_KEY=LLM_KEY,
            LLM_PROVIDER="openai",
            LLM_API_URL=llm.url,
            LLM_MODEL_NAME="test-model",
        )

        def run(*args: str, expect: int | None = 0, **overrides: str) -> Finished:
            result = procs.cli(*args, env={**env, **overrides}, timeout=120)
            results.append(result)
            if expect is not None:
                assert result.returncode == expect, result.describe()
            assert "Traceback" not in result.stderr, result.describe()
            return result

        run("db", "migrate")
        run("db", "status")
        run("backfill", "--from-export", str(SAMPLE_EXPORT), "--channels", "@wirewatch_demo")
        # A provider (or a proxy in front of it) that quotes the key back in its errors.
        llm.script(
            error(401, f"Incorrect API key provided: {LLM_KEY}"),
            error(400, f"Bad request from key {LLM_KEY} (Authorization: Bearer {LLM_KEY})"),
        )
        run("extract", "--oneshot", "--concurrency", "1")
        assert {r.headers.get("authorization") for r in llm.requests} == {f"Bearer {LLM_KEY}"}

        sent = run("digest", "--at", AT)
        assert "outcome=sent" in sent.stdout
        assert bot.sent_messages
        assert {r.token for r in bot.requests} == {bot_api.TOKEN}
        bot.fail_next(bot_api.BOT_KICKED)
        kicked = run("digest", "--at", AT, "--chat", KICKED_CHAT, expect=1)
        assert "bot was kicked" in kicked.error_lines[-1]

        for output_format in ("json", "prometheus", "text"):
            run("health", "--format", output_format, expect=None)
        run("health", "--format", "prometheus", "--output", str(textfile), expect=None)
        run("runs")
        run("runs", "--format", "json")

        junk = run("listen", "--duration", "5s", "--channels", "@wirewatch_demo", expect=2)
        assert "TG_SESSION_STRING" in junk.error_lines[-1]
        unreachable = run(
            "listen",
            "--duration",
            "5s",
            "--channels",
            "@wirewatch_demo",
            expect=1,
            TG_SESSION_STRING=reachable_session,
        )
        assert "Telegram" in unreachable.error_lines[-1]

    printed = "\n".join(f"$ {' '.join(r.args)}\n{r.output}" for r in results)
    stored = "\n".join(
        f"{table}: {row}"
        for table, rows in dump_rows(secret_database.direct_url).items()
        for row in rows
    )
    runs = query(
        secret_database.direct_url, "SELECT job_name, status FROM job_runs ORDER BY started_at"
    )
    assert [(run["job_name"], run["status"]) for run in runs] == [
        ("backfill", "success"),
        ("extract", "success"),
        ("digest:vip", "success"),
        ("digest:vip", "failed"),
        ("listen", "failed"),
        ("listen", "failed"),
    ]
    # The provider's echoes of the key did reach the queue's error column, scrubbed.
    echoed = query(
        secret_database.direct_url,
        "SELECT last_error FROM extraction_jobs WHERE last_error IS NOT NULL ORDER BY id",
    )
    assert len(echoed) == 2, echoed
    assert all("[REDACTED]" in row["last_error"] for row in echoed), echoed
    problems = [
        *(f"printed: {leak}" for leak in leaks(printed, named)),
        *(f"textfile: {leak}" for leak in leaks(textfile.read_text(), named)),
        *(f"stored: {leak}" for leak in leaks(stored, named)),
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"postgresql://cq:{DB_PASSWORD}@127.0.0.1:{{port}}/cq", id="closed-port"),
        pytest.param(f"postgresql://cq:{DB_PASSWORD}@127.0.0.1:notaport/cq", id="bad-port"),
        pytest.param(f"postgresql://cq:{DB_PASSWORD}@no-such-host.invalid/cq", id="no-such-host"),
        pytest.param(f"host=127.0.0.1 port={{port}} password={DB_PASSWORD} dbname", id="kv-broken"),
        pytest.param(f"postgresql://cq:{DB_PASSWORD}@[::1/cq", id="unclosed-ipv6-bracket"),
        pytest.param(f"postgresql://cq:{DB_PASSWORD}%zz@127.0.0.1/cq", id="bad-percent-escape"),
    ],
)
def test_a_broken_database_url_never_shows_its_password(
    url: str, procs: Processes, tmp_path: Path
) -> None:
    env = cli_env(
        url.format(port=closed_port()),
        tmp_path / "home",
        LOG_LEVEL="DEBUG",
        DB_CONNECT_TIMEOUT_SECONDS="3",
    )
    for args in (("db", "status"), ("health", "--format", "json"), ("extract", "--oneshot")):
        result = procs.cli(*args, env=env, timeout=60)
        assert result.returncode != 0, result.describe()
        assert "Traceback" not in result.stderr, result.describe()
        assert not leaks(result.output, {"DATABASE_URL password": DB_PASSWORD}), result.describe()


@pytest.mark.parametrize(
    ("args", "status", "what"),
    [
        pytest.param(
            ("health", "--output", "{tmp}"),
            2,
            "--output {tmp}: is a directory",
            id="health-output-dir",
        ),
        pytest.param(
            ("cron", "--log-dir", "{tmp}/file/logs"), 1, "cron failed: ", id="cron-log-dir"
        ),
    ],
)
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_an_unexpected_error_is_one_line_without_traceback_or_password(
    args: tuple[str, ...],
    status: int,
    what: str,
    level: str,
    secret_database: SecretDatabase,
    procs: Processes,
    tmp_path: Path,
) -> None:
    (tmp_path / "file").write_text("a file where a directory should be\n")
    env_file = tmp_path / "civicquant.env"  # cron refuses a missing one before anything else
    env_file.write_text("# settings come from the environment here\n")
    env_file.chmod(0o600)
    env = cli_env(
        secret_database.url, tmp_path / "home", LOG_LEVEL=level, CIVICQUANT_ENV_FILE=str(env_file)
    )
    migrated = procs.cli("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.describe()
    result = procs.cli(*(arg.format(tmp=tmp_path) for arg in args), env=env)
    assert result.returncode == status, result.describe()
    assert "Traceback" not in result.stdout, result.describe()
    [line] = result.error_lines
    assert line.startswith(f"civicquant: error: {what.format(tmp=tmp_path)}"), line
    assert leaks(result.output, {"DATABASE_URL password": DB_PASSWORD}) == []
    log_lines = [row for row in result.stderr.splitlines() if row.startswith("{")]
    if level == "INFO":
        assert "Traceback" not in result.output, result.describe()
    elif args[0] == "cron":  # unexpected: the details at debug level, a JSON line, no locals
        [logged] = [json.loads(row) for row in log_lines if "unexpected_error" in row]
        assert logged["level"] == "debug"
        assert "Traceback" in logged["exception"]
