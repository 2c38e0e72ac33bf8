"""Settings: every value civicquant reads from the environment and an optional env file.

The env file is `CIVICQUANT_ENV_FILE` when set (cron sets it), else `.env` in the working
directory when present; a variable set in the real environment wins over the file. Names
match case-insensitively. Secrets are `Secret`: their values never reach a repr, a log line
or an error message, and no error message repeats the value it rejects.

`Settings` is a frozen dataclass whose class body is the one table of settings: attribute,
variable, default and parser (with its bounds). Plain parsers rather than pydantic-settings
because cron starts `civicquant health` every minute and importing pydantic-settings cost
more than the rest of its start-up.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar, get_args

from dotenv import dotenv_values

from civicquant.errors import ConfigError

T = TypeVar("T")

DEFAULT_HOME = Path("~/.local/share/civicquant")

# How often each monitored job is expected to succeed, in minutes; matches cron/civicquant.crontab.
# Each route's `digest:NAME` job is monitored at its own cadence (civicquant.publish.routes).
DEFAULT_JOB_INTERVALS: dict[str, int] = {
    "listen": 60,
    "extract": 1,
    "prune": 1440,
}

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LlmProvider = Literal["rules", "openai"]


class Secret:
    """A secret setting: `get_secret_value()` gives it; repr and str show `**********`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself, for the one call that has to send it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********" if self._value else ""


# -- parsers: text of one variable -> value, or ValueError saying what is wrong (never the text)

_TRUE: Final = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE: Final = frozenset({"0", "off", "f", "false", "n", "no"})
# Decimal digits, `_` between them, and a zero fraction ("5.0"), as pydantic accepted.
_INTEGER: Final = re.compile(r"([+-]?[0-9]+(?:_[0-9]+)*)(?:\.0+)?")
_NOT_AN_INTEGER: Final = "Input should be a valid integer, unable to parse string as an integer"


