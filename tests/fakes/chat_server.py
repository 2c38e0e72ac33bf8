"""ChatServer: a real HTTP server on 127.0.0.1 speaking the Chat Completions protocol.

It records every request (path, headers, JSON body) and answers from a script, one
scripted reply per request in order; once the script runs out it answers with the
default reply, which by default is `rules.extract` of the user message: a valid,
deterministic answer, cheap enough to serve thousands of requests in a benchmark.

    with ChatServer(delay=0.2) as server:          # every answer held 200 ms
        server.script(rate_limited(0.2), server_error(), answer(EXTRACTION))
        provider = OpenAICompatibleProvider(server.url, None, "m", 5.0, "prompt")
        ...
    server.requests[0].body["model"], server.max_in_flight

`server.always(reply)` replaces the default reply (e.g. a 500 on every request);
`server.answer_with(function)` derives the default answer from each request another way.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from civicquant.extract import rules

CHAT_PATH = "/v1/chat/completions"
DEFAULT_USAGE: Mapping[str, int] = {"prompt_tokens": 120, "completion_tokens": 80}


@dataclass(frozen=True)
class Reply:
    """One scripted answer; `body=None` means the default answer derived from the post."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    """One request as the server received it; header names are lower-case."""

    path: str
    headers: Mapping[str, str]
    body: Any

    @property
    def user_text(self) -> str:
        return str(self.body["messages"][-1]["content"])


def completion(content: str, *, usage: Mapping[str, int] | None = DEFAULT_USAGE) -> Reply:
    """A 200 Chat Completions answer whose message content is `content`."""
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return Reply(body=body)


def answer(
    extraction: Mapping[str, Any], *, usage: Mapping[str, int] | None = DEFAULT_USAGE
) -> Reply:
    """A valid answer carrying `extraction` (a dict in the Extraction's JSON shape)."""
    return completion(json.dumps(extraction, ensure_ascii=False), usage=usage)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """An error answer shaped like OpenAI's: {"error": {"message": ..., ...}}."""
    body = {"error": {"message": message, "type": "fake_error", "code": status}}
    return Reply(status=status, body=body, headers=dict(headers or {}))


def rate_limited(retry_after: float | str | None = 0.2) -> Reply:
    """A 429, with Retry-After (seconds or an HTTP-date) unless it is None."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return error(429, "Rate limit reached for requests", headers)


def server_error(status: int = 500, message: str = "The server had an error") -> Reply:
    return error(status, message)


def malformed() -> Reply:
    """A 200 whose content is not JSON."""
    return completion('{"topic": "macro", "headline": ')


def schema_violation() -> Reply:
    """A 200 whose content is JSON but not a valid Extraction (importance 7)."""
    valid = rules.extract("Fed raises rates by 25 bps").model_dump(mode="json")
    return answer({**valid, "importance": 7})


def slow(delay: float, reply: Reply | None = None) -> Reply:
    """`reply` (by default the default answer) held for `delay` seconds."""
    return replace(reply or Reply(), delay=delay)


class ChatServer:
    """A threaded local Chat Completions server; use it as a context manager."""

    def __init__(self, *, delay: float = 0.0, hold_until: int | None = None) -> None:
        self.delay = delay
        # Hold every request until this many are in flight at once (or 10 s pass): a test of
        # concurrency then does not depend on how fast the first answers come back.
        self.hold_until = hold_until
        self._arrived = threading.Condition()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Reply] = deque()
        self._default = Reply()
        self._answer: Callable[[Request], Reply] = _default_answer
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.chat = self
        # A short poll interval so leaving the `with` block takes milliseconds, not 0.5 s.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL to use as LLM_API_URL."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._script.extend(replies)

    def always(self, reply: Reply) -> None:
        """Answer every request past the script with `reply`."""
        with self._lock:
            self._default = reply

    def answer_with(self, answer: Callable[[Request], Reply]) -> None:
        """Make the default answer (of a reply with no body) `answer(request)`, per post."""
        with self._lock:
            self._answer = answer

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        with self._arrived:
            self._arrived.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _take(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            reply = self._script.popleft() if self._script else self._default
        if self.hold_until is not None:
            with self._arrived:
                self._arrived.notify_all()
                self._arrived.wait_for(
                    lambda: self.max_in_flight >= (self.hold_until or 0) or self._stopping.is_set(),
                    timeout=10,
                )
        return reply

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _wait(self, seconds: float) -> None:
        # Interrupted by __exit__, so a slow reply never holds the test up.
        if seconds > 0:
            self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    chat: ChatServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers do
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (~40 ms), which no real server adds to a reply.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_POST(self) -> None:
        chat = self.server.chat
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = chat._take(request)
        try:
            chat._wait(chat.delay + reply.delay)
            if self.path != CHAT_PATH:
                reply = error(404, f"no route for {self.path}")
            elif reply.body is None and reply.status == 200:
                reply = chat._answer(request)
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing left to answer
        finally:
            chat._done()

    def _send(self, reply: Reply) -> None:
        body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = body.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on `requests`, not on a log."""


def _default_answer(request: Request) -> Reply:
    text = request.user_text
    content = rules.extract(text).model_dump_json()
    prompt = "".join(str(message["content"]) for message in request.body["messages"])
    reply = completion(
        content, usage={"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4}
    )
    return replace(reply, body={**reply.body, "model": request.body.get("model", "fake-model")})
