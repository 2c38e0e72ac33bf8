"""The messages of a result.json laid out as Telegram Desktop writes it, cut apart without a parser.

Telegram Desktop indents its JSON one space per level, so each message is an object opened by
`  {` on a line of its own and closed by `  }` followed by `,` or, after the last one, by the
`]` of `messages`. A raw line break can only stand between JSON tokens (inside a string it
is written `\\n`), so these markers cannot occur inside a text: the file can be cut into one
object per message with `bytes.find`, and each object decoded on its own by orjson, in C.

Anything else (another layout, a cut-off file, a message orjson will not take, such as one
with an unpaired surrogate escape) ends the fast path early: `Messages.complete` stays False
and the caller reads the rest with the streaming parser, which accepts every valid export
and names the fault exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import orjson

_CHUNK = 1 << 20
_START = b'\n "messages": [\n  {\n'
_CLOSE = b"\n  }"
_NEXT = b",\n  {\n"
_LAST = b"\n ]"
_HEADER_LIMIT = 1 << 16  # name, type and id come first: the messages start within this
# How deep a message may nest, itself included: orjson's limit, so that both readers take and
# refuse the same files. Telegram Desktop writes at most 5 (message, reactions, reaction,
# recent, its sender). The streaming reader builds no prefixes (ijson's cost memory quadratic
# in depth: 60 KB of `[` took 2.2 GB), so this much stays linear.
MAX_DEPTH = 1024
# The longest string Telegram Desktop writes is a post's text, 4,096 UTF-16 units: at most
# 24 KB with every unit written `\\uXXXX`. yajl re-reads a token cut by a read from its
# start, so a string costs time quadratic in its length (100 MB ran past 120 s); 1 MiB is 40
# times the longest real one and reads in milliseconds. The fast path leaves any message
# longer than this to the streaming reader, which names the string.
MAX_TOKEN_BYTES = 1 << 20


class Messages:
    """The decoded message objects, in file order; `complete` once the list ended cleanly.

    `stream` hands out the file's bytes from the start, as they are: Telegram's `\\xNN`
    escapes are made JSON in the messages that hold any.
    """

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream
        self.complete = False

    def __iter__(self) -> Iterator[Any]:
        read = self._stream.read
        buf = b""
        while len(buf) < _HEADER_LIMIT:
            chunk = read(_CHUNK)
            if not chunk:
                break
            buf += chunk
        found = buf.find(_START)
        if found < 0:
            return
        start = found + len(_START) - 2  # the `{` of the first message
        eof = False
        while True:
            close = buf.find(_CLOSE, start)
            if close < 0 or (not eof and len(buf) < close + len(_CLOSE) + len(_NEXT)):
                if eof or len(buf) - start > MAX_TOKEN_BYTES:
                    # Cut off (or trailing garbage), or a message too long to be real: the
                    # streaming reader says which, without holding it all.
                    return
                chunk = read(_CHUNK)
                eof = not chunk
                buf = buf[start:] + chunk
                start = 0
                continue
            end = close + len(_CLOSE)
            if end - start > MAX_TOKEN_BYTES:
                return
            message = _decode(buf[start:end])
            if message is _UNDECODABLE:
                return
            after = buf[end : end + len(_NEXT)]
            if after == _NEXT:
                yield message
                start = end + len(_NEXT) - 2  # the `{` of the next one
            elif after.startswith(_LAST):
                yield message
                self.complete = _ends_cleanly(buf[end + len(_LAST) :], read)
                return
            else:
                return


_UNDECODABLE = object()


def _decode(text: bytes) -> Any:
    """One message, or `_UNDECODABLE` if orjson refuses it even with Telegram's escapes made JSON.

    A `\\xNN` escape is not JSON, so orjson refuses a message holding one: only those few are
    rewritten and decoded again, and no message is searched for escapes beforehand. orjson
    refuses a message deeper than MAX_DEPTH.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if b"\\x" not in text:
            return _UNDECODABLE
    try:
        return orjson.loads(rewrite_escapes(text))
    except orjson.JSONDecodeError:
        return _UNDECODABLE


def rewrite_escapes(data: bytes) -> bytes:
    """Telegram Desktop's `\\xNN` made `\\u00NN`; an escaped backslash is kept as it is.

    In JSON a backslash pair is always an escaped backslash, so splitting on pairs from the
    left first is what keeps `\\\\x41` (a backslash, then "x41") intact. All of it runs in C.
    """
    if b"\\\\" not in data:
        return data.replace(b"\\x", b"\\u00")  # no escaped backslash: nothing to keep apart
    return b"\\\\".join(part.replace(b"\\x", b"\\u00") for part in data.split(b"\\\\"))


class _Stream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _ends_cleanly(tail: bytes, read: Callable[[int], bytes]) -> bool:
    """After `messages`, only the closing brace (Telegram writes nothing after the list)."""
    rest = tail
    while len(rest) <= _HEADER_LIMIT:
        chunk = read(_CHUNK)
        if not chunk:
            return rest.strip() == b"}"
        rest += chunk
    return False
