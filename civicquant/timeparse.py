"""Times and durations given on the command line: strict, with one clear error line."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from civicquant.errors import UsageError

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_MAX_DURATION_SECONDS = 100 * 366 * 86400  # a century
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str, option: str) -> float:
    """Seconds in '55m', '1h', '30s', '2d' or a bare number of seconds."""
    match = _DURATION.match(value)
    if not match:
        raise UsageError(f"{option} {value!r} is not a duration (e.g. 55m, 1h, 30s, 2d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise UsageError(f"{option} {value!r} must be longer than zero")
    if not math.isfinite(seconds) or seconds > _MAX_DURATION_SECONDS:
        raise UsageError(f"{option} {_shown(value)} is too long (at most a century)")
    return seconds


def parse_instant(value: str, option: str) -> datetime:
    """An ISO 8601 instant with a UTC offset, as UTC; a naive one is rejected."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-11-20T08:00:00+00:00)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        example = parsed.isoformat(timespec="seconds")
        raise UsageError(
            f"{option} {value!r} has no UTC offset: which zone is it? "
            f"Add one, e.g. {example}+00:00 or {example}Z"
        )
    try:
        instant: datetime | None = parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        instant = None
    if instant is None or not _EARLIEST <= instant < _LATEST:
        raise UsageError(f"{option} {_shown(value)} is out of range (1970 to 9000)")
    return instant


def parse_zone(value: str, option: str) -> ZoneInfo:
    """An IANA time zone by name (`Europe/Moscow`, `UTC`), from the system's or tzdata's files."""
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"{option} {_shown(value)} is not an IANA time zone name (e.g. Europe/Moscow, UTC)"
        ) from None


def _shown(value: str, limit: int = 60) -> str:
    """The value as quoted in an error, cut so a hostile one cannot flood the line."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


@dataclass(frozen=True, slots=True)
class Window:
    """A time window: `since` inclusive, `until` exclusive (None: open-ended)."""

    since: datetime | None
    until: datetime | None = None


def parse_window(since: str | None, until: str | None) -> Window:
    """Parse a --since/--until pair, checking their order."""
    start = parse_instant(since, "--since") if since else None
    end = parse_instant(until, "--until") if until else None
    if start is not None and end is not None and end <= start:
        raise UsageError(f"--until {until} is not after --since {since}")
    return Window(start, end)
