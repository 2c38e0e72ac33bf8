"""The Bot API adapter: a Publisher backed by python-telegram-bot's `telegram.Bot`.

Import this module inside the command that posts, never at the top of the CLI: it imports
python-telegram-bot, and `civicquant --help` and `civicquant health` must start fast.
`civicquant.publish.publisher.make_publisher` does that import.

Error translation happens here and nowhere else:

* a flood wait (HTTP 429, `RetryAfter`) is waited out for exactly as long as Telegram
  asks, then the call is repeated;
* failures before the request went out (connection refused, no connection within the
  connect or pool timeout) are retried with exponential backoff, up to `max_retries`
  times, then raise TransientPublishError;
* refusals (400 bad request, 401 token rejected, 403 forbidden) raise PublishError at
  once, one line naming the chat and Telegram's reason;
* for `sendMessage`, anything after the request may have reached Telegram (a read or
  write timeout, a reset connection, a body cut short, a 5xx answer, a 200 that is not
  JSON) raises PublishOutcomeUnknown at once, never a retry: the message may already be
  in the chat. `getMe` changes nothing, so it is retried like a failure before sending.

python-telegram-bot and httpx put the request URL, and with it the bot token, into some
messages (`Bot.initialize` even quotes the token when it is rejected). Every message
raised from here is built here, scrubbed of the token, and a library exception whose
text holds the token is not chained.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final, TypeVar
from urllib.parse import urlsplit

import httpx
import structlog
from telegram import Bot, LinkPreviewOptions
from telegram import error as tg_error
from telegram.constants import ParseMode
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from civicquant.errors import ConfigError, FloodWaitTooLong
from civicquant.publish.publisher import (
    PublishError,
    PublishOutcomeUnknown,
    SentMessage,
    TransientPublishError,
)
from civicquant.redaction import REDACTED, redact

__all__ = ["DEFAULT_API_URL", "BotPublisher", "bot_api_base_url"]

log = structlog.stdlib.get_logger(__name__)

# Since v22.2 python-telegram-bot moves time periods (RetryAfter.retry_after among them)
# from int seconds to timedelta. Until a process opts in with PTB_TIMEDELTA=true, every
# read of such an attribute warns (PTBDeprecationWarning), and RetryAfter reads its own
# in __init__, so each 429 would warn inside PTB whatever we do. We opt in to the
# documented future behaviour rather than filter the warning; an explicit setting wins,
# and _retry_after_seconds handles both types. PTB reads the variable on each access.
os.environ.setdefault("PTB_TIMEDELTA", "true")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_API_URL: Final = "https://api.telegram.org"
# python-telegram-bot appends the token to its base_url; Bot API paths are /bot<token>/<method>.
_BOT_PATH: Final = "/bot"
# A URL that already carries a token (".../bot123456:AA...") must not be echoed in errors.
_TOKEN_IN_PATH: Final = re.compile(r"/bot[0-9]+:")
_MAX_REASON_CHARS: Final = 300
# httpx failures raised before any byte of the request left: safe to send again.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# How long `sendMessage` waits for Telegram's answer (PTB's default read timeout).
DEFAULT_READ_TIMEOUT: Final = 5.0

# python-telegram-bot logs an answer it cannot parse (a proxy's HTML 502 page, 6 KB) whole,
# with a traceback, at ERROR; the retry or the error we raise already says it in one line.
_PTB_REQUEST_LOGGER: Final = "telegram.request.BaseRequest"
_UNPARSED_ANSWER: Final = "Can not load invalid JSON data"
_DEBUG_PAGE_CHARS: Final = 200


class _UnparsedAnswerFilter(logging.Filter):
    """PTB's record of an unreadable answer: dropped, or at DEBUG shortened, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_UNPARSED_ANSWER):
            return True
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            return False
        page = " ".join(str(record.args[0] if record.args else "").split())  # type: ignore[index]
        record.msg = f"{_UNPARSED_ANSWER} (first {_DEBUG_PAGE_CHARS} characters): %s"
        record.args = (page[:_DEBUG_PAGE_CHARS],)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return True


logging.getLogger(_PTB_REQUEST_LOGGER).addFilter(_UnparsedAnswerFilter())