def boolean(text: str) -> bool:
    """true/false, 1/0, yes/no, on/off, t/f, y/n in any case."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("Input should be a valid boolean (true/false, 1/0, yes/no, on/off)")


def integer(*, ge: int | None = None) -> Callable[[str], int]:
    """A whole number, at least `ge`."""

    def parse(text: str) -> int:
        value = _whole_number(text)
        _check_bounds(value, ge=ge)
        return value

    return parse


def number(
    *, ge: float | None = None, gt: float | None = None, le: float | None = None
) -> Callable[[str], float]:
    """A decimal number (`inf` too) within the bounds; `nan` is never within them."""

    def parse(text: str) -> float:
        value = _decimal(text)
        _check_bounds(value, ge=ge, gt=gt, le=le)
        return value

    return parse


_SECONDS = {"s": 1, "m": 60, "h": 3600}
_SECONDS_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")


def seconds(*, le: float) -> Callable[[str], float]:
    """A duration: `300`, `300s`, `5m`, `1h` (at most `le` seconds), as seconds."""

    def parse(text: str) -> float:
        match = _SECONDS_RE.fullmatch(text.strip().lower())
        if match is None:
            raise ValueError("expected a duration such as 5m, 300s or 1h")
        value = float(match.group(1)) * _SECONDS[match.group(2) or "s"]
        _check_bounds(value, ge=0, le=le)
        return value

    return parse


def choice(options: Any) -> Callable[[str], Any]:
    """Exactly one of the values of the Literal type `options`."""
    allowed: tuple[str, ...] = get_args(options)
    shown = ", ".join(repr(option) for option in allowed[:-1]) + f" or {allowed[-1]!r}"

    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"Input should be {shown}")
        return text

    return parse


def job_minutes(text: str) -> dict[str, int]:
    """Minutes per job, as JSON ('{"listen": 60}') or crontab-friendly 'listen=60,extract=1'."""
    pairs: Iterable[tuple[str, object]]
    if text.strip().startswith("{"):
        try:
            decoded: dict[str, object] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Invalid JSON ({exc.msg} at column {exc.colno})") from None
        pairs = decoded.items()
    else:
        items = [item.split("=", 1) for item in text.split(",") if item.strip()]
        if any(len(item) != 2 for item in items):
            raise ValueError("expected job=minutes pairs, e.g. 'listen=60,extract=1'")
        pairs = [(name.strip(), minutes) for name, minutes in items]
    return {name: _minutes(minutes) for name, minutes in pairs}


def _whole_number(text: str) -> int:
    found = _INTEGER.fullmatch(text.strip())
    if found is None:
        raise ValueError(_NOT_AN_INTEGER)
    return int(found.group(1))


def _decimal(text: str) -> float:
    stripped = text.strip()
    if stripped.isascii():  # float() also reads digits of other scripts
        with suppress(ValueError):
            return float(stripped)
    raise ValueError("Input should be a valid number, unable to parse string as a number")


def _minutes(value: object) -> int:
    if isinstance(value, str):
        return _whole_number(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("Input should be a valid integer (whole minutes)")


def _check_bounds(
    value: float, *, ge: float | None = None, gt: float | None = None, le: float | None = None
) -> None:
    # Written as `not value >= ge` so that nan fails every bound.
    if ge is not None and not value >= ge:
        raise ValueError(f"Input should be greater than or equal to {ge}")
    if gt is not None and not value > gt:
        raise ValueError(f"Input should be greater than {gt}")
    if le is not None and not value <= le:
        raise ValueError(f"Input should be less than or equal to {le}")


# -- the table -------------------------------------------------------------------------------


class Variable(NamedTuple):
    """Where a setting comes from: its environment variable (then any alias) and its parser."""

    names: tuple[str, ...]
    parse: Callable[[str], object]


def _variable(name: str, parse: Callable[[str], object], alias: str | None) -> dict[str, Variable]:
    return {"variable": Variable((name,) if alias is None else (name, alias), parse)}


def _variable_of(spec: Field[Any]) -> Variable:
    variable: Variable = spec.metadata["variable"]
    return variable


def setting(name: str, default: T, parse: Callable[[str], T], *, alias: str | None = None) -> T:
    """A Settings field read from the variable `name` (else `alias`) with `parse`."""
    return field(default=default, metadata=_variable(name, parse, alias))


@dataclass(frozen=True)
class Settings:
    """Every setting civicquant reads; `.env.example` documents each with its default.

    `Settings()` is all defaults; `load_settings()` reads the environment and the env file.
    """

    # Database
    database_url: str | None = setting("DATABASE_URL", None, str)
    civicquant_home: Path = setting("CIVICQUANT_HOME", DEFAULT_HOME, Path)
    db_prepared_statements: bool = setting("DB_PREPARED_STATEMENTS", True, boolean)
    db_connect_timeout_seconds: int = setting("DB_CONNECT_TIMEOUT_SECONDS", 10, integer(ge=1))

    # Logs
    log_format: LogFormat = setting("LOG_FORMAT", "auto", choice(LogFormat))
    log_level: LogLevel = setting("LOG_LEVEL", "INFO", choice(LogLevel))

    # Leases and monitoring
    lease_ttl_seconds: int = setting("LEASE_TTL_SECONDS", 60, integer(ge=1))
    health_grace_minutes: int = setting("HEALTH_GRACE_MINUTES", 5, integer(ge=0))
    health_job_intervals: dict[str, int] = field(
        default_factory=dict, metadata=_variable("HEALTH_JOB_INTERVALS", job_minutes, None)
    )
    channel_stale_minutes: int = setting("CHANNEL_STALE_MINUTES", 720, integer(ge=1))
    health_queue_max_age_minutes: int = setting("HEALTH_QUEUE_MAX_AGE_MINUTES", 30, integer(ge=1))
    health_max_dead_jobs: int = setting("HEALTH_MAX_DEAD_JOBS", 0, integer(ge=0))
    health_max_flood_waits: int = setting("HEALTH_MAX_FLOOD_WAITS", 50, integer(ge=0))
    health_reserved_minutes: int = setting("HEALTH_RESERVED_MINUTES", 10, integer(ge=1))

    # Telegram reading (Telethon)
    tg_api_id: int | None = setting("TG_API_ID", None, integer())
    tg_api_hash: Secret | None = setting("TG_API_HASH", None, Secret)
    tg_session: Path | None = setting("TG_SESSION", None, Path)
    tg_session_string: Secret | None = setting("TG_SESSION_STRING", None, Secret)
    tg_session_recovery: Path | None = setting("TG_SESSION_RECOVERY", None, Path)
    tg_source_channels: str = setting("TG_SOURCE_CHANNELS", "", str, alias="TG_SOURCE_CHANNEL")
    floodwait_max_seconds: int = setting("FLOODWAIT_MAX_SECONDS", 300, integer(ge=0))
    # listen's catch-up after downtime reads the unread stretch in chunks of this many hours,
    # newest first: the newest chunk at live priority, the older ones at backfill priority.
    # 6: not measured; a quarter of a day keeps the "live" chunk to what a digest window
    # (VIP_DIGEST_HOURS, 4 by default) still reports, and one chunk of a busy news channel
    # (a few hundred posts a day) to a few pages of history.
    catchup_chunk_hours: int = setting("CATCHUP_CHUNK_HOURS", 6, integer(ge=1))
    # While more extraction jobs than this wait, the catch-up reads no older chunk (live
    # posts still flow). 5000: not measured; about an hour of the rules extractor's
    # throughput at the default worker settings is well above it, so a pause means the
    # workers are behind, not merely busy.
    catchup_queue_high_watermark: int = setting("CATCHUP_QUEUE_HIGH_WATERMARK", 5000, integer(ge=1))
    # After a downtime listen reads the posts of the last this many hours again, recording
    # edits as revisions and deletions. 48: edits to news posts come within hours, and two
    # days cover a weekend's outage; 0 turns the recheck off.
    recheck_hours: int = setting("RECHECK_HOURS", 48, integer(ge=0))

    # Extraction
    extraction_pipeline_version: str = setting("EXTRACTION_PIPELINE_VERSION", "v1", str)
    extraction_queue_enabled: bool = setting("EXTRACTION_QUEUE_ENABLED", True, boolean)
    extract_max_attempts: int = setting("EXTRACT_MAX_ATTEMPTS", 5, integer(ge=1))
    extract_lease_seconds: float = setting("EXTRACT_LEASE_SECONDS", 120.0, number(ge=1))
    llm_provider: LlmProvider = setting("LLM_PROVIDER", "rules", choice(LlmProvider))
    llm_api_url: str = setting("LLM_API_URL", "https://api.openai.com/v1", str)
    llm_api_key: Secret | None = setting("LLM_API_KEY", None, Secret)
    llm_model_name: str = setting("LLM_MODEL_NAME", "gpt-4o-mini", str)
    llm_timeout_seconds: float = setting("LLM_TIMEOUT_SECONDS", 60.0, number(gt=0))
    llm_max_concurrency: int = setting("LLM_MAX_CONCURRENCY", 8, integer(ge=1))
    llm_system_prompt_file: Path | None = setting("LLM_SYSTEM_PROMPT_FILE", None, Path)
    llm_system_prompt_text: str | None = setting("LLM_SYSTEM_PROMPT_TEXT", None, str)

    # Publishing (Bot API)
    tg_bot_token: Secret | None = setting("TG_BOT_TOKEN", None, Secret)
    tg_vip_chat_id: str | None = setting("TG_VIP_CHAT_ID", None, str)
    tg_ops_chat_id: str | None = setting("TG_OPS_CHAT_ID", None, str)
    tg_bot_api_url: str | None = setting("TG_BOT_API_URL", None, str)

    # Retention (prune)
    prune_job_runs_days: int = setting("PRUNE_JOB_RUNS_DAYS", 30, integer(ge=1))
    prune_extraction_jobs_days: int = setting("PRUNE_EXTRACTION_JOBS_DAYS", 30, integer(ge=1))
    prune_published_posts_days: int = setting("PRUNE_PUBLISHED_POSTS_DAYS", 90, integer(ge=1))

    # Digests and alerts
    civicquant_routes: Path | None = setting("CIVICQUANT_ROUTES", None, Path)
    vip_digest_hours: float = setting("VIP_DIGEST_HOURS", 4.0, number(gt=0, le=24))
    digest_topics: str = setting("DIGEST_TOPICS", "", str)
    digest_exclude_topics: str = setting("DIGEST_EXCLUDE_TOPICS", "", str)
    breaking_min_importance: float = setting("BREAKING_MIN_IMPORTANCE", 0.6, number(ge=0, le=1))
    breaking_min_importance_15m: float | None = setting(
        "BREAKING_MIN_IMPORTANCE_15M", None, number(ge=0, le=1)
    )
    breaking_min_importance_1h: float | None = setting(
        "BREAKING_MIN_IMPORTANCE_1H", None, number(ge=0, le=1)
    )
    breaking_min_importance_4h: float | None = setting(
        "BREAKING_MIN_IMPORTANCE_4H", None, number(ge=0, le=1)
    )
    flash_min_importance: float = setting("FLASH_MIN_IMPORTANCE", 0.85, number(ge=0, le=1))
    # At most 15 bullets, and no more than fit one message (the rest are counted in the
    # "more" line): the demo's 08:00-12:00 window had 34 bullets in three messages, its
    # bullets average ~230 UTF-16 units, so one message holds 13-17 of them
    # (tests/integration/test_importance.py checks the demo's is one message, of 13).
    # 0: no cap, every event, in as many messages as it takes.
    digest_max_events: int = setting("DIGEST_MAX_EVENTS", 15, integer(ge=0))
    # 0.05: the rules extractor reads chatter ("Thanks a lot, sir!", "Good morning") as 0.0,
    # and the least important news in the demo's samples is 0.09 (a one-line China export
    # controls note); the shared real export's 10th percentile is 0.05.
    digest_min_importance: float = setting("DIGEST_MIN_IMPORTANCE", 0.05, number(ge=0, le=1))
    # How long a scheduled digest waits, past its window's end, for the posts inside the
    # window still being extracted (extract hands over within a minute or so); what comes
    # later goes into the next window, marked late.
    digest_max_wait_seconds: float = setting("DIGEST_MAX_WAIT", 300.0, seconds(le=3600))
    alert_after_failures: int = setting("ALERT_AFTER_FAILURES", 3, integer(ge=1))
    digest_part_interval_seconds: float = setting(
        "DIGEST_PART_INTERVAL_SECONDS", 1.0, number(ge=0, le=60)
    )

    def digest_topic_list(self) -> list[str]:
        """DIGEST_TOPICS as a list (empty: every topic)."""
        return _words(self.digest_topics)

    def digest_exclude_topic_list(self) -> list[str]:
        """DIGEST_EXCLUDE_TOPICS as a list."""
        return _words(self.digest_exclude_topics)

    def pipeline_version(self, chosen: str | None = None) -> str:
        """The pipeline version a command works on: `--pipeline-version`, else the setting."""
        return chosen or self.extraction_pipeline_version

    def breaking_min_importance_for(self, queue: str) -> float:
        """The routing threshold of a breaking queue (its own override, else the common one)."""
        override = {
            "breaking_15m": self.breaking_min_importance_15m,
            "breaking_1h": self.breaking_min_importance_1h,
            "breaking_4h": self.breaking_min_importance_4h,
        }.get(queue)
        return self.breaking_min_importance if override is None else override

    @property
    def home(self) -> Path:
        """CIVICQUANT_HOME with `~` expanded."""
        return self.civicquant_home.expanduser()

    def job_intervals(self, routes: Mapping[str, int] | None = None) -> dict[str, int]:
        """Expected success interval per monitored job: the defaults, then the routes' own
        (`digest:NAME` at its cadence), overridden by HEALTH_JOB_INTERVALS."""
        return {**DEFAULT_JOB_INTERVALS, **(routes or {}), **self.health_job_intervals}

    def secret_values(self) -> list[str]:
        """The values to scrub from every log line and error message."""
        values = [
            secret.get_secret_value()
            for secret in (
                self.tg_api_hash,
                self.tg_session_string,
                self.llm_api_key,
                self.tg_bot_token,
            )
            if secret is not None
        ]
        if self.database_url:
            from psycopg.conninfo import conninfo_to_dict

            try:
                password = conninfo_to_dict(self.database_url).get("password")
            except Exception:  # unparsable: still find the password the usual way
                found = re.search(r"://[^/@:]*:([^@/]*)@", self.database_url)
                password = found.group(1) if found else None
            if password:
                values.append(str(password))
        return [value for value in values if value]

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first of these env variables that is unset or empty."""
        attributes = {name: spec.name for spec in fields(self) for name in _variable_of(spec).names}
        for name in names:
            value = getattr(self, attributes[name])
            if value is None or value == "" or (isinstance(value, Secret) and not value):
                raise ConfigError(f"{name} is not set; this command needs it (see .env.example)")


