"""civicquant.logs: one pipeline for structlog and stdlib records, redacted before rendering."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import structlog

from civicquant.logs import (
    REDACTED,
    add_secrets,
    bind_run,
    configure_logging,
    get_logger,
    redact,
    reset_logging,
)

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
API_HASH = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


# --- the JSON line -------------------------------------------------------------------------


def test_json_line_carries_job_run_id_event_level_and_utc_timestamp(stream: io.StringIO) -> None:
    configure_logging(fmt="json", stream=stream)
    bind_run("ingest", "run-42")

    get_logger("civicquant.ingest.live").info("messages_fetched", channel="news", messages=3)

    [line] = json_lines(stream)
    assert line["job"] == "ingest"
    assert line["run_id"] == "run-42"
    assert line["event"] == "messages_fetched"
    assert line["level"] == "info"
    assert line["logger"] == "civicquant.ingest.live"
    assert line["messages"] == 3
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    assert line["timestamp"].endswith("Z")


def test_stdlib_record_is_a_json_line_with_logger_name_and_run_binding(
    stream: io.StringIO,
) -> None:
    configure_logging(fmt="json", stream=stream)
    bind_run("publish", "run-7")

    logging.getLogger("telethon.network").warning("Server closed the connection")

    [line] = json_lines(stream)
    assert line["logger"] == "telethon.network"
    assert line["level"] == "warning"
    assert line["event"] == "Server closed the connection"
    assert (line["job"], line["run_id"]) == ("publish", "run-7")
    assert "timestamp" in line


def test_debug_lines_are_dropped_at_info_level(stream: io.StringIO) -> None:
    configure_logging(fmt="json", level="INFO", stream=stream)

    get_logger("civicquant.publish.digest").debug("window_computed")

    assert stream.getvalue() == ""


def test_chatty_library_info_lines_are_dropped_unless_debug(stream: io.StringIO) -> None:
    configure_logging(fmt="json", level="INFO", stream=stream)

    logging.getLogger("httpx").info("HTTP Request: GET https://example.org/ 200 OK")
    get_logger("civicquant.ops.health").info("health_checked")

    assert [line["event"] for line in json_lines(stream)] == ["health_checked"]


def test_auto_format_writes_json_lines_to_a_non_terminal(stream: io.StringIO) -> None:
    configure_logging(fmt="auto", stream=stream)

    get_logger("civicquant.ops.health").info("health_checked")

    assert json_lines(stream)[0]["event"] == "health_checked"


def test_console_format_on_a_non_terminal_is_plain_text_without_colors(
    stream: io.StringIO,
) -> None:
    configure_logging(fmt="console", stream=stream)

    get_logger("civicquant.ops.health").warning("lease_expired", queue="digest")

    text = stream.getvalue()
    assert "lease_expired" in text
    assert "queue=digest" in text
    assert "\x1b[" not in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_lines_go_to_stderr_when_no_stream_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="json")

    get_logger("civicquant.ops.health").info("health_checked")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err)["event"] == "health_checked"


def test_configuring_twice_writes_each_event_once(stream: io.StringIO) -> None:
    configure_logging(fmt="json", stream=stream)
    configure_logging(fmt="json", stream=stream)

    get_logger("civicquant.runtime.runs").info("run_started")
    logging.getLogger("psycopg").warning("connection lost")

    assert [line["event"] for line in json_lines(stream)] == ["run_started", "connection lost"]


def test_logger_used_before_configuration_follows_it(
    stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    log = get_logger("civicquant.queue")
    log.info("imported")  # structlog's default setup prints this to stdout
    configure_logging(fmt="json", stream=stream)

    log.info("jobs_claimed", jobs=2)

    assert json_lines(stream)[0]["event"] == "jobs_claimed"


def test_configured_loggers_are_captured_by_structlog_testing(stream: io.StringIO) -> None:
    configure_logging(fmt="json", stream=stream)
    log = get_logger("civicquant.publish.digest")

    with structlog.testing.capture_logs() as events:
        log.info("digest_published", messages=2)

    assert events == [{"event": "digest_published", "messages": 2, "log_level": "info"}]


@pytest.mark.parametrize(("fmt", "level"), [("xml", "INFO"), ("json", "LOUD")])
def test_unknown_format_or_level_is_rejected(fmt: str, level: str) -> None:
    with pytest.raises(ValueError, match="is not one of"):
        configure_logging(fmt=fmt, level=level, stream=io.StringIO())


# --- redaction in the pipeline ---------------------------------------------------------------


def test_bot_token_in_a_stdlib_httpx_record_is_redacted(stream: io.StringIO) -> None:
    configure_logging(fmt="json", stream=stream)

    logging.getLogger("httpx").warning(
        f"HTTP Request: POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    )

    [line] = json_lines(stream)
    assert line["logger"] == "httpx"
    assert line["event"] == (
        f"HTTP Request: POST https://api.telegram.org/bot{REDACTED}/sendMessage"
    )
    assert BOT_TOKEN not in stream.getvalue()


class _OkHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the server's own access log would print the token to the real stderr."""


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OkHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_real_httpx_request_at_debug_is_logged_with_token_redacted(
    stream: io.StringIO, local_server: str
) -> None:
    configure_logging(fmt="json", level="DEBUG", stream=stream)

    with httpx.Client(trust_env=False) as client:
        response = client.get(f"{local_server}/bot{BOT_TOKEN}/getMe")
    assert response.status_code == 200

    lines = json_lines(stream)
    request_lines = [line for line in lines if line["logger"] == "httpx"]
    assert any(f"/bot{REDACTED}/getMe" in line["event"] for line in request_lines)
    assert any(line["logger"].startswith("httpcore") for line in lines)
    assert BOT_TOKEN not in stream.getvalue()


