"""The composition root: Settings in, the adapters each command runs with out.

Only `civicquant.cli` imports this module. It is the one place that knows which concrete
Telegram reader, Bot API publisher and extraction provider stand behind the seams
(`ingest.reader.ChannelReader`, `publish.publisher.Publisher`, `extract.providers.Provider`),
and which hooks follow a run. The stages never import each other: what one stage needs of
another (the extract worker's flash alerts, the runner's failure alerts) arrives from here
as a callable.

Every heavy import (telethon, python-telegram-bot, httpx, the rules' compiled patterns)
happens inside the factory that needs it, so `civicquant --help` and `health` start fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from civicquant.config import Settings
from civicquant.errors import ConfigError
from civicquant.runtime import runner
from civicquant.runtime.context import JobContext

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from civicquant.extract.providers import Provider
    from civicquant.extract.worker import AfterCommit
    from civicquant.ingest.reader import ChannelReader, FloodWaitPolicy
    from civicquant.publish.publisher import Publisher

T = TypeVar("T")


# -- adapters -------------------------------------------------------------------------


def make_publisher(settings: Settings, *, dry_run: bool = False) -> Publisher:
    """Return a DryRunPublisher, or a BotPublisher for TG_BOT_TOKEN (ConfigError if unset).

    The Bot API adapter (and python-telegram-bot with it) is imported only here, and only
    when a real bot is asked for. TG_BOT_API_URL selects a self-hosted Bot API server;
    FLOODWAIT_MAX_SECONDS caps how long a flood wait may hold the run.
    """
    if dry_run:
        from civicquant.publish.publisher import DryRunPublisher

        return DryRunPublisher()
    settings.require("TG_BOT_TOKEN")
    assert settings.tg_bot_token is not None  # checked by require()

    from civicquant.telegram.bot_api import BotPublisher

    return BotPublisher(
        settings.tg_bot_token.get_secret_value(),
        base_url=settings.tg_bot_api_url,
        max_flood_wait_seconds=settings.floodwait_max_seconds,
    )


# Where LLM_API_URL points by default: OpenAI's own API, which refuses every call without a key.
OPENAI_API_HOST = "api.openai.com"


def require_provider(settings: Settings) -> None:
    """Refuse, before any job runs, an LLM provider that could not answer one call.

    `LLM_PROVIDER=openai` with no LLM_API_KEY for OpenAI's own endpoint would fail every
    job (and retry each until it is dead); a local server (another LLM_API_URL) may need no key.
    """
    from urllib.parse import urlsplit

    if settings.llm_provider != "openai":
        return
    host = (urlsplit(settings.llm_api_url).hostname or "").lower()
    if host == OPENAI_API_HOST and not settings.llm_api_key:
        raise ConfigError(
            f"LLM_PROVIDER=openai needs LLM_API_KEY for {settings.llm_api_url} "
            "(or LLM_API_URL for a server that takes no key)"
        )


def make_provider(settings: Settings, *, max_connections: int | None = None) -> Provider:
    """The provider LLM_PROVIDER names, built from the LLM_* settings.

    Only that provider's module is imported: the rules (their patterns are compiled at
    import) or the LLM client with httpx. The LLM client's pool holds `max_connections`
    connections, by default LLM_MAX_CONCURRENCY; pass the caller's own concurrency when it
    differs, so no call waits for a free connection.
    """
    if settings.llm_provider == "rules":
        from civicquant.extract.providers import RulesAdapter

        return RulesAdapter()
    from civicquant.extract import llm

    return llm.OpenAICompatibleProvider(
        settings.llm_api_url,
        settings.llm_api_key,
        settings.llm_model_name,
        settings.llm_timeout_seconds,
        llm.load_system_prompt(settings),
        max_connections=max_connections or settings.llm_max_concurrency,
    )


def telegram_reader(
    settings: Settings, flood: FloodWaitPolicy, *, recovery: bool = False
) -> AbstractAsyncContextManager[ChannelReader]:
    """A Telethon reader over the session the command uses (see `telegram.sessions`)."""
    from civicquant.telegram import sessions

    return sessions.telegram_reader(settings, flood, recovery=recovery)


def flash_alerts(ctx: JobContext) -> AfterCommit:
    """The extract worker's after-commit hook: a background drainer of the flash outbox,
    on a connection of its own, that sends each newly breaking event's alert."""
    from civicquant.publish.flash import FlashDrainer

    return FlashDrainer(
        ctx.settings,
        lambda: ctx.db.open_sibling("civicquant extract flash"),
        ctx.run_id,
        make_publisher,
    )


# -- running a job --------------------------------------------------------------------


def finish_hooks() -> list[runner.FinishHook]:
    """What follows every recorded run: the ops chat's failure and recovery alerts."""
    from civicquant.ops.failure_alerts import FailureAlerts

    return [FailureAlerts(make_publisher)]


def run_job(
    settings: Settings,
    job_name: str,
    body: Callable[[JobContext], T],
    *,
    lease: str | None = None,
    cooperative: bool = False,
    interruptible: bool = False,
) -> runner.JobOutcome[T]:
    """`runner.run_job` with this installation's finish hooks."""
    return runner.run_job(
        settings,
        job_name,
        body,
        lease=lease,
        cooperative=cooperative,
        interruptible=interruptible,
        on_finish=finish_hooks(),
    )
