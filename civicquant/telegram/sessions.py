"""Which Telegram session a command reads with, and a connected reader over it.

`listen` uses TG_SESSION_STRING or TG_SESSION. `backfill` uses TG_SESSION_RECOVERY when it is
set (so it can run beside the listener); otherwise it shares the listener's session and
therefore takes the listener's lease, because one session must never serve two processes.
Telethon is imported only inside these functions.
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path

from civicquant.config import Settings
from civicquant.errors import ConfigError
from civicquant.ingest.reader import ChannelReader, FloodWaitPolicy


def backfill_lease(settings: Settings) -> str:
    """The lease backfill takes: its own with a recovery session, else the listener's."""
    return "backfill" if settings.tg_session_recovery else "listen"


@asynccontextmanager
async def telegram_reader(
    settings: Settings, flood: FloodWaitPolicy, *, recovery: bool = False
) -> AsyncIterator[ChannelReader]:
    """A TelethonReader over a connected, logged-in client; disconnected on exit."""
    from civicquant.telegram.telethon_reader import (
        TelethonReader,
        connect,
        make_client,
        session_lock,
    )

    settings.require("TG_API_ID", "TG_API_HASH")
    assert settings.tg_api_id is not None and settings.tg_api_hash is not None
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

    from civicquant.telegram.telethon_reader import make_client

    settings.require("TG_API_ID", "TG_API_HASH")
    assert settings.tg_api_id is not None and settings.tg_api_hash is not None
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
