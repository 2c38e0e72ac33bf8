"""The LLM extraction provider: any server speaking the OpenAI Chat Completions protocol.

OpenAI, OpenRouter, vLLM, Ollama and the llama.cpp server all accept a POST to
`{LLM_API_URL}/chat/completions` with a system and a user message and a strict
`json_schema` response format built from `Extraction.model_json_schema()`. The answer's
`choices[0].message.content` is parsed as JSON and validated as an `Extraction`.

Rate limits (429, honouring Retry-After), 408, 5xx, timeouts and connection errors are
retried with tenacity; any other 4xx fails at once. The API key lives only in the
client's Authorization header: it is scrubbed from every message this module builds, and
never reaches a repr or a log line.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import resources
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
import structlog
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from civicquant import redaction
from civicquant.errors import ConfigError
from civicquant.extract.providers import (
    ExtractionValidationError,
    ProviderError,
    ProviderResult,
    fingerprint,
)
from civicquant.extraction import Extraction

if TYPE_CHECKING:
    from civicquant.config import Secret, Settings

__all__ = ["OpenAICompatibleProvider", "default_system_prompt", "load_system_prompt"]

log = structlog.get_logger("civicquant.extract.llm")

Sleep = Callable[[float], Awaitable[None]]

# A provider's error text is quoted in our messages, but only its first line, and briefly.
_MESSAGE_MAX_CHARS = 300
_PREVIEW_MAX_CHARS = 80
# PostgreSQL text and jsonb refuse NUL and unpaired surrogates: one in an answer failed the
# transaction of its whole batch. They carry nothing, so they are dropped from the answer.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
_FENCED_RE = re.compile(r"```(?:json|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)


class _TransientError(ProviderError):
    """A failure worth retrying; `retry_after` is the wait the server asked for, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OpenAICompatibleProvider:
    """Extracts with a chat model over HTTP; one pooled client, safe to call concurrently.

    `max_retries` counts retries after the first attempt. `transport` replaces httpx's
    default transport (then `max_connections` no longer applies); `sleep` replaces
    `asyncio.sleep` between retries.
    """

    def __init__(
        self,
        api_url: str,
        api_key: Secret | None,
        model: str,
        timeout_seconds: float,
        system_prompt: str,
        *,
        max_retries: int = 4,
        max_connections: int = 8,
        max_retry_after_seconds: float = 60.0,
        backoff_initial_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.name = "openai"
        self.model = model
        self._system_prompt = system_prompt
        self._schema = Extraction.model_json_schema()
        self.prompt_fingerprint = fingerprint(
            system_prompt, json.dumps(self._schema, sort_keys=True, separators=(",", ":"))
        )
        self._url = api_url.rstrip("/") + "/chat/completions"
        self._shown_url = _checked_url(self._url)
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after_seconds
        self._backoff_initial = backoff_initial_seconds
        self._backoff_max = backoff_max_seconds
        self._sleep = sleep
        # Kept as a Secret so even vars(provider) shows no key.
        self._api_key = api_key
        key = api_key.get_secret_value() if api_key is not None else ""
        headers = {"Accept": "application/json", "User-Agent": "civicquant"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider(url={self._shown_url!r}, model={self.model!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def extract(self, text: str) -> ProviderResult:
        """The model's `Extraction` of `text`; latency covers retries and their waits."""
        started = time.perf_counter()
        answer = await self._post_with_retries(self._request(text))
        extraction = self._extraction(answer)
        latency_ms = (time.perf_counter() - started) * 1000
        usage = answer.get("usage")
        return ProviderResult(
            extraction,
            latency_ms,
            prompt_tokens=_token_count(usage, "prompt_tokens"),
            completion_tokens=_token_count(usage, "completion_tokens"),
        )

    def _request(self, text: str) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": self._system_prompt},
                {"role": "user", "content": text},
            ],
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "extraction", "strict": True, "schema": self._schema},
            },
        }

    async def _post_with_retries(self, request: dict[str, Any]) -> dict[str, Any]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_TransientError),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._post(request)
        except _TransientError as exc:
            attempts = self._max_retries + 1
            raise ProviderError(
                f"{exc} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _post(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request: the decoded answer, or a (transient) ProviderError."""
        try:
            response = await self._client.post(self._url, json=request)
        except httpx.TimeoutException as exc:
            raise _TransientError(
                f"{self._shown_url} timed out after {self._timeout_seconds:g}s "
                f"({type(exc).__name__})"
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise _TransientError(
                f"cannot reach {self._shown_url}: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"request to {self._shown_url} failed: {type(exc).__name__}: "
                f"{self._scrub(str(exc))}"
            ) from exc

        status = response.status_code
        if status == 429:
            raise _TransientError(
                f"{self._shown_url} answered 429 (rate limited): {self._error_text(response)}",
                retry_after=_retry_after_seconds(response.headers),
            )
        if status == 408 or status >= 500:
            raise _TransientError(
                f"{self._shown_url} answered {status}: {self._error_text(response)}"
            )
        if not 200 <= status < 300:
            raise ProviderError(
                f"{self._shown_url} answered {status}: {self._error_text(response)}"
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise ProviderError(
                f"{self._shown_url} answered {status} with a body that is not JSON: "
                f"{self._preview(response.text)}"
            ) from exc
        if not isinstance(answer, dict):
            raise ProviderError(
                f"{self._shown_url} answered a JSON {type(answer).__name__}, "
                "not a Chat Completions object"
            )
        return answer

    def _extraction(self, answer: dict[str, Any]) -> Extraction:
        """The answer's message content validated as an Extraction."""
        try:
            choice = answer["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(
                f"{self._shown_url} answered without choices[0].message; "
                "is LLM_API_URL a Chat Completions endpoint?"
            ) from None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal") if isinstance(message, dict) else None
            if isinstance(refusal, str) and refusal.strip():
                raise ExtractionValidationError(
                    f"the model refused to answer: {self._first_line(refusal)}"
                )
            raise ExtractionValidationError("the answer has no message content")

        try:
            data = json.loads(_unfenced(content))
        except json.JSONDecodeError as exc:
            cut_off = (
                " (the answer was cut off: finish_reason=length)"
                if isinstance(choice, dict) and choice.get("finish_reason") == "length"
                else ""
            )
            raise ExtractionValidationError(
                f"the answer is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
                f"{cut_off}: {self._preview(content)}"
            ) from exc
        try:
            return Extraction.model_validate(_storable(data))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            first = errors[0]
            where = ".".join(str(part) for part in first["loc"]) or "answer"
            more = len(errors) - 1
            suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise ExtractionValidationError(
                f"the answer is not a valid Extraction: {where}: "
                f"{self._scrub(first['msg'])}{suffix}"
            ) from exc

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server sent one (capped), else exponential backoff."""
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _TransientError) and error.retry_after is not None:
            return min(error.retry_after, self._max_retry_after)
        # Exponential, plus up to one initial step of jitter so parallel callers spread out.
        exponential = self._backoff_initial * 2.0 ** (state.attempt_number - 1)
        return min(exponential, self._backoff_max) + random.uniform(0, self._backoff_initial)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "llm_request_retrying",
            url=self._shown_url,
            model=self.model,
            attempt=state.attempt_number,
            wait_seconds=round(state.next_action.sleep, 3) if state.next_action else None,
            error=str(error),
        )

    def _error_text(self, response: httpx.Response) -> str:
        """The first line of the provider's error message, whatever shape the body has."""
        text = response.text
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        message: Any = body
        if isinstance(message, dict):
            message = message.get("error", message.get("message", message.get("detail")))
        if isinstance(message, dict):
            message = message.get("message")
        if not isinstance(message, str) or not message.strip():
            message = text
        return self._first_line(message) or response.reason_phrase or "(no message)"

    def _first_line(self, text: str) -> str:
        line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if len(line) > _MESSAGE_MAX_CHARS:
            line = line[: _MESSAGE_MAX_CHARS - 3] + "..."
        return self._scrub(line)

    def _preview(self, text: str) -> str:
        shown = text if len(text) <= _PREVIEW_MAX_CHARS else text[:_PREVIEW_MAX_CHARS] + "..."
        return self._scrub(repr(shown))

    def _scrub(self, text: str) -> str:
        """`text` with the API key replaced, should a server or proxy ever echo it."""
        key = self._api_key.get_secret_value() if self._api_key is not None else ""
        return text.replace(key, "[REDACTED]") if key else text


def load_system_prompt(settings: Settings) -> str:
    """LLM_SYSTEM_PROMPT_FILE's text, else LLM_SYSTEM_PROMPT_TEXT, else the shipped prompt."""
    path = settings.llm_system_prompt_file
    text = settings.llm_system_prompt_text
    if path is not None and text:
        raise ConfigError(
            "LLM_SYSTEM_PROMPT_FILE and LLM_SYSTEM_PROMPT_TEXT are both set; set only one"
        )
    if path is not None:
        try:
            prompt = path.expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"LLM_SYSTEM_PROMPT_FILE={path}: cannot read it ({reason})") from exc
        if not prompt.strip():
            raise ConfigError(f"LLM_SYSTEM_PROMPT_FILE={path}: the file is empty")
        return prompt
    if text and text.strip():
        return text
    return default_system_prompt()


def default_system_prompt() -> str:
    """The extraction prompt shipped in the package (civicquant/prompts)."""
    return (
        resources.files("civicquant.prompts")
        .joinpath("extraction_system.txt")
        .read_text(encoding="utf-8")
    )


def _storable(value: Any) -> Any:
    """`value` (decoded JSON) with NUL and unpaired surrogates dropped and secrets redacted.

    Each answer is cleaned alone, before validation, so it can neither fail nor leak into
    its neighbours' transaction; a model echoing a known secret (from the post, or a prompt
    injection) has it replaced by `[REDACTED]` before anything is stored.
    """
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            value = _UNSTORABLE_RE.sub("", value)
        return redaction.redact(value)
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate, from a `\\ud800` escape
        return False
    return True


def _retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The wait a 429 asks for: `retry-after-ms`, or Retry-After in seconds or an HTTP-date."""
    millis = _finite_number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite_number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _finite_number(text: str | None) -> float | None:
    try:
        number = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _unfenced(content: str) -> str:
    """The JSON inside a ```json fenced block, or the content itself when there is none."""
    stripped = content.strip()
    if stripped.startswith(("{", "[")):
        return stripped
    fenced = _FENCED_RE.search(stripped)
    return fenced.group(1).strip() if fenced else stripped


def _token_count(usage: Any, name: str) -> int | None:
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _checked_url(url: str) -> str:
    """The endpoint as shown in messages (no user:password, no query), once checked."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError("LLM_API_URL is not an http(s) URL such as https://api.openai.com/v1")
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))
