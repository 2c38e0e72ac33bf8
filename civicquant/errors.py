"""civicquant's own exceptions: what a command can fail with, each a one-line message.

Adapters translate driver errors (psycopg, Telethon, python-telegram-bot, httpx) into
these at the boundary (`raise ConfigError(...) from exc`), so the CLI prints one clear
line and exits non-zero instead of a traceback, and retries target our own types.
"""

from __future__ import annotations


class CivicquantError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 1


class JobSkipped(CivicquantError):
    """The job has nothing it may do now (a FloodWait not yet over): the run is `skipped`.

    Not a failure: the runner records the run as skipped with `notes` and exits 0.
    """

    exit_code = 0

    def __init__(self, reason: str, **notes: object) -> None:
        super().__init__(reason)
        self.notes = {"skip_reason": reason, **notes}


class ConfigError(CivicquantError):
    """A setting is missing or invalid; the message names the variable."""

    exit_code = 2


class UsageError(CivicquantError):
    """A command-line value is invalid (a naive timestamp, an unknown channel form, ...)."""

    exit_code = 2


class DatabaseUnavailable(CivicquantError):
    """The database cannot be reached; the message names the host, never the password."""


class DatabaseError(CivicquantError):
    """A query failed for a reason other than reachability."""


class InputFormatError(CivicquantError):
    """A file or payload is not what it claims to be; the message names where."""

    exit_code = 2


class TelegramError(CivicquantError):
    """Reading from or publishing to Telegram failed."""


class FloodWaitTooLong(TelegramError):
    """Telegram asked for a wait longer than FLOODWAIT_MAX_SECONDS; the run ends cleanly."""

    def __init__(self, seconds: int, limit: int, method: str | None = None) -> None:
        super().__init__(
            f"Telegram asked to wait {seconds}s (FloodWait), more than "
            f"FLOODWAIT_MAX_SECONDS={limit}; ending the run"
        )
        self.seconds = seconds
        self.limit = limit
        self.method = method  # the Telegram method that met the wait, when known
