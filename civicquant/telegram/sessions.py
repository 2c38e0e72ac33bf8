"""Which Telegram session a command reads with, the client over it, and a connected reader.

`listen` uses TG_SESSION_STRING or TG_SESSION. `backfill` uses TG_SESSION_RECOVERY when it is
set (so it can run beside the listener); otherwise it shares the listener's session and
therefore takes the listener's lease, because one session must never serve two processes.
Session files hold the account's login key: they are kept at mode 0600, and locked while
in use. Telethon is imported only inside these functions.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import sqlite3
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civicquant.config import Settings
from civicquant.errors import ConfigError, TelegramError
from civicquant.ingest.reader import ChannelReader, FloodWaitPolicy

if TYPE_CHECKING:  # for annotations only; Telethon is imported inside the functions
    from telethon import TelegramClient

SESSION_SUFFIX = ".session"


def backfill_lease(settings: Settings) -> str:
    """The lease backfill takes: its own with a recovery session, else the listener's."""
    return "backfill" if settings.tg_session_recovery else "listen"


@asynccontextmanager
async def telegram_reader(
    settings: Settings, flood: FloodWaitPolicy, *, recovery: bool = False
) -> AsyncIterator[ChannelReader]:
    """A TelethonReader over a connected, logged-in client; disconnected on exit."""
    from civicquant.telegram.telethon_reader import TelethonReader

    settings.require("TG_API_ID", "TG_API_HASH")
    assert settings.tg_api_id is not None
    assert settings.tg_api_hash is not None
    session_string: str | None
    session_path: Path | None
    if recovery and settings.tg_session_recovery:
        session_string, session_path = None, settings.tg_session_recovery.expanduser()
    else:
        session_string = (
            settings.tg_session_string.get_secret_value() if settings.tg_session_string else None
        )
        session_path = settings.tg_session.expanduser() if settings.tg_session else None
    client = make_client(
        settings.tg_api_id, settings.tg_api_hash.get_secret_value(), session_string, session_path
    )
    lock = session_lock(session_path) if session_path and not session_string else nullcontext()
    with lock:
        await connect(client)
        try:
            yield TelethonReader(client, flood)
        finally:
            await client.disconnect()


async def login(settings: Settings, *, save_to: Path | None) -> str | None:
    """Log in interactively (phone, code, 2FA password); return a session string or None.

    With `save_to` the session is written to that file (mode 0600) and None is returned;
    otherwise a StringSession is returned for TG_SESSION_STRING.
    """
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    settings.require("TG_API_ID", "TG_API_HASH")
    assert settings.tg_api_id is not None
    assert settings.tg_api_hash is not None
    api_hash = settings.tg_api_hash.get_secret_value()
    client: TelegramClient
    if save_to is not None:
        client = make_client(settings.tg_api_id, api_hash, None, save_to.expanduser())
    else:
        client = TelegramClient(StringSession(), settings.tg_api_id, api_hash)
    try:
        await client.start(
            phone=lambda: input("Phone number (international format): "),
            code_callback=lambda: input("Login code sent by Telegram: "),
            password=lambda: getpass.getpass("Two-step verification password: "),
        )
        if save_to is not None:
            return None
        saved = client.session.save()
        if not isinstance(saved, str):
            raise ConfigError("Telethon returned no session string")
        return saved
    finally:
        await client.disconnect()


# --- clients and session files ---------------------------------------------------------


def make_client(
    api_id: int,
    api_hash: str,
    session_string: str | None,
    session_path: Path | None,
) -> TelegramClient:
    """Return an unconnected TelegramClient that leaves FloodWaits to civicquant.

    A session string wins over a session file. The session file is created, or
    tightened, to mode 0600: it holds the account's login key.
    """
    from telethon import TelegramClient
    from telethon.sessions import StringSession

    session: Any
    if session_string:
        try:
            session = StringSession(session_string)
        except (ValueError, struct.error) as exc:
            raise ConfigError(
                "TG_SESSION_STRING is not a Telethon session string (StringSession.save())"
            ) from exc
    elif session_path is not None:
        session = _session_file(session_path)
    else:
        raise ConfigError("no Telegram session: set TG_SESSION (a file) or TG_SESSION_STRING")
    return TelegramClient(
        session,
        api_id,
        api_hash,
        # 0: every FloodWait reaches TelethonReader, so FLOODWAIT_MAX_SECONDS governs.
        flood_sleep_threshold=0,
        # Raise Telegram's own error after Telethon's retries, not a bare ValueError.
        raise_last_call_error=True,
        request_retries=3,
        # Keeps a post's edit from overtaking the post itself on the way to the queue.
        sequential_updates=True,
    )


async def connect(client: TelegramClient) -> None:
    """Connect `client` and check the session is logged in; never prompts (cron has no tty)."""
    from telethon import errors

    from civicquant.telegram.telethon_reader import NETWORK_ERRORS, describe, refusal

    try:
        await client.connect()
        authorised = bool(await client.is_user_authorized())
    except errors.RPCError as exc:
        raise TelegramError(f"connecting to Telegram: {refusal(exc)}") from exc
    except NETWORK_ERRORS as exc:
        raise TelegramError(f"cannot reach Telegram ({describe(exc)})") from exc
    if not authorised:
        await client.disconnect()
        raise TelegramError(
            "the Telegram session is not logged in; log in interactively once and set "
            "TG_SESSION or TG_SESSION_STRING"
        )


def session_file_name(session_path: Path) -> Path:
    """Return the file Telethon uses for `session_path` (it appends `.session` if missing)."""
    if session_path.name.endswith(SESSION_SUFFIX):
        return session_path
    return session_path.with_name(session_path.name + SESSION_SUFFIX)


@contextmanager
def session_lock(session_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a session file for the block.

    Two processes on one session make Telegram revoke it (AUTH_KEY_DUPLICATED) and make
    SQLite report "database is locked"; the second process gets a TelegramError instead.
    The lock is a sibling `.lock` file, so it never interferes with SQLite's own locks,
    and the kernel drops it if the process dies.
    """
    lock_path = session_file_name(session_path).with_name(
        session_file_name(session_path).name + ".lock"
    )
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"TG_SESSION: cannot create lock file {lock_path} ({exc})") from exc
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TelegramError(
                f"TG_SESSION {session_file_name(session_path)} is in use by another "
                "civicquant process; a session can serve one process at a time"
            ) from exc
        yield
    finally:
        os.close(descriptor)


def _session_file(session_path: Path) -> Any:
    from telethon.sessions import SQLiteSession

    filename = session_file_name(session_path)
    try:
        # Created 0600 before SQLite touches it, so the key is never world-readable, and
        # tightened in case an older file was looser. SQLite gives its journal the same mode.
        descriptor = os.open(filename, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(descriptor)
        os.chmod(filename, 0o600)
        return SQLiteSession(str(filename))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"TG_SESSION {filename}: cannot open the session file ({exc})") from exc
