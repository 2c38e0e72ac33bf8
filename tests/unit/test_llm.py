"""The extraction providers: the OpenAI-compatible one over real HTTP, the rules adapter."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from civicquant.config import Secret, load_settings
from civicquant.errors import CivicquantError, ConfigError
from civicquant.extract import rules
from civicquant.extract.llm import (
    OpenAICompatibleProvider,
    default_system_prompt,
    load_system_prompt,
)
from civicquant.extract.providers import (
    ExtractionValidationError,
    ProviderError,
    ProviderResult,
    RulesAdapter,
)
from civicquant.extraction import BREAKING_WINDOWS, TOPICS, Extraction
from civicquant.wiring import make_provider
from tests.fakes.chat_server import (
    CHAT_PATH,
    ChatServer,
    Reply,
    answer,
    completion,
    error,
    malformed,
    rate_limited,
    schema_violation,
    server_error,
    slow,
)

SECRET = "sk-test-9f8e7d6c5b4a39281706"
KEY = Secret(SECRET)
MODEL = "test-model"
PROMPT = "Read the post and answer with JSON."
POST = "BREAKING: Fed raises rates by 25 bps to 5.5%, Powell says more may come."
EXPECTED: dict[str, Any] = {
    "topic": "macro",
    "headline": "Fed raises rates by 25 bps to 5.5%",
    "summary": "The Federal Reserve raised rates by 25 bps to 5.5%.",
    "entities": [
        {"kind": "central_bank", "text": "Federal Reserve"},
        {"kind": "figure", "text": "25 bps"},
    ],
    "is_breaking": True,
    "breaking_window": "1h",
    "importance": 0.8,
    "language": "en",
}


class RecordingSleep:
    """Stands in for asyncio.sleep between retries: records each wait, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as chat:
        yield chat


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


def provider_for(url: str, **options: Any) -> OpenAICompatibleProvider:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "model": MODEL,
        "timeout_seconds": 5.0,
        "system_prompt": PROMPT,
        **options,
    }
    return OpenAICompatibleProvider(
        url,
        settings.pop("api_key"),
        settings.pop("model"),
        settings.pop("timeout_seconds"),
        settings.pop("system_prompt"),
        **settings,
    )


def extract(url: str, text: str = POST, **options: Any) -> ProviderResult:
    async def main() -> ProviderResult:
        async with provider_for(url, **options) as provider:
            return await provider.extract(text)

    return asyncio.run(main())


def failure(url: str, **options: Any) -> CivicquantError:
    """The exception one extract call ends with."""
    with pytest.raises(CivicquantError) as caught:
        extract(url, **options)
    return caught.value


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fingerprint_of(**options: Any) -> str:
    async def main() -> str:
        async with provider_for("http://127.0.0.1:9/v1", **options) as provider:
            return provider.prompt_fingerprint

    return asyncio.run(main())


# --- a valid answer -------------------------------------------------------------------


def test_valid_answer_is_parsed_into_the_extraction(server: ChatServer) -> None:
    server.script(answer(EXPECTED))
    assert extract(server.url).extraction == Extraction.model_validate(EXPECTED)


def test_result_carries_the_usage_tokens(server: ChatServer) -> None:
    server.script(answer(EXPECTED, usage={"prompt_tokens": 321, "completion_tokens": 54}))
    result = extract(server.url)
    assert (result.prompt_tokens, result.completion_tokens) == (321, 54)


def test_answer_without_usage_has_no_token_counts(server: ChatServer) -> None:
    server.script(answer(EXPECTED, usage=None))
    result = extract(server.url)
    assert (result.prompt_tokens, result.completion_tokens) == (None, None)


def test_latency_covers_the_time_the_server_took(server: ChatServer) -> None:
    server.script(slow(0.1, answer(EXPECTED)))
    assert extract(server.url).latency_ms >= 100


def test_fenced_json_answer_is_accepted(server: ChatServer) -> None:
    server.script(completion(f"Here it is:\n```json\n{json.dumps(EXPECTED)}\n```\n"))
    assert extract(server.url).extraction == Extraction.model_validate(EXPECTED)


def test_default_fake_answer_is_the_rules_extraction_of_the_post(server: ChatServer) -> None:
    assert extract(server.url).extraction == rules.extract(POST)


def test_provider_names_itself_openai_with_its_model() -> None:
    async def main() -> tuple[str, str]:
        async with provider_for("http://127.0.0.1:9/v1", model="gpt-x") as provider:
            return provider.name, provider.model

    assert asyncio.run(main()) == ("openai", "gpt-x")


