"""FakeBotApi: a local HTTP server that answers the Telegram Bot API the way Telegram does.

Real HTTP on 127.0.0.1 (a free port; `host=` picks another address, e.g. a bridge that
network namespaces reach), a ThreadingHTTPServer in a background thread, so
python-telegram-bot and httpx run unpatched against it. It serves `POST /bot<token>/<method>`
with form or JSON bodies, implements `getMe` and `sendMessage`, and records every request.

`sendMessage` checks what Telegram checks: a wrong token gets 401, parse mode HTML must be
well-formed with only Telegram's tags (else 400 "can't parse entities"), and the text after
parsing must be 1 to 4096 UTF-16 units. Failures can be scripted for the next calls:

    with FakeBotApi(TOKEN) as api:
        api.fail_next(flood(retry_after=1))              # the next sendMessage gets 429
        api.fail_next(INTERNAL_ERROR, times=2)           # then two 500s
        api.fail_next(UNAUTHORIZED, method="getMe")
        ...
        assert api.sent_messages[0].parse_mode == "HTML"

`api.slow_sends(seconds)` makes each later `sendMessage` wait that long before it is
handled (a slow Bot API); `hold_after(n)` keeps them waiting until `release()`.

Telegram may also post a message and lose the answer: `api.lose_answer_next(mode)` makes the
next `sendMessage` post (it is in `sent_messages`) and then answer late (after the client's
read timeout), reset the connection, cut the body short, or answer 200 with a body that is
not JSON (`LostAnswer`).

Not supported: multipart bodies (file uploads) and every method besides the two above,
which answer 404 "Not Found" as Telegram does for unknown methods.
"""

from __future__ import annotations

import enum
import json
import re
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MESSAGE_LIMIT = 4096

# Telegram's HTML parse mode accepts these tags and nothing else (no <br>, <p>, <div>).
ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
# Parameters whose value is an object or array; PTB sends them as JSON text in a form field.
_JSON_FIELDS = frozenset(
    {
        "link_preview_options",
        "entities",
        "reply_markup",
        "reply_parameters",
        "disable_web_page_preview",
    }
)
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


@dataclass(frozen=True)
class Failure:
    """A scripted error answer: the HTTP status and Telegram's description."""

    status: int
    description: str
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    # Telegram's front proxy answers some 502s with an HTML page instead of JSON.
    html_page: bool = False

    def body(self) -> bytes:
        if self.html_page:
            return (
                f"<html><head><title>{self.status} {self.description}</title></head>"
                f"<body><center><h1>{self.status} {self.description}</h1></center>"
                "<hr><center>nginx</center></body></html>"
            ).encode()
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to_chat_id is not None:
            payload["parameters"] = {"migrate_to_chat_id": self.migrate_to_chat_id}
        return json.dumps(payload).encode()