def bot_api_base_url(api_url: str | None) -> str:
    """Return python-telegram-bot's `base_url` for TG_BOT_API_URL (None: Telegram's own).

    PTB's convention is the URL up to and including `/bot`, the token appended
    (`https://api.telegram.org/bot`). TG_BOT_API_URL may be given the way a self-hosted
    `telegram-bot-api` server is usually addressed, its root (`http://127.0.0.1:8081`,
    optionally with a path prefix behind a proxy): `/bot` is added. A URL already ending
    in `/bot`, or holding PTB's `{token}` placeholder, is used as it is.
    """
    if api_url is None or not api_url.strip():
        return DEFAULT_API_URL + _BOT_PATH
    url = api_url.strip()
    if _TOKEN_IN_PATH.search(url):
        # Said without echoing the URL: it contains the token.
        raise ConfigError(
            "TG_BOT_API_URL must not contain the bot token; give the server's root "
            "(e.g. http://127.0.0.1:8081) and set TG_BOT_TOKEN"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"TG_BOT_API_URL={redact(url)!r} is not an http(s) URL "
            "(expected e.g. http://127.0.0.1:8081)"
        )
    if "{" in url:  # PTB's {token} placeholder: the caller placed the token explicitly
        return url
    url = url.rstrip("/")
    return url if url.endswith(_BOT_PATH) else url + _BOT_PATH