def test_prompt_fingerprint_is_stable_across_instances() -> None:
    first, second = fingerprint_of(), fingerprint_of()
    assert first == second
    assert len(first) == 64
    assert int(first, 16) >= 0


def test_prompt_fingerprint_changes_with_the_system_prompt() -> None:
    assert fingerprint_of() != fingerprint_of(system_prompt=PROMPT + " Be brief.")


# --- the request ----------------------------------------------------------------------


def test_request_goes_to_chat_completions_under_the_api_url(server: ChatServer) -> None:
    extract(server.url + "/")
    assert [request.path for request in server.requests] == [CHAT_PATH]


def test_request_carries_the_model_and_temperature_zero(server: ChatServer) -> None:
    extract(server.url)
    body = server.requests[0].body
    assert (body["model"], body["temperature"]) == (MODEL, 0)


def test_request_asks_for_the_extraction_json_schema_strictly(server: ChatServer) -> None:
    extract(server.url)
    assert server.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "extraction",
            "strict": True,
            "schema": Extraction.model_json_schema(),
        },
    }


def test_request_sends_the_system_prompt_then_the_post_text(server: ChatServer) -> None:
    extract(server.url)
    assert server.requests[0].body["messages"] == [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": POST},
    ]


def test_request_carries_the_bearer_key_when_set(server: ChatServer) -> None:
    extract(server.url)
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_request_has_no_authorization_without_a_key(server: ChatServer) -> None:
    extract(server.url, api_key=None)
    assert "authorization" not in server.requests[0].headers


# --- retries --------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_seconds(
    server: ChatServer, sleep: RecordingSleep
) -> None:
    server.script(rate_limited(0.2), answer(EXPECTED))
    result = extract(server.url, sleep=sleep)
    assert result.extraction == Extraction.model_validate(EXPECTED)
    assert len(server.requests) == 2
    assert sleep.waits == [0.2]


def test_429_retry_after_is_really_waited_by_default(server: ChatServer) -> None:
    server.script(rate_limited(0.2))
    started = time.monotonic()
    extract(server.url)
    assert time.monotonic() - started >= 0.2
    assert len(server.requests) == 2


def test_429_retry_after_http_date_is_honoured_up_to_the_cap(
    server: ChatServer, sleep: RecordingSleep
) -> None:
    in_an_hour = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server.script(rate_limited(in_an_hour))
    extract(server.url, sleep=sleep, max_retry_after_seconds=1.5)
    assert sleep.waits == [1.5]


def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    server: ChatServer, sleep: RecordingSleep
) -> None:
    server.script(rate_limited(None), rate_limited(None))
    extract(server.url, sleep=sleep, backoff_initial_seconds=0.1)
    first, second = sleep.waits
    assert 0.1 <= first <= 0.2
    assert 0.2 <= second <= 0.3


def test_500_twice_then_success_returns_the_answer(
    server: ChatServer, sleep: RecordingSleep
) -> None:
    server.script(server_error(), server_error(503), answer(EXPECTED))
    assert extract(server.url, sleep=sleep).extraction == Extraction.model_validate(EXPECTED)
    assert len(server.requests) == 3


def test_500_forever_raises_provider_error_after_max_retries(
    server: ChatServer, sleep: RecordingSleep
) -> None:
    server.always(server_error(500, "The server had an error"))
    exc = failure(server.url, sleep=sleep, max_retries=2)
    assert isinstance(exc, ProviderError)
    assert "500" in str(exc)
    assert "gave up after 3 attempts" in str(exc)
    assert len(server.requests) == 3


def test_400_raises_provider_error_at_once_naming_status_and_first_line(
    server: ChatServer, sleep: RecordingSleep
) -> None:
    server.script(error(400, "Invalid schema for response_format 'extraction'.\nSee the docs."))
    exc = failure(server.url, sleep=sleep)
    assert isinstance(exc, ProviderError)
    assert "400" in str(exc)
    assert "Invalid schema for response_format 'extraction'." in str(exc)
    assert "See the docs" not in str(exc)
    assert len(server.requests) == 1
    assert sleep.waits == []


def test_timeout_is_retried_then_raises_provider_error(server: ChatServer) -> None:
    server.always(slow(5.0))
    exc = failure(server.url, timeout_seconds=0.2, max_retries=1, sleep=RecordingSleep())
    assert isinstance(exc, ProviderError)
    assert "timed out" in str(exc)
    assert len(server.requests) == 2


