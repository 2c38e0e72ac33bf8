"""Redaction: bot tokens and configured secrets scrubbed from any text before it is shown.

Kept apart from the logging pipeline (and free of structlog) so that error messages of the
commands that never log, like `health` and `--help`, are scrubbed without paying for it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_plus

REDACTED: Final = "[REDACTED]"

# A bot token is `<bot id>:<~35 chars>`. 5+ digits and 30+ characters keep times (12:30:45)
# and ISO timestamps intact. No \b before the digits: in API URLs the token follows "bot"
# directly (`/bot123456789:AAH.../sendMessage`), so only "not preceded by a digit" is asked.
_BOT_TOKEN: Final = re.compile(r"(?<![0-9])[0-9]{5,}:[A-Za-z0-9_-]{30,}")
_MIN_SECRET_LENGTH: Final = 6
_secrets_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_secret_pattern: re.Pattern[str] = _BOT_TOKEN


def redact(text: str) -> str:
    """Return *text* with bot tokens and every configured secret replaced by `[REDACTED]`."""
    return _secret_pattern.sub(REDACTED, text)


def add_secrets(values: Iterable[str]) -> None:
    """Add exact values to redact from now on; empty and short (< 6 chars) values are ignored."""
    global _secrets
    with _secrets_lock:
        _secrets = _secrets | _usable_secrets(values)
        _compile_secret_pattern()


def set_secrets(values: Iterable[str]) -> None:
    """Replace the secrets to redact."""
    global _secrets
    with _secrets_lock:
        _secrets = _usable_secrets(values)
        _compile_secret_pattern()


def _usable_secrets(values: Iterable[str]) -> frozenset[str]:
    usable: set[str] = set()
    for value in values:
        if len(value) < _MIN_SECRET_LENGTH:
            continue
        # A DB password inside a DSN or a session string in a query is percent-encoded.
        usable.update({value, quote(value, safe=""), quote_plus(value, safe="")})
    return frozenset(usable)


def _compile_secret_pattern() -> None:
    """Rebuild the pattern from `_secrets`; the caller holds `_secrets_lock`."""
    global _secret_pattern
    # Longest first, so a secret that contains another is replaced whole.
    literals = [re.escape(value) for value in sorted(_secrets, key=len, reverse=True)]
    _secret_pattern = re.compile("|".join([*literals, _BOT_TOKEN.pattern]))