class _Retry(Exception):
    """One attempt failed in a way worth repeating; `flood_wait` is Telegram's requested wait."""

    def __init__(self, reason: str, *, flood_wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.flood_wait = flood_wait


class BotPublisher:
    """Publisher over the Telegram Bot API (python-telegram-bot), for one bot token.

    The Bot is initialised (one `getMe`) on the first `send`, and `aclose` shuts it
    down. `max_retries` bounds the repeats of one call, flood waits included; waits
    between repeats go through `sleep`, so tests can record them instead of sleeping.
    `max_flood_wait_seconds` (FLOODWAIT_MAX_SECONDS) makes a longer flood wait raise
    FloodWaitTooLong rather than hold a cron run; None waits as long as Telegram asks.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        max_retries: int = 5,
        sleep: Sleep = asyncio.sleep,
        max_flood_wait_seconds: int | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if not token:
            raise ConfigError("TG_BOT_TOKEN is empty; set it to the token @BotFather gave")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self._token = token
        self._bot = Bot(token, base_url=bot_api_base_url(base_url))
        self._max_retries = max_retries
        self._sleep = sleep
        self._max_flood_wait = max_flood_wait_seconds
        self._backoff = wait_exponential(multiplier=1, min=1, max=30)
        self._read_timeout = read_timeout
        self._initialized = False

    async def send(self, chat_id: str, html: str) -> SentMessage:
        """Post `html` to `chat_id` with parse mode HTML and link previews off.

        Raises PublishError (refused), TransientPublishError (not sent after retries),
        PublishOutcomeUnknown (perhaps sent, the answer lost) or FloodWaitTooLong (asked
        to wait longer than allowed).
        """
        if not self._initialized:
            await self._call(chat_id, self._bot.initialize, sends=False)
            self._initialized = True
        message = await self._call(
            chat_id,
            functools.partial(
                self._bot.send_message,
                chat_id=chat_id,
                text=html,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                read_timeout=self._read_timeout,
            ),
            sends=True,
        )
        log.info("telegram_message_sent", chat_id=chat_id, message_id=message.message_id)
        return SentMessage(chat_id=chat_id, message_id=message.message_id)

    async def aclose(self) -> None:
        """Shut the Bot's HTTP clients down; safe to call twice or before any send."""
        self._initialized = False
        await self._bot.shutdown()

    async def _call(self, chat_id: str, operation: Callable[[], Awaitable[T]], *, sends: bool) -> T:
        """Run `operation`, waiting out flood waits and retrying failures before sending.

        `sends`: the operation posts a message, so a failure after the request went out is
        PublishOutcomeUnknown rather than a retry.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retry),
            stop=stop_after_attempt(self._max_retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=functools.partial(_log_retry, chat_id),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(chat_id, operation, sends=sends)
        except RetryError as gave_up:
            last = gave_up.last_attempt.exception()
            reason = last.reason if isinstance(last, _Retry) else type(last).__name__
            raise TransientPublishError(
                f"Telegram did not take the post for chat {chat_id} after "
                f"{gave_up.last_attempt.attempt_number} attempts: {reason}"
            ) from last
        raise AssertionError("unreachable: tenacity returns, raises or gives up")

    async def _attempt(
        self, chat_id: str, operation: Callable[[], Awaitable[T]], *, sends: bool
    ) -> T:
        """Run `operation` once, translating python-telegram-bot's errors into ours."""
        refused = f"Telegram refused to post to chat {chat_id}"
        try:
            return await operation()
        except tg_error.RetryAfter as exc:
            seconds = _retry_after_seconds(exc)
            if self._max_flood_wait is not None and seconds > self._max_flood_wait:
                log.warning(
                    "telegram_flood_wait_too_long",
                    chat_id=chat_id,
                    seconds=seconds,
                    max_seconds=self._max_flood_wait,
                )
                raise FloodWaitTooLong(math.ceil(seconds), self._max_flood_wait) from None
            raise _Retry(
                f"flood control, Telegram asked to wait {seconds:g}s", flood_wait=seconds
            ) from None
        except tg_error.InvalidToken as exc:
            # Bot.initialize quotes the token in its message: never repeat PTB's text here.
            raise PublishError(
                f"{refused}: Unauthorized (Telegram rejected TG_BOT_TOKEN)"
            ) from self._safe_cause(exc)
        except tg_error.ChatMigrated as exc:
            raise PublishError(
                f"{refused}: the group became a supergroup, its new chat id is {exc.new_chat_id}"
            ) from self._safe_cause(exc)
        except (
            tg_error.BadRequest,
            tg_error.Forbidden,
            tg_error.Conflict,
            tg_error.EndPointNotFound,
        ) as exc:
            raise PublishError(f"{refused}: {self._describe(exc)}") from self._safe_cause(exc)
        except tg_error.TelegramError as exc:
            # NetworkError and TimedOut (connection trouble, 5xx answers) and unreadable
            # answers: another attempt only if the request cannot have reached Telegram.
            if sends and not isinstance(exc.__cause__, _NOT_SENT):
                log.warning("telegram_outcome_unknown", chat_id=chat_id, reason=self._describe(exc))
                raise PublishOutcomeUnknown(
                    f"no answer from Telegram for the post to chat {chat_id}, which may have "
                    f"been delivered: {self._describe(exc)}"
                ) from self._safe_cause(exc)
            raise _Retry(self._describe(exc)) from self._safe_cause(exc)

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: Telegram's flood wait, else exponential backoff."""
        failure = state.outcome.exception() if state.outcome is not None else None
        if isinstance(failure, _Retry) and failure.flood_wait is not None:
            return failure.flood_wait
        return float(self._backoff(state))

    def _describe(self, exc: tg_error.TelegramError) -> str:
        """Telegram's reason, as Telegram words it, on one line and without the token."""
        reason = exc.message
        if isinstance(exc, tg_error.BadRequest):
            # PTB strips Telegram's "Bad Request: " prefix and capitalises the rest.
            reason = f"Bad Request: {reason[:1].lower()}{reason[1:]}"
        # An unreadable error page (a proxy's HTML 502) is quoted whole by PTB: keep the status.
        reason = reason.split(". Parsing the server response", 1)[0]
        reason = redact(reason.replace(self._token, REDACTED))
        reason = " ".join(reason.split())
        if len(reason) > _MAX_REASON_CHARS:
            reason = reason[: _MAX_REASON_CHARS - 1] + "…"
        return reason or type(exc).__name__

    def _safe_cause(self, exc: BaseException) -> BaseException | None:
        """`exc` to chain from, or None when its text (or its causes') holds the token."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if self._token in str(current) or self._token in repr(current.args):
                return None
            current = current.__cause__ or current.__context__
        return exc


def _retry_after_seconds(exc: tg_error.RetryAfter) -> float:
    """Telegram's requested wait in seconds, whether PTB reports a timedelta or an int."""
    value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _log_retry(chat_id: str, state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    log.warning(
        "telegram_publish_retrying",
        chat_id=chat_id,
        attempt=state.attempt_number,
        wait_seconds=state.next_action.sleep if state.next_action is not None else None,
        reason=failure.reason if isinstance(failure, _Retry) else repr(failure),
    )