def _words(value: str) -> list[str]:
    return [item.strip().lower() for item in value.replace(";", ",").split(",") if item.strip()]


# Settings civicquant no longer reads, each with what replaced it. An env file that still
# sets one works on: the jobs that log warn once per run (`setting_retired`).
RETIRED_SETTINGS = {
    "LPA_MAX_AGE_HOURS": (
        "listen no longer caps its catch-up: it reads everything since the high-water mark "
        "(see CATCHUP_CHUNK_HOURS); remove it from the env file"
    ),
}


def retired_settings() -> dict[str, str]:
    """The retired settings the environment or the env file still sets, with what replaced them."""
    sources = (_upper_keys(os.environ), _read_env_file(env_file()))
    return {
        name: why
        for name, why in RETIRED_SETTINGS.items()
        if any(name in source for source in sources)
    }


def variable_names() -> list[str]:
    """The environment variable of every setting (aliases left out), in table order."""
    return [_variable_of(spec).names[0] for spec in fields(Settings)]


# -- reading ---------------------------------------------------------------------------------


def env_file() -> Path | None:
    """The env file to read: CIVICQUANT_ENV_FILE, else ./.env when it exists."""
    explicit = os.environ.get("CIVICQUANT_ENV_FILE")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"CIVICQUANT_ENV_FILE={explicit}: no such file")
        return path
    default = Path(".env")
    return default if default.is_file() else None


def load_settings() -> Settings:
    """Read settings; every invalid variable is found, the first named in one line."""
    sources = (_upper_keys(os.environ), _read_env_file(env_file()))
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in fields(Settings):
        variable = _variable_of(spec)
        found = _lookup(variable.names, sources)
        if found is None:
            continue
        name, text = found
        try:
            values[spec.name] = variable.parse(text)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(problems[0] + suffix)
    return Settings(**values)


def _lookup(names: tuple[str, ...], sources: Iterable[Mapping[str, str]]) -> tuple[str, str] | None:
    # Sources in priority order; within one, the main name before its alias.
    for source in sources:
        for name in names:
            if name in source:
                return name, source[name]
    return None


def _upper_keys(variables: Mapping[str, str | None]) -> dict[str, str]:
    return {name.upper(): value for name, value in variables.items() if value is not None}


def _read_env_file(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        # A bare `NAME` line (no `=`) reads as None: unset, like a commented one.
        return _upper_keys(dotenv_values(path, encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"env file {path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"env file {path}: {exc.strerror or 'cannot be read'}") from None