def flood(retry_after: int = 1) -> Failure:
    """429 Too Many Requests asking to wait `retry_after` seconds, as Telegram words it."""
    return Failure(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


CANT_PARSE_ENTITIES = Failure(
    400, 'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 5'
)
CHAT_NOT_FOUND = Failure(400, "Bad Request: chat not found")
GROUP_MIGRATED = Failure(
    400,
    "Bad Request: group chat was upgraded to a supergroup chat",
    migrate_to_chat_id=-1009876543210,
)
BOT_KICKED = Failure(403, "Forbidden: bot was kicked from the channel chat")
UNAUTHORIZED = Failure(401, "Unauthorized")
INTERNAL_ERROR = Failure(500, "Internal Server Error")
BAD_GATEWAY = Failure(502, "Bad Gateway", html_page=True)


class LostAnswer(enum.Enum):
    """How the answer to a message Telegram did post gets lost on the way back."""

    LATE = "late"  # the answer comes after the client stopped waiting (LATE_SECONDS)
    RESET = "reset"  # the connection is reset instead of answered
    CUT_SHORT = "cut-short"  # the body stops before its Content-Length
    NOT_JSON = "not-json"  # 200 with a page that is not JSON


# Longer than the read timeout a test gives its client (e.g. 0.5 s).
LATE_SECONDS = 1.5


@dataclass(frozen=True)
class ApiRequest:
    """One request the server answered: method, token from the path, parameters, status."""

    method: str
    token: str
    params: dict[str, Any]
    status: int


@dataclass(frozen=True)
class PostedMessage:
    """A message sendMessage accepted."""

    chat_id: str
    message_id: int
    text: str
    parse_mode: str | None
    link_preview_options: dict[str, Any] | None
    disable_web_page_preview: bool | None
    # Where it came from (the client's IP) and when it was accepted (time.time()).
    peer: str = ""
    accepted_at: float = 0.0

    @property
    def link_preview_disabled(self) -> bool:
        """Whether the client asked for no link preview, by either of the API's two ways."""
        if self.link_preview_options is not None:
            return bool(self.link_preview_options.get("is_disabled"))
        return bool(self.disable_web_page_preview)


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's wording."""


def parse_telegram_html(text: str) -> str:
    """Return the plain text Telegram would show for `text`, or raise EntityParseError.

    Follows Telegram's HTML parse mode: only ALLOWED_TAGS, every tag closed in order,
    `<span>` only as `class="tg-spoiler"`, the four named entities and numeric ones
    decoded, a `&` that starts no entity kept as it is.
    """
    plain: list[str] = []
    open_tags: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "&":
            entity = _ENTITY.match(text, position)
            decoded = _decode_entity(entity) if entity else None
            if entity is not None and decoded is not None:
                plain.append(decoded)
                position = entity.end()
            else:
                plain.append("&")
                position += 1
        elif char == "<":
            position = _parse_tag(text, position, open_tags)
        else:
            plain.append(char)
            position += 1
    if open_tags:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(plain)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _decode_entity(entity: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = entity.groups()
    if name is not None:
        return _NAMED_ENTITIES.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    return chr(code) if 0 < code <= 0x10FFFF else None


def _byte_offset(text: str, position: int) -> int:
    return len(text[:position].encode("utf-8", "surrogatepass"))


def _parse_tag(text: str, start: int, open_tags: list[str]) -> int:
    """Check the tag at `start` against `open_tags` (updated); return the index after it."""
    offset = _byte_offset(text, start)
    end = text.find(">", start)
    if end == -1:
        raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
    if text.startswith("</", start):
        name = text[start + 2 : end].strip().lower()
        if not open_tags:
            raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
        if name != open_tags[-1]:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{open_tags[-1]}>", '
                f'found "</{name}>"'
            )
        open_tags.pop()
        return end + 1
    name_match = _TAG_NAME.match(text, start + 1)
    assert name_match is not None  # the pattern matches the empty string
    name = name_match.group().lower()
    if name not in ALLOWED_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
    attributes = _parse_attributes(text[name_match.end() : end].rstrip("/"), name, offset)
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    open_tags.append(name)
    return end + 1


def _parse_attributes(source: str, tag: str, offset: int) -> dict[str, str]:
    attributes: dict[str, str] = {}
    position = 0
    while source[position:].strip():
        attribute = _ATTRIBUTE.match(source, position)
        if attribute is None or attribute.end() == position:
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {offset}"
            )
        name, double, single, bare = attribute.groups()
        attributes[name.lower()] = next(
            (value for value in (double, single, bare) if value is not None), ""
        )
        position = attribute.end()
    return attributes


