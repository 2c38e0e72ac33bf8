"""One Telegram login serves one process, on any host sharing the database.

Two clients on one auth key at once make Telegram revoke it (AUTH_KEY_DUPLICATED). The job
leases keep two listeners apart; the session lease keeps apart any two jobs reading with one
login, however it is given: the same TG_SESSION_STRING in two installations' env files, or a
session file holding the same login as another's string.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession, StringSession

from civicquant.db import Database
from civicquant.runtime import leases
from tests.acceptance.conftest import run_cli

ELSEWHERE = "other-host:4242:0badcafe"


def closed_port() -> int:
    """A local port nothing listens on: connecting there is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def login() -> bytes:
    return os.urandom(256)


def session_string(auth_key: bytes, port: int) -> str:
    session = StringSession()
    session.set_dc(2, "127.0.0.1", port)
    session.auth_key = AuthKey(auth_key)
    saved = session.save()
    assert isinstance(saved, str)
    return saved


def session_file(path: Path, auth_key: bytes, port: int) -> Path:
    session = SQLiteSession(str(path))
    session.set_dc(2, "127.0.0.1", port)
    session.auth_key = AuthKey(auth_key)
    session.save()
    session.close()
    return path


def lease_name(auth_key: bytes) -> str:
    return f"telegram-session:key:{hashlib.sha256(auth_key).hexdigest()[:16]}"


def telegram_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "TG_API_ID": "12345",
        "TG_API_HASH": "0123456789abcdef0123456789abcdef",
        "TG_SOURCE_CHANNELS": "@wirewatch",
        "LEASE_TTL_SECONDS": "30",
        **extra,
    }


def test_a_login_held_elsewhere_is_not_used_by_listen_or_backfill(
    database_url: str, login: bytes, tmp_path: Path
) -> None:
    port = closed_port()
    string = session_string(login, port)
    # A copy of the same login as a session file, as another installation might keep it.
    copy = session_file(tmp_path / "recovery.session", login, port)
    with Database.connect(database_url) as db:
        assert leases.acquire(db, lease_name(login), ELSEWHERE, 30) is not None

    listen = run_cli(
        "listen", "--duration", "5s", env=telegram_env(database_url, TG_SESSION_STRING=string)
    )
    backfill = run_cli(
        "backfill",
        "--since",
        "2026-11-20T08:00:00+00:00",
        env=telegram_env(database_url, TG_SESSION_STRING=string, TG_SESSION_RECOVERY=str(copy)),
    )

    for result in (listen, backfill):
        assert result.returncode == 0, result.stderr
        assert f"in use by {ELSEWHERE}" in result.stdout
        assert "Traceback" not in result.stderr
        assert string not in result.stdout + result.stderr
    with Database.connect(database_url) as db:
        rows = db.connection.execute(
            "SELECT job_name, status, counts->>'lease_held_by' AS held_by FROM job_runs "
            "ORDER BY started_at"
        ).fetchall()
        stored = db.connection.execute("SELECT count(*) AS n FROM raw_messages").fetchone()
    assert [(row["job_name"], row["status"], row["held_by"]) for row in rows] == [
        ("listen", "skipped", ELSEWHERE),
        ("backfill", "skipped", ELSEWHERE),
    ]
    assert stored is not None
    assert stored["n"] == 0
    # The string itself is never stored, only its key's digest.
    with Database.connect(database_url) as db:
        dumped = db.connection.execute(
            "SELECT string_agg(counts::text, ' ') AS notes FROM job_runs"
        ).fetchone()
    assert dumped is not None
    assert string not in str(dumped["notes"])


def test_a_free_login_is_taken_for_the_run_and_given_up_after_it(
    database_url: str, login: bytes
) -> None:
    # Nothing listens where the session points: the connection is refused, the run fails,
    # and the session lease it took to connect is given up again.
    string = session_string(login, closed_port())
    result = run_cli(
        "listen", "--duration", "5s", env=telegram_env(database_url, TG_SESSION_STRING=string)
    )
    assert result.returncode != 0
    assert "cannot reach Telegram" in result.stderr, result.stderr
    assert string not in result.stdout + result.stderr
    with Database.connect(database_url) as db:
        assert leases.current(db, lease_name(login)) is None
        run = db.connection.execute("SELECT status FROM job_runs").fetchone()
    assert run is not None
    assert run["status"] == "failed"