@pytest.mark.parametrize("source", ["structlog", "stdlib"])
def test_configured_secret_in_exception_text_is_redacted(stream: io.StringIO, source: str) -> None:
    configure_logging(fmt="json", secrets=[API_HASH], stream=stream)

    try:
        raise RuntimeError(f"login failed for api_hash={API_HASH}")
    except RuntimeError:
        if source == "structlog":
            get_logger("civicquant.ingest.live").exception("login_failed")
        else:
            logging.getLogger("telethon").exception("login failed")

    [line] = json_lines(stream)
    assert f"RuntimeError: login failed for api_hash={REDACTED}" in line["exception"]
    assert API_HASH not in stream.getvalue()


def test_configured_secret_in_console_exception_is_redacted(stream: io.StringIO) -> None:
    configure_logging(fmt="console", secrets=[API_HASH], stream=stream)

    try:
        raise RuntimeError(f"login failed for api_hash={API_HASH}")
    except RuntimeError:
        get_logger("civicquant.ingest.live").exception("login_failed")

    assert f"api_hash={REDACTED}" in stream.getvalue()
    assert API_HASH not in stream.getvalue()


def test_secrets_in_nested_values_are_redacted(stream: io.StringIO) -> None:
    configure_logging(fmt="json", secrets=[API_HASH], stream=stream)

    get_logger("civicquant.config").info(
        "settings_loaded",
        telegram={"api_hash": API_HASH, "channels": [f"x{API_HASH}", "news"]},
    )

    [line] = json_lines(stream)
    assert line["telegram"] == {"api_hash": REDACTED, "channels": [f"x{REDACTED}", "news"]}


def test_secret_in_the_repr_of_an_object_value_is_redacted(stream: io.StringIO) -> None:
    configure_logging(fmt="json", stream=stream)

    get_logger("civicquant.publish.publisher").warning(
        "publish_failed", error=RuntimeError(f"bad url /bot{BOT_TOKEN}/sendMessage")
    )

    [line] = json_lines(stream)
    assert line["error"] == f"RuntimeError('bad url /bot{REDACTED}/sendMessage')"


def test_times_and_iso_timestamps_in_values_survive(stream: io.StringIO) -> None:
    configure_logging(fmt="json", secrets=[API_HASH], stream=stream)

    get_logger("civicquant.publish.digest").info(
        "digest_scheduled", at="12:30:45", window_start="2026-11-20T08:00:00+00:00"
    )

    [line] = json_lines(stream)
    assert line["at"] == "12:30:45"
    assert line["window_start"] == "2026-11-20T08:00:00+00:00"
    assert REDACTED not in stream.getvalue()


def test_secrets_added_after_configuration_are_redacted(stream: io.StringIO) -> None:
    configure_logging(fmt="json", stream=stream)
    add_secrets(["sk-live-llm-key-0001"])

    get_logger("civicquant.extract.worker").info("llm_called", key="sk-live-llm-key-0001")

    assert json_lines(stream)[0]["key"] == REDACTED


def test_reconfiguring_replaces_the_secrets(stream: io.StringIO) -> None:
    configure_logging(fmt="json", secrets=["first-secret-value"], stream=stream)
    configure_logging(fmt="json", secrets=["second-secret-value"], stream=stream)

    assert redact("first-secret-value second-secret-value") == f"first-secret-value {REDACTED}"


# --- redact() on its own ---------------------------------------------------------------------


def test_redact_replaces_a_bot_token_inside_an_api_url() -> None:
    url = f"https://api.telegram.org/bot{BOT_TOKEN}/getUpdates?offset=5"

    assert redact(url) == f"https://api.telegram.org/bot{REDACTED}/getUpdates?offset=5"


def test_redact_replaces_a_bare_bot_token() -> None:
    assert redact(f"token {BOT_TOKEN} rejected") == f"token {REDACTED} rejected"


@pytest.mark.parametrize(
    "text",
    [
        "12:30:45",
        "2026-11-20T08:00:00",
        "2026-11-20T08:00:00.123456Z",
        "message 12345:short",
        "channel -1001234567890 at 08:00",
    ],
)
def test_redact_leaves_times_timestamps_and_short_pairs_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_replaces_configured_secrets_including_percent_encoded_ones() -> None:
    configure_logging(fmt="json", secrets=["p@ss/w0rd"], stream=io.StringIO())

    dsn = "postgresql://civicquant:p%40ss%2Fw0rd@db:5432/civicquant, raw p@ss/w0rd"

    assert redact(dsn) == f"postgresql://civicquant:{REDACTED}@db:5432/civicquant, raw {REDACTED}"


def test_redact_ignores_empty_and_short_secrets() -> None:
    configure_logging(fmt="json", secrets=["", "abc12"], stream=io.StringIO())

    assert redact("abc12 and an empty string") == "abc12 and an empty string"


def test_redact_replaces_the_longer_of_two_overlapping_secrets_whole() -> None:
    add_secrets(["secret", "secret-session-string"])

    assert redact("s=secret-session-string") == f"s={REDACTED}"