def test_connection_refused_is_retried_then_raises_provider_error(sleep: RecordingSleep) -> None:
    exc = failure(f"http://127.0.0.1:{unused_port()}/v1", sleep=sleep, max_retries=2)
    assert isinstance(exc, ProviderError)
    assert "cannot reach" in str(exc)
    assert len(sleep.waits) == 2


def test_retries_are_logged_without_the_api_key(server: ChatServer, sleep: RecordingSleep) -> None:
    server.script(server_error(500, f"upstream rejected key {SECRET}"))
    with structlog.testing.capture_logs() as logs:
        extract(server.url, sleep=sleep)
    assert [event["event"] for event in logs] == ["llm_request_retrying"]
    assert SECRET not in repr(logs)


# --- answers that are not a valid Extraction -----------------------------------------


def test_malformed_json_raises_validation_error(server: ChatServer) -> None:
    server.script(malformed())
    exc = failure(server.url)
    assert isinstance(exc, ExtractionValidationError)
    assert "not JSON" in str(exc)


def test_schema_violation_raises_validation_error_naming_the_field(server: ChatServer) -> None:
    server.script(schema_violation())
    exc = failure(server.url)
    assert isinstance(exc, ExtractionValidationError)
    assert "importance" in str(exc)


def test_invalid_answers_are_not_retried(server: ChatServer, sleep: RecordingSleep) -> None:
    server.script(malformed())
    failure(server.url, sleep=sleep)
    assert len(server.requests) == 1
    assert sleep.waits == []


def test_refusal_raises_validation_error_quoting_it(server: ChatServer) -> None:
    refused = completion("")
    message = refused.body["choices"][0]["message"]
    message.update(content=None, refusal="I can't help with that.")
    server.script(refused)
    exc = failure(server.url)
    assert isinstance(exc, ExtractionValidationError)
    assert "I can't help with that." in str(exc)


def test_answer_without_choices_raises_provider_error(server: ChatServer) -> None:
    server.script(Reply(body={"object": "list", "data": []}))
    assert isinstance(failure(server.url), ProviderError)


# --- the API key stays secret ---------------------------------------------------------

ECHOING_KEY = f"Incorrect API key provided: {SECRET}."


@pytest.mark.parametrize(
    "reply",
    [
        error(401, ECHOING_KEY),
        error(400, ECHOING_KEY),
        server_error(500, ECHOING_KEY),
        rate_limited(0),
        malformed(),
        schema_violation(),
        completion(f"not json {SECRET}"),
        Reply(body=f"<html>{SECRET}</html>"),
    ],
    ids=["401", "400", "500", "429", "malformed", "schema", "echoed-content", "html"],
)
def test_api_key_never_appears_in_an_error(
    server: ChatServer, sleep: RecordingSleep, reply: Reply
) -> None:
    server.always(reply)
    exc = failure(server.url, sleep=sleep, max_retries=1)
    assert isinstance(exc, ProviderError | ExtractionValidationError)
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None:
        chain.append(link)
        link = link.__cause__
    assert all(SECRET not in f"{link!s} {link!r}" for link in chain)


def test_repr_never_shows_the_api_key_or_url_credentials() -> None:
    async def main() -> tuple[str, str]:
        async with provider_for("https://user:pw@api.example.com/v1") as provider:
            return repr(provider), repr(vars(provider))

    shown, attributes = asyncio.run(main())
    assert SECRET not in shown
    assert "user:pw" not in shown
    assert SECRET not in attributes


def test_api_url_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LLM_API_URL"):
        provider_for("api.openai.com/v1")


# --- concurrency ----------------------------------------------------------------------


def run_concurrently(url: str, calls: int, **options: Any) -> list[ProviderResult]:
    async def main() -> list[ProviderResult]:
        async with provider_for(url, **options) as provider:
            texts = [f"{POST} #{number}" for number in range(calls)]
            return list(await asyncio.gather(*(provider.extract(text) for text in texts)))

    return asyncio.run(main())


def test_concurrent_extracts_are_in_flight_at_once() -> None:
    with ChatServer(hold_until=16) as server:
        results = run_concurrently(server.url, 16, max_connections=16)
    assert len(results) == 16
    assert server.max_in_flight == 16


def test_max_connections_bounds_the_requests_in_flight() -> None:
    with ChatServer(delay=0.1) as server:
        results = run_concurrently(server.url, 8, max_connections=4)
    assert len(results) == 8
    assert server.max_in_flight == 4


def test_concurrent_results_match_their_own_posts(server: ChatServer) -> None:
    results = run_concurrently(server.url, 8, max_connections=8)
    texts = [f"{POST} #{number}" for number in range(8)]
    assert [result.extraction for result in results] == [rules.extract(t) for t in texts]


