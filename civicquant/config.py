"""Settings: one pydantic-settings model read from the environment and an optional env file.

The env file is `CIVICQUANT_ENV_FILE` when set (cron sets it), else `.env` in the working
directory when present. Secrets are SecretStr: their values never reach a repr, a log line
or an error message.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from civicquant.errors import ConfigError

DEFAULT_HOME = Path("~/.local/share/civicquant")

# How often each monitored job is expected to succeed, in minutes; matches cron/civicquant.crontab.
DEFAULT_JOB_INTERVALS: dict[str, int] = {
    "listen": 60,
    "extract": 1,
    "digest:vip": 240,
    "digest:breaking_15m": 15,
    "digest:breaking_1h": 60,
    "digest:breaking_4h": 240,
    "prune": 1440,
}


class Settings(BaseSettings):
    """Every setting civicquant reads; `.env.example` documents each with its default."""

    model_config = SettingsConfigDict(
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=False,
        hide_input_in_errors=True,
    )

    # Database
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    civicquant_home: Path = Field(default=DEFAULT_HOME, alias="CIVICQUANT_HOME")
    db_prepared_statements: bool = Field(default=True, alias="DB_PREPARED_STATEMENTS")
    db_connect_timeout_seconds: int = Field(default=10, ge=1, alias="DB_CONNECT_TIMEOUT_SECONDS")

    # Logs
    log_format: Literal["auto", "json", "console"] = Field(default="auto", alias="LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL"
    )

    # Leases and monitoring
    lease_ttl_seconds: int = Field(default=60, ge=1, alias="LEASE_TTL_SECONDS")
    health_grace_minutes: int = Field(default=5, ge=0, alias="HEALTH_GRACE_MINUTES")
    health_job_intervals: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, alias="HEALTH_JOB_INTERVALS"
    )
    channel_stale_minutes: int = Field(default=720, ge=1, alias="CHANNEL_STALE_MINUTES")
    health_queue_max_age_minutes: int = Field(
        default=30, ge=1, alias="HEALTH_QUEUE_MAX_AGE_MINUTES"
    )
    health_max_dead_jobs: int = Field(default=0, ge=0, alias="HEALTH_MAX_DEAD_JOBS")
    health_max_flood_waits: int = Field(default=50, ge=0, alias="HEALTH_MAX_FLOOD_WAITS")
    health_reserved_minutes: int = Field(default=10, ge=1, alias="HEALTH_RESERVED_MINUTES")

    # Telegram reading (Telethon)
    tg_api_id: int | None = Field(default=None, alias="TG_API_ID")
    tg_api_hash: SecretStr | None = Field(default=None, alias="TG_API_HASH")
    tg_session: Path | None = Field(default=None, alias="TG_SESSION")
    tg_session_string: SecretStr | None = Field(default=None, alias="TG_SESSION_STRING")
    tg_session_recovery: Path | None = Field(default=None, alias="TG_SESSION_RECOVERY")
    tg_source_channels: str = Field(
        default="",
        validation_alias=AliasChoices("TG_SOURCE_CHANNELS", "TG_SOURCE_CHANNEL"),
    )
    floodwait_max_seconds: int = Field(default=300, ge=0, alias="FLOODWAIT_MAX_SECONDS")
    lpa_max_age_hours: int = Field(default=72, ge=1, alias="LPA_MAX_AGE_HOURS")

    # Extraction
    extraction_pipeline_version: str = Field(default="v1", alias="EXTRACTION_PIPELINE_VERSION")
    extraction_queue_enabled: bool = Field(default=True, alias="EXTRACTION_QUEUE_ENABLED")
    extract_max_attempts: int = Field(default=5, ge=1, alias="EXTRACT_MAX_ATTEMPTS")
    extract_lease_seconds: float = Field(default=120.0, ge=1, alias="EXTRACT_LEASE_SECONDS")
    llm_provider: Literal["rules", "openai"] = Field(default="rules", alias="LLM_PROVIDER")
    llm_api_url: str = Field(default="https://api.openai.com/v1", alias="LLM_API_URL")
    llm_api_key: SecretStr | None = Field(default=None, alias="LLM_API_KEY")
    llm_model_name: str = Field(default="gpt-4o-mini", alias="LLM_MODEL_NAME")
    llm_timeout_seconds: float = Field(default=60.0, gt=0, alias="LLM_TIMEOUT_SECONDS")
    llm_max_concurrency: int = Field(default=8, ge=1, alias="LLM_MAX_CONCURRENCY")
    llm_system_prompt_file: Path | None = Field(default=None, alias="LLM_SYSTEM_PROMPT_FILE")
    llm_system_prompt_text: str | None = Field(default=None, alias="LLM_SYSTEM_PROMPT_TEXT")

    # Publishing (Bot API)
    tg_bot_token: SecretStr | None = Field(default=None, alias="TG_BOT_TOKEN")
    tg_vip_chat_id: str | None = Field(default=None, alias="TG_VIP_CHAT_ID")
    tg_ops_chat_id: str | None = Field(default=None, alias="TG_OPS_CHAT_ID")
    tg_bot_api_url: str | None = Field(default=None, alias="TG_BOT_API_URL")

    # Retention (prune)
    prune_job_runs_days: int = Field(default=30, ge=1, alias="PRUNE_JOB_RUNS_DAYS")
    prune_extraction_jobs_days: int = Field(default=30, ge=1, alias="PRUNE_EXTRACTION_JOBS_DAYS")
    prune_published_posts_days: int = Field(default=90, ge=1, alias="PRUNE_PUBLISHED_POSTS_DAYS")

    # Digests and alerts
    vip_digest_hours: float = Field(default=4, gt=0, le=24, alias="VIP_DIGEST_HOURS")
    digest_topics: str = Field(default="", alias="DIGEST_TOPICS")
    digest_exclude_topics: str = Field(default="", alias="DIGEST_EXCLUDE_TOPICS")
    breaking_min_importance: float = Field(default=0.6, ge=0, le=1, alias="BREAKING_MIN_IMPORTANCE")
    breaking_min_importance_15m: float | None = Field(
        default=None, ge=0, le=1, alias="BREAKING_MIN_IMPORTANCE_15M"
    )
    breaking_min_importance_1h: float | None = Field(
        default=None, ge=0, le=1, alias="BREAKING_MIN_IMPORTANCE_1H"
    )
    breaking_min_importance_4h: float | None = Field(
        default=None, ge=0, le=1, alias="BREAKING_MIN_IMPORTANCE_4H"
    )
    flash_min_importance: float = Field(default=0.85, ge=0, le=1, alias="FLASH_MIN_IMPORTANCE")
    alert_after_failures: int = Field(default=3, ge=1, alias="ALERT_AFTER_FAILURES")
    digest_part_interval_seconds: float = Field(
        default=1.0, ge=0, le=60, alias="DIGEST_PART_INTERVAL_SECONDS"
    )

    @field_validator("health_job_intervals", mode="before")
    @classmethod
    def _intervals_from_text(cls, value: Any) -> Any:
        # Accept JSON ('{"listen": 60}') or the crontab-friendly 'listen=60,extract=1'.
        if isinstance(value, str) and value.strip().startswith("{"):
            return json.loads(value)
        if isinstance(value, str):
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("expected job=minutes pairs, e.g. 'listen=60,extract=1'")
            return {name.strip(): minutes.strip() for name, minutes in pairs}
        return value

    def digest_topic_list(self) -> list[str]:
        """DIGEST_TOPICS as a list (empty: every topic)."""
        return _words(self.digest_topics)

    def digest_exclude_topic_list(self) -> list[str]:
        """DIGEST_EXCLUDE_TOPICS as a list."""
        return _words(self.digest_exclude_topics)

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

    def job_intervals(self) -> dict[str, int]:
        """Expected success interval per monitored job, defaults overridden by settings."""
        return {**DEFAULT_JOB_INTERVALS, **self.health_job_intervals}

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
        """Raise ConfigError naming the first of these env variables that is unset."""
        fields = type(self).model_fields
        for name in names:
            attr = next(key for key, info in fields.items() if info.alias == name)
            value = getattr(self, attr)
            if value is None or value == "":
                raise ConfigError(f"{name} is not set; this command needs it (see .env.example)")


def _words(value: str) -> list[str]:
    return [item.strip().lower() for item in value.replace(";", ",").split(",") if item.strip()]


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
    """Read settings, turning the first validation problem into one line naming the variable."""
    try:
        return Settings(_env_file=env_file())  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def _describe(exc: ValidationError) -> str:
    aliases = {name: info.alias or name for name, info in Settings.model_fields.items()}
    first = exc.errors()[0]
    location = first.get("loc") or ("?",)
    name = aliases.get(str(location[0]), str(location[0]))
    message = first.get("msg", "invalid value")
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{name}: {message}{suffix}"