class _Answer(Exception):
    """Raised inside a handler to answer with an error, like Telegram."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.description)
        self.failure = failure


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[ApiRequest] = field(default_factory=list)
    sent_messages: list[PostedMessage] = field(default_factory=list)
    scripted: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    last_message_id: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    usernames: dict[str, int] = field(default_factory=dict)
    lost: deque[LostAnswer] = field(default_factory=deque)
    hold_after: int | None = None
    slow_seconds: float = 0.0
    held: int = 0
    released: threading.Event = field(default_factory=threading.Event)


class FakeBotApi:
    """The fake Bot API server; see the module docstring. Use it as a context manager."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_username: str = "civicquant_test_bot",
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeBotApi:
        handler = type("_BoundHandler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-bot-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        assert self._thread is not None
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """The server's root, the way TG_BOT_API_URL names a self-hosted Bot API server."""
        assert self._server is not None, "use FakeBotApi as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[ApiRequest]:
        """Every request answered so far, failures included, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def sent_messages(self) -> list[PostedMessage]:
        """Every message sendMessage accepted, oldest first."""
        with self._state.lock:
            return list(self._state.sent_messages)

    def calls(self, method: str) -> list[ApiRequest]:
        """The requests made to one method (e.g. "sendMessage")."""
        return [request for request in self.requests if request.method == method]

    def fail_next(self, failure: Failure, *, times: int = 1, method: str = "sendMessage") -> None:
        """Answer the next `times` calls of `method` with `failure`, after any already queued."""
        with self._state.lock:
            self._state.scripted[method].extend([failure] * times)

    def lose_answer_next(self, mode: LostAnswer, *, times: int = 1) -> None:
        """Post the next `times` sendMessage calls, then lose each answer as `mode` says."""
        with self._state.lock:
            self._state.lost.extend([mode] * times)

    def hold_after(self, messages: int) -> None:
        """Accept `messages` more sendMessage calls, then keep later ones waiting (no answer)
        until `release()`: a request in flight, as when a process is killed mid-send."""
        with self._state.lock:
            self._state.hold_after = len(self._state.sent_messages) + messages
            self._state.released.clear()

    def slow_sends(self, seconds: float) -> None:
        """Keep every later sendMessage call waiting `seconds` before it is handled (counted
        in `held` meanwhile): a slow Bot API. 0 makes it fast again."""
        with self._state.lock:
            self._state.slow_seconds = seconds

    @property
    def held(self) -> int:
        """How many sendMessage calls have reached the server and are waiting for
        `release()`: a sender killed after this is positive had its request arrive."""
        with self._state.lock:
            return self._state.held

    def release(self) -> None:
        """Let held sendMessage calls through."""
        with self._state.lock:
            self._state.hold_after = None
        self._state.released.set()

    # --- request handling (server threads) ---------------------------------------------

    def _handle(
        self, path: str, params: dict[str, Any], peer: str = ""
    ) -> tuple[int, bytes, LostAnswer | None]:
        lost: LostAnswer | None = None
        match = re.fullmatch(r"/bot([^/]*)/([A-Za-z]+)", path)
        token, method = (match.group(1), match.group(2)) if match else ("", "")
        try:
            if match is None:
                raise _Answer(Failure(404, "Not Found"))
            if token != self.token:
                raise _Answer(UNAUTHORIZED)
            with self._state.lock:
                queued = self._state.scripted.get(method)
                scripted = queued.popleft() if queued else None
                hold = (
                    method.lower() == "sendmessage"
                    and self._state.hold_after is not None
                    and len(self._state.sent_messages) >= self._state.hold_after
                )
                slow = self._state.slow_seconds if method.lower() == "sendmessage" else 0.0
                if hold or slow:
                    self._state.held += 1
            if hold:
                self._state.released.wait(timeout=60)
            elif slow:
                time.sleep(slow)
            if hold or slow:
                with self._state.lock:
                    self._state.held -= 1
            if scripted is not None:
                raise _Answer(scripted)
            if method.lower() == "getme":
                result: dict[str, Any] = self._get_me()
            elif method.lower() == "sendmessage":
                result = self._send_message(params, peer)
                with self._state.lock:
                    lost = self._state.lost.popleft() if self._state.lost else None
            else:
                raise _Answer(Failure(404, "Not Found"))
        except _Answer as answer:
            status, body = answer.failure.status, answer.failure.body()
        else:
            status, body = 200, json.dumps({"ok": True, "result": result}).encode()
        with self._state.lock:
            self._state.requests.append(
                ApiRequest(method=method, token=token, params=params, status=status)
            )
        return status, body, lost

    def _get_me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Civicquant Test",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _send_message(self, params: dict[str, Any], peer: str = "") -> dict[str, Any]:
        chat_id = str(params.get("chat_id", "")).strip()
        text = params.get("text")
        if not chat_id:
            raise _Answer(Failure(400, "Bad Request: chat_id is empty"))
        if not isinstance(text, str) or not text.strip():
            raise _Answer(Failure(400, "Bad Request: message text is empty"))
        parse_mode = params.get("parse_mode")
        plain = text
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            try:
                plain = parse_telegram_html(text)
            except EntityParseError as exc:
                raise _Answer(Failure(400, f"Bad Request: can't parse entities: {exc}")) from exc
        if not plain.strip():
            raise _Answer(Failure(400, "Bad Request: message text is empty"))
        if utf16_units(plain) > MESSAGE_LIMIT:
            raise _Answer(Failure(400, "Bad Request: message is too long"))
        chat = self._chat(chat_id)
        preview = params.get("link_preview_options")
        with self._state.lock:
            self._state.last_message_id[chat_id] += 1
            message_id = self._state.last_message_id[chat_id]
            self._state.sent_messages.append(
                PostedMessage(
                    chat_id=chat_id,
                    message_id=message_id,
                    text=text,
                    parse_mode=parse_mode if isinstance(parse_mode, str) else None,
                    link_preview_options=preview if isinstance(preview, dict) else None,
                    disable_web_page_preview=_flag(params.get("disable_web_page_preview")),
                    peer=peer,
                    accepted_at=time.time(),
                )
            )
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": plain}

    def _chat(self, chat_id: str) -> dict[str, Any]:
        if chat_id.startswith("@"):
            with self._state.lock:
                numeric = self._state.usernames.setdefault(
                    chat_id.lower(), -1001000000000 - len(self._state.usernames)
                )
            return {"id": numeric, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]}
        try:
            numeric = int(chat_id)
        except ValueError:
            raise _Answer(CHAT_NOT_FOUND) from None
        if chat_id.startswith("-100"):
            return {"id": numeric, "type": "channel", "title": f"Channel {chat_id}"}
        if numeric < 0:
            return {"id": numeric, "type": "group", "title": f"Group {chat_id}"}
        return {"id": numeric, "type": "private", "first_name": "Reader"}


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


class _Handler(BaseHTTPRequestHandler):
    # Headers and body are separate writes: without this, Nagle and delayed ACKs add ~40 ms.
    disable_nagle_algorithm = True
    api: FakeBotApi

    def do_POST(self) -> None:
        self._answer(self._read_params())

    def do_GET(self) -> None:
        self._answer({})

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes each request line, token included, to stderr.
        return

    def _read_params(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "surrogatepass") if length else ""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            loaded = json.loads(raw) if raw else {}
            return dict(loaded) if isinstance(loaded, dict) else {}
        # Form fields: PTB sends strings as they are and every other value JSON-encoded.
        return _form_fields(raw)

    def _answer(self, params: dict[str, Any]) -> None:
        query = urlsplit(self.path).query
        status, body, lost = self.api._handle(
            unquote(urlsplit(self.path).path),
            _form_fields(query) | params,
            str(self.client_address[0]),
        )
        if lost is LostAnswer.RESET:
            # An RST instead of an answer: linger 0, then close.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if lost is LostAnswer.LATE:
            time.sleep(LATE_SECONDS)
        if lost is LostAnswer.NOT_JSON:
            body = b"<html><body>OK</body></html>"
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/json" if body.startswith(b"{") else "text/html"
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if lost is LostAnswer.CUT_SHORT:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except OSError:  # the client stopped waiting (LATE)
            self.close_connection = True


def _form_fields(raw: str) -> dict[str, Any]:
    """Form fields as Telegram reads them: object-valued parameters arrive as JSON text."""
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key in _JSON_FIELDS:
            try:
                fields[key] = json.loads(value)
                continue
            except ValueError:
                pass
        fields[key] = value
    return fields