# --- the system prompt ----------------------------------------------------------------


def test_default_system_prompt_is_used_when_none_is_set() -> None:
    assert load_system_prompt(load_settings()) == default_system_prompt()


def test_default_system_prompt_names_every_topic_and_window() -> None:
    prompt = default_system_prompt()
    assert all(topic in prompt for topic in TOPICS)
    assert all(window in prompt for window in BREAKING_WINDOWS)
    assert "JSON" in prompt


def test_system_prompt_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Custom prompt from a file.", encoding="utf-8")
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_FILE", str(path))
    assert load_system_prompt(load_settings()) == "Custom prompt from a file."


def test_system_prompt_text_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_TEXT", "Custom prompt text.")
    assert load_system_prompt(load_settings()) == "Custom prompt text."


def test_unreadable_system_prompt_file_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_FILE", str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="LLM_SYSTEM_PROMPT_FILE"):
        load_system_prompt(load_settings())


def test_empty_system_prompt_file_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("  \n", encoding="utf-8")
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_FILE", str(path))
    with pytest.raises(ConfigError, match="empty"):
        load_system_prompt(load_settings())


def test_system_prompt_file_and_text_together_are_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("From a file.", encoding="utf-8")
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_FILE", str(path))
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_TEXT", "From text.")
    with pytest.raises(ConfigError, match="both"):
        load_system_prompt(load_settings())


# --- make_provider and the rules adapter ----------------------------------------------


def test_make_provider_defaults_to_the_rules_adapter() -> None:
    provider = make_provider(load_settings())
    assert isinstance(provider, RulesAdapter)
    assert (provider.name, provider.model) == ("rules", rules.RULES_VERSION)


def test_make_provider_builds_the_openai_provider_from_settings(
    monkeypatch: pytest.MonkeyPatch, server: ChatServer
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.setenv("LLM_API_URL", server.url)
    monkeypatch.setenv("LLM_API_KEY", SECRET)
    monkeypatch.setenv("LLM_MODEL_NAME", "settings-model")
    monkeypatch.setenv("LLM_SYSTEM_PROMPT_TEXT", "Prompt from settings.")

    async def main() -> ProviderResult:
        provider = make_provider(load_settings())
        try:
            assert (provider.name, provider.model) == ("openai", "settings-model")
            return await provider.extract(POST)
        finally:
            await provider.aclose()

    assert asyncio.run(main()).extraction == rules.extract(POST)
    request = server.requests[0]
    assert request.body["model"] == "settings-model"
    assert request.body["messages"][0]["content"] == "Prompt from settings."
    assert request.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(("pool", "in_flight"), [(None, 3), (6, 6)])
def test_make_provider_sizes_the_pool_from_settings_unless_told(
    monkeypatch: pytest.MonkeyPatch, pool: int | None, in_flight: int
) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.setenv("LLM_MAX_CONCURRENCY", "3")

    async def main(url: str) -> None:
        monkeypatch.setenv("LLM_API_URL", url)
        provider = make_provider(load_settings(), max_connections=pool)
        try:
            await asyncio.gather(*(provider.extract(f"{POST} #{n}") for n in range(6)))
        finally:
            await provider.aclose()

    with ChatServer(delay=0.1) as server:
        asyncio.run(main(server.url))
    assert server.max_in_flight == in_flight


def test_rules_provider_does_not_import_httpx_or_the_llm_module() -> None:
    code = (
        "import sys\n"
        "from civicquant.config import Settings\n"
        "from civicquant.wiring import make_provider\n"
        "make_provider(Settings())\n"
        "print(sorted(m for m in ('httpx', 'civicquant.extract.llm') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "text",
    [POST, "", "СРОЧНО: ЦБ РФ повысил ключевую ставку до 16%", "Apple $AAPL beats estimates"],
)
def test_rules_adapter_returns_what_rules_extract_returns(text: str) -> None:
    result = asyncio.run(RulesAdapter().extract(text))
    assert result.extraction == rules.extract(text)


def test_rules_adapter_reports_latency_and_no_tokens() -> None:
    result = asyncio.run(RulesAdapter().extract(POST))
    assert result.latency_ms >= 0
    assert (result.prompt_tokens, result.completion_tokens) == (None, None)


def test_rules_adapter_fingerprint_is_the_hash_of_the_rules_version() -> None:
    expected = hashlib.sha256(rules.RULES_VERSION.encode()).hexdigest()
    assert RulesAdapter().prompt_fingerprint == expected
