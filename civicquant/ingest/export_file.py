"""Telegram Desktop's "Export chat history" JSON file (result.json), read as a stream of raw posts.

The file is read one message at a time, so memory stays bounded however large the export: cut
apart by Telegram Desktop's own layout and decoded by orjson where the file has that layout
(`export_layout`), streamed by ijson otherwise and from wherever the layout stops fitting.

The format is what Telegram Desktop's `export_output_json.cpp` writes: a top-level object
with `name`, `type` and `id` before `messages`; each message has `id`, `type` ("message", "service"
or "unsupported"), `date_unixtime` as a decimal string, `text` as a string or a list of strings and
entity objects, and optional media fields. Three other layouts are read too: a whole-account
export (`chats.list` and `left_chats.list`, each chat an object like the above; `--chat` picks
one), an export from before about 2021 (no `date_unixtime`: `date` is read in the zone given),
and a supergroup once a basic group (that group's messages first, with negative ids).
One quirk is not JSON: control characters inside strings are written as `\\xNN`, which the
reader rewrites to `\\u00NN` before parsing.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO, Any, TypeGuard

import ijson

from civicquant.errors import CivicquantError, InputFormatError
from civicquant.ingest.export_layout import MAX_DEPTH, MAX_TOKEN_BYTES, Messages, rewrite_escapes
from civicquant.ingest.posts import Channel, Media, RawPost

_READ_SIZE = 64 * 1024
_MAX_ID = 2**63 - 1  # ids and sizes go into PostgreSQL bigint columns
_BOM = b"\xef\xbb\xbf"
# PostgreSQL text and jsonb reject NUL and unpaired surrogates; U+FFFD keeps UTF-16 offsets.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A `"` that opens or closes a string: any but an escaped one (a closing quote after an escaped
# backslash is missed too, which only lengthens a stretch by a few bytes). Reversed, for the last.
_QUOTE = re.compile(rb'(?<!\\)"')
_QUOTE_REVERSED = re.compile(rb'"(?!\\)')
# Chats whose id is not a channel id (users, basic groups) or that are not one peer's history.
_NOT_CHANNELS = frozenset(
    {"saved_messages", "replies", "personal_chat", "bot_chat", "private_group"}
)
_FILE_KINDS = {
    "video_file": "video",
    "audio_file": "audio",
    "voice_message": "voice",
    "video_message": "video_note",
    "sticker": "sticker",
    "animation": "animation",
}
# Media without a file, by the key Telegram Desktop writes for it; first match wins.
_OTHER_MEDIA = (
    ("poll", "poll"),
    ("place_name", "venue"),
    ("location_information", "location"),
    ("contact_information", "contact"),
    ("game_title", "game"),
    ("invoice_information", "invoice"),
    ("giveaway_information", "giveaway"),
    ("giveaway_results", "giveaway_results"),
    ("paid_stars_amount", "paid_media"),
    ("todo_list", "todo"),
)


@dataclass(slots=True)
class ExportStats:
    """What one pass over an export has read so far; complete once iteration ends."""

    posts: int = 0
    service_skipped: int = 0
    # Messages Telegram Desktop could not export (`"type": "unsupported"`) or of an unknown type.
    unsupported_skipped: int = 0
    last_message_id: int | None = None


class ExportFile:
    """A Telegram Desktop channel export; iterating yields its posts as RawPost, in file order.

    The constructor reads the header at the start of the file into `channel` and raises
    InputFormatError if the file is missing or not a channel export. Iterating streams the
    messages, skipping service messages, and keeps `stats` current; a problem further in (a
    cut-off file, a message without a date) raises InputFormatError at that point, after every
    post before it has been yielded.

        export = ExportFile(Path("result.json"))
        for post in export:
            ...
        export.stats.posts, export.stats.service_skipped
    """

    def __init__(
        self,
        path: Path,
        *,
        stop: threading.Event | None = None,
        timezone: tzinfo | None = None,
        chat: str | None = None,
        on_service_ids: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.path = Path(path)
        # Service messages' ids are handed out in lists of at most _SERVICE_IDS_HELD (memory
        # stays bounded however many there are), the rest by flush_service_ids.
        self._on_service_ids = on_service_ids
        self._service_ids: list[int] = []
        # A whole-account export holds every chat: `chat` (a name or an id) picks one, and
        # `_account_chat` is where it sits (which list, which position), None in a chat export.
        self._chat = chat
        self._account_chat: tuple[str, int] | None = None
        self.stats = ExportStats()
        # Exports from before about 2021 have no `date_unixtime`, only `date`, the exporting
        # machine's wall clock: read in this zone, and only for messages without the former.
        self._timezone = timezone
        # A file whose id comes after its messages is read to the end for the header: `stop`
        # (set on SIGTERM or SIGINT) ends that within one read.
        self._stop = stop
        self.channel = self._read_header()
        self._own_peer = f"channel{self.channel.channel_id}"  # how `from_id` names the chat

    def watch(
        self, stop: threading.Event, on_service_ids: Callable[[list[int]], None] | None
    ) -> None:
        """From now on end a read on `stop` and hand service ids to `on_service_ids`.

        For an export opened (its header read and checked) before its run began.
        """
        self._stop = stop
        self._on_service_ids = on_service_ids

    def flush_service_ids(self) -> None:
        """Hand `on_service_ids` the service messages' ids read since it was last called."""
        ids, self._service_ids = self._service_ids, []
        if ids and self._on_service_ids is not None:
            self._on_service_ids(ids)

    def __iter__(self) -> Iterator[RawPost]:
        self.stats = ExportStats()
        self._service_ids = []
        taken = 0  # messages read by the fast path
        with self._open() as raw:
            # Telegram Desktop's own layout is cut into messages and decoded in C; at the
            # first thing that does not fit, the streaming parser takes over where it stopped.
            # A whole-account export nests its chats deeper: the streaming parser reads it all.
            laid_out = Messages(raw)
            for message in laid_out if self._account_chat is None else ():
                try:
                    post = self._read_message(message)
                except _BadMessage:
                    break  # the streaming parser reports it, with its position
                taken += 1
                if post is not None:
                    self.stats.posts += 1
                    yield post
            if laid_out.complete:
                return
            raw.seek(0)
            # The messages the fast path took are parsed again, unseen by the caller: a stop
            # is watched on every read meanwhile, and ends the iteration.
            stream = _EscapeFilter(raw, stop=self._stop)
            try:
                for index, message in enumerate(self._messages(stream)):
                    if index < taken:
                        continue
                    try:
                        post = self._read_message(message)
                    except _BadMessage as bad:
                        if not bad.positioned:
                            raise InputFormatError(
                                f"{self.path}: message {bad.message_id} {bad.problem}"
                            ) from None
                        raise self._message_error(
                            index, stream, bad.problem, bad.message_id
                        ) from None
                    if post is not None:
                        self.stats.posts += 1
                        yield post
            except _Stopped:
                return

    # --- the header ----------------------------------------------------------------------------

    def _read_header(self) -> Channel:
        name: object = None
        chat_type: object = None
        channel_id: object = None
        saw_messages = saw_chats = False
        with self._open() as raw:
            stream = _EscapeFilter(raw, stop=self._stop)
            if stream.empty:
                raise InputFormatError(f"{self.path}: empty file, not a Telegram Desktop export")
            walk = _Walk()
            try:
                for key, event, value in walk.top_level(stream):
                    if key == "name" and event in ("string", "null"):
                        name = value
                    elif key == "type" and event == "string":
                        chat_type = value
                    elif key == "id" and event == "number":
                        channel_id = value
                    elif key == "messages" and not saw_messages:
                        if event != "start_array":
                            raise InputFormatError(f'{self.path}: "messages" is not a list')
                        saw_messages = True
                    elif key is None and event == "map_key" and value in _ACCOUNT_KEYS:
                        saw_chats = True
                    # Telegram Desktop writes name, type and id before messages; a file in
                    # another order is read to the end for its id.
                    if saw_messages and channel_id is not None:
                        break
            except _TooLarge as large:
                raise self._limit_error(walk, stream, large) from None
            except _Stopped:
                raise CivicquantError(
                    f"{self.path}: stopped by a signal while reading the header; nothing imported"
                ) from None
            except (ijson.JSONError, ValueError) as exc:
                raise self._json_error(exc, stream) from exc
            except OSError as exc:
                raise self._read_error(exc) from exc
        if not saw_messages and saw_chats:
            return self._account_header()
        if not saw_messages:
            raise InputFormatError(
                f'{self.path}: not a Telegram Desktop chat export (no top-level "messages" list)'
            )
        if self._chat is not None:
            raise InputFormatError(
                f"{self.path}: an export of one chat, not of a whole account; leave out --chat"
            )
        if not _is_id(channel_id):
            raise InputFormatError(f'{self.path}: no valid channel "id" at the top level')
        return self._channel(name, chat_type, channel_id, "an export of a {}, not of a channel")

    def _channel(self, name: object, chat_type: object, channel_id: int, refusal: str) -> Channel:
        if chat_type in _NOT_CHANNELS:
            raise InputFormatError(f"{self.path}: {refusal.format(chat_type)}")
        return Channel(channel_id=channel_id, username=None, title=_text_or_none(name))

    def _account_header(self) -> Channel:
        """The chat `--chat` picks from a whole-account export; InputFormatError naming them all.

        A second pass over the file lists its chats (`chats` and `left_chats`), keeping only
        each one's name, type and id.
        """
        chats: list[_AccountChat] = []
        with self._open() as raw:
            stream = _EscapeFilter(raw, stop=self._stop)
            walk = _Walk()
            try:
                chats.extend(walk.account_chats(stream))
            except _TooLarge as large:
                raise self._limit_error(walk, stream, large) from None
            except _Stopped:
                raise CivicquantError(
                    f"{self.path}: stopped by a signal while listing its chats; nothing imported"
                ) from None
            except (ijson.JSONError, ValueError) as exc:
                raise self._json_error(exc, stream) from exc
            except OSError as exc:
                raise self._read_error(exc) from exc
        if self._chat is None:
            raise InputFormatError(
                f"{self.path}: an export of a whole account ({_listed(chats)}); pick one"
                " with --chat NAME or --chat ID"
            )
        picked = _pick_chat(chats, self._chat)
        if len(picked) != 1:
            found = "no chat" if not picked else f"{len(picked)} chats"
            hint = "give its id" if picked else "the export has"
            raise InputFormatError(
                f"{self.path}: --chat {self._chat!r} matches {found}; {hint}:"
                f" {_listed(picked or chats)}"
            )
        [chat] = picked
        self._account_chat = (chat.list_key, chat.index)
        refusal = f"--chat {self._chat!r} is a {{}}, not a channel or supergroup"
        return self._channel(chat.name, chat.chat_type, chat.chat_id, refusal)

    # --- the messages --------------------------------------------------------------------------

    def _messages(self, stream: _EscapeFilter) -> Iterator[Any]:
        walk = _Walk()
        try:
            if self._account_chat is None:
                yield from walk.messages(stream)
            else:
                yield from walk.chat_messages(stream, *self._account_chat)
        except _TooLarge as large:
            raise self._limit_error(walk, stream, large) from None
        except (ijson.JSONError, ValueError) as exc:
            raise self._json_error(exc, stream) from exc
        except OSError as exc:
            raise self._read_error(exc) from exc

    def _read_message(self, message: object) -> RawPost | None:
        """The post in one decoded message; None for a service message; _BadMessage if malformed."""
        if not isinstance(message, dict):
            raise _BadMessage("is not an object")
        message_id = message.get("id")
        if not _is_message_id(message_id):
            raise _BadMessage("has no valid id")
        message_type = message.get("type")
        if not isinstance(message_type, str):
            raise _BadMessage("has no type", message_id)
        if message_type != "message":
            self.stats.last_message_id = message_id
            if message_type == "service":
                self.stats.service_skipped += 1
                self._service_ids.append(message_id)
                if len(self._service_ids) >= _SERVICE_IDS_HELD:
                    self.flush_service_ids()
            else:
                self.stats.unsupported_skipped += 1
            return None
        # Nearly every message has a valid Unix time: only the others pay for a method call.
        posted_at = _timestamp(message.get("date_unixtime"))
        if posted_at is None:
            posted_at = self._time(message, "date_unixtime", "date", message_id)
        parts = message.get("text", message.get("text_entities", ""))
        text_and_entities = _text_and_entities(parts)
        if text_and_entities is None:
            raise _BadMessage("has malformed text", message_id)
        text, entities = text_and_entities
        self.stats.last_message_id = message_id
        sender, sender_id = self._sender(message)
        return RawPost(
            channel_id=self.channel.channel_id,
            message_id=message_id,
            posted_at=posted_at,
            text=text,
            entities=entities,
            media=_media(message),
            reply_to=self._reply_to(message),
            forwarded_from=_text_or_none(message.get("forwarded_from")),
            edit_date=(
                self._edit_time(message)
                if self._timezone
                else _timestamp(message.get("edited_unixtime"))
            ),
            author=_text_or_none(message.get("author")),
            sender=sender,
            sender_id=sender_id,
        )

    def _time(
        self, message: Mapping[str, Any], unixtime_key: str, local_key: str, message_id: int
    ) -> datetime:
        """The message's time: its Unix time, else (with a zone given) its local wall clock."""
        if unixtime_key in message:
            posted_at = _timestamp(message[unixtime_key])
            if posted_at is None:
                raise _BadMessage(f"has no valid {unixtime_key}", message_id)
            return posted_at
        if self._timezone is None:
            raise _BadMessage(_NO_UNIXTIME, message_id, positioned=False)
        posted_at = _local_time(message.get(local_key), self._timezone)
        if posted_at is None:
            raise _BadMessage(f"has neither {unixtime_key} nor a valid {local_key}", message_id)
        return posted_at

    def _edit_time(self, message: Mapping[str, Any]) -> datetime | None:
        if "edited_unixtime" in message or self._timezone is None:
            return _timestamp(message.get("edited_unixtime"))
        return _local_time(message.get("edited"), self._timezone)

    def _sender(self, message: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """The sender's name and id from `from` and `from_id`; both None for the chat itself."""
        raw_id = message.get("from_id")
        if raw_id is None or raw_id == self._own_peer:
            return None, None
        # Exports from before about 2021 write a sender (a user then) as a bare number.
        sender_id = f"user{raw_id}" if _is_id(raw_id) else _text_or_none(raw_id)
        if sender_id is None:
            return None, None
        return _text_or_none(message.get("from")), sender_id

    def _reply_to(self, message: Mapping[str, Any]) -> int | None:
        """The replied-to message id if that message is in this channel (not in another chat)."""
        reply_to = message.get("reply_to_message_id")
        peer = message.get("reply_to_peer_id")
        if not _is_message_id(reply_to):
            return None
        if peer is not None and peer != f"channel{self.channel.channel_id}":
            return None
        return reply_to

    # --- errors --------------------------------------------------------------------------------

    def _open(self) -> IO[bytes]:
        # Opened without blocking: opening a FIFO for reading waits for a writer, past any
        # signal (the interrupted call is retried). Only then is the kind of file checked.
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        except FileNotFoundError as exc:
            raise InputFormatError(f"{self.path}: no such file") from exc
        except OSError as exc:
            raise self._read_error(exc) from exc
        try:
            mode = os.fstat(fd).st_mode
            # The file is read twice (header, then messages) and seeked: a pipe will not do,
            # nor a device (a read could block for ever).
            if not stat.S_ISREG(mode):
                kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
                raise InputFormatError(f"{self.path}: {kind}; give the export's result.json")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _read_error(self, exc: OSError) -> InputFormatError:
        return InputFormatError(f"{self.path}: cannot read ({exc.strerror or exc})")

    def _after(self) -> str:
        last = self.stats.last_message_id
        return "" if last is None else f" after message {last}"

    def _json_error(self, exc: Exception, stream: _EscapeFilter) -> InputFormatError:
        if stream.at_eof:
            return InputFormatError(
                f"{self.path}: cut off at byte {stream.raw_offset}{self._after()} (incomplete JSON)"
            )
        offset = _locate_json_error(self.path, stream.chunk_start)
        return InputFormatError(
            f"{self.path}: invalid JSON at byte {offset}{self._after()} ({_reason(exc)})"
        )

    def _limit_error(
        self, walk: _Walk, stream: _EscapeFilter, large: _TooLarge
    ) -> InputFormatError:
        if walk.index is None:
            return InputFormatError(
                f"{self.path}: the header {large.problem} (before byte {stream.raw_offset})"
            )
        return self._message_error(walk.index, stream, large.problem, walk.message_id())

    def _message_error(
        self, index: int, stream: _EscapeFilter, problem: str, message_id: int | None = None
    ) -> InputFormatError:
        subject = "message" if message_id is None else f"message {message_id}"
        last = self.stats.last_message_id
        after = "" if last is None else f", after message {last}"
        return InputFormatError(
            f"{self.path}: {subject} {problem} (messages[{index}]{after},"
            f" before byte {stream.raw_offset})"
        )


class _BadMessage(Exception):
    """A message that is valid JSON but not a message Telegram Desktop writes.

    `positioned` is False for a problem of the whole file, not of where the message sits.
    """

    def __init__(
        self, problem: str, message_id: int | None = None, *, positioned: bool = True
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.message_id = message_id
        self.positioned = positioned


_NO_UNIXTIME = (
    "has no date_unixtime (an export from before 2021): pass --timezone with the exporting"
    " machine's zone, e.g. --timezone Europe/Moscow"
)


class _Stopped(Exception):
    """The run's stop event was set (SIGTERM or SIGINT) while the file was being read."""


class _TooLarge(Exception):
    """JSON nested deeper than MAX_DEPTH or a token longer than MAX_TOKEN_BYTES."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


_TOO_DEEP = f"nests deeper than {MAX_DEPTH} levels"
_FILE_DEPTH = MAX_DEPTH + 2  # a message sits in `messages` in the top object
_TOO_LONG = f"holds a string or value longer than {MAX_TOKEN_BYTES} bytes"
_STARTS = frozenset({"start_map", "start_array"})
_ENDS = frozenset({"end_map", "end_array"})
_ACCOUNT_KEYS = frozenset({"chats", "left_chats"})
_SERVICE_IDS_HELD = 2000  # as many as an import stores posts in one batch
# In a whole-account export a message sits in `messages` in a chat in `list` in `chats`.
_ACCOUNT_DEPTH = MAX_DEPTH + 5
_MAX_CHATS_LISTED = 40  # an error line names at most this many chats


@dataclass(frozen=True, slots=True)
class _AccountChat:
    """One chat of a whole-account export: where it sits, and what it is."""

    list_key: str  # "chats" or "left_chats"
    index: int
    name: object
    chat_type: object
    chat_id: int

    def shown(self) -> str:
        name = self.name if isinstance(self.name, str) else "(no name)"
        return f"{_storable(name)} ({self.chat_type}, {self.chat_id})"


def _listed(chats: list[_AccountChat]) -> str:
    """The chats as `name (type, id)`, at most _MAX_CHATS_LISTED of them."""
    if not chats:
        return "no chats"
    shown = "; ".join(chat.shown() for chat in chats[:_MAX_CHATS_LISTED])
    more = len(chats) - _MAX_CHATS_LISTED
    counted = "1 chat" if len(chats) == 1 else f"{len(chats)} chats"
    return f"{counted}: {shown}" + (f"; and {more} more" if more > 0 else "")


def _pick_chat(chats: list[_AccountChat], wanted: str) -> list[_AccountChat]:
    """The chats `--chat` names: by id if it is a number, else by name (exact, then any case)."""
    text = wanted.strip()
    if text.lstrip("-").isdigit():
        return [chat for chat in chats if chat.chat_id == int(text)]
    exact = [chat for chat in chats if chat.name == text]
    if exact:
        return exact
    folded = text.casefold()
    return [chat for chat in chats if isinstance(chat.name, str) and chat.name.casefold() == folded]


class _Walk:
    """ijson's basic events of a whole export, with the depth capped and no prefixes built.

    ijson's own `parse` and `items` build every event's prefix, a string as long as the
    depth, and keep one per level: memory quadratic in depth. Here only the top-level key is
    tracked, and the messages are built from the basic events. `index` is the position in
    `messages` of the message being read (None before the list starts), for errors.
    """

    def __init__(self) -> None:
        self.index: int | None = None
        self._current: object = None

    def message_id(self) -> int | None:
        current = self._current
        message_id = current.get("id") if isinstance(current, dict) else None
        return message_id if _is_message_id(message_id) else None

    def top_level(self, stream: _EscapeFilter) -> Iterator[tuple[str | None, str, Any]]:
        """(key, event, value) for the top object's keys (key None) and its values' first events.

        Everything deeper is read, depth-checked and passed over.
        """
        depth = 0
        key: str | None = None
        for event, value in ijson.basic_parse(stream, buf_size=_READ_SIZE):
            if event in _STARTS:
                depth += 1
                # A whole-account export's chats are checked by the pass over them, which
                # can name the message (this pass keeps only a count, whatever the depth).
                if depth > _FILE_DEPTH and key not in _ACCOUNT_KEYS:
                    raise _TooLarge(_TOO_DEEP)
                if depth == 2:
                    self.index = -1 if key == "messages" and event == "start_array" else None
                    yield key, event, value
                elif depth == 3 and self.index is not None:
                    self.index += 1
            elif event in _ENDS:
                depth -= 1
                if depth == 1:
                    self.index = None
            elif depth == 1:
                if event == "map_key":
                    key = value
                    yield None, event, value
                else:
                    yield key, event, value
            elif depth == 2 and self.index is not None:
                self.index += 1

    def messages(self, stream: _EscapeFilter) -> Iterator[Any]:
        """Each element of every top-level `messages` list, decoded, in file order."""
        events = ijson.basic_parse(stream, buf_size=_READ_SIZE)
        depth = 0
        key: str | None = None
        for event, value in events:
            if event in _STARTS:
                depth += 1
                if depth > _FILE_DEPTH:
                    raise _TooLarge(_TOO_DEEP)
                if depth == 2 and key == "messages" and event == "start_array":
                    yield from self._items(events)
                    self.index = None
                    depth -= 1
            elif event in _ENDS:
                depth -= 1
            elif event == "map_key" and depth == 1:
                key = value

    def account_chats(self, stream: _EscapeFilter) -> Iterator[_AccountChat]:
        """Each chat of a whole-account export's `chats` and `left_chats` lists, in file order."""
        for list_key, index, fields, _events in self._account_walk(stream, None):
            chat_id = fields.get("id")
            if _is_id(chat_id):
                yield _AccountChat(list_key, index, fields.get("name"), fields.get("type"), chat_id)

    def chat_messages(self, stream: _EscapeFilter, list_key: str, index: int) -> Iterator[Any]:
        """The messages of the chat at `index` in a whole-account export's `list_key` list."""
        for _key, _index, _fields, events in self._account_walk(stream, (list_key, index)):
            yield from self._items(events)
            self.index = None

    def _account_walk(
        self, stream: _EscapeFilter, target: tuple[str, int] | None
    ) -> Iterator[tuple[str, int, dict[str, Any], Iterator[tuple[str, Any]]]]:
        """(list, index, fields, events) per chat: at its end, or at the start of its messages.

        Without a `target`, every chat is yielded once it ends, with its name, type and id;
        with one, only that chat, as its `messages` list opens, the caller reading the list
        from `events` to its end.
        """
        events = ijson.basic_parse(stream, buf_size=_READ_SIZE)
        depth = 0
        top_key: str | None = None  # depth 1: chats, left_chats, ...
        inner_key: str | None = None  # depth 2: about, list
        chat_key: str | None = None  # depth 4: a chat's name, type, id, messages
        index = -1
        fields: dict[str, Any] = {}
        in_list = in_chat = False
        for event, value in events:
            if event in _STARTS:
                depth += 1
                if depth > _ACCOUNT_DEPTH:
                    raise _TooLarge(_TOO_DEEP)
                if depth == 3:
                    in_list = (
                        top_key in _ACCOUNT_KEYS and inner_key == "list" and event == "start_array"
                    )
                    index = -1
                elif depth == 4 and in_list:
                    index += 1
                    fields = {}
                    in_chat = event == "start_map"
                elif depth == 5 and in_chat and chat_key == "messages" and event == "start_array":
                    if target == (top_key, index):
                        assert top_key is not None
                        yield top_key, index, fields, events
                        return
                    self.index = -1  # another chat's messages: counted, for errors
                elif depth == 6 and self.index is not None:
                    self.index += 1
                    self._current = None
            elif event in _ENDS:
                if depth == 5:
                    self.index = None
                elif depth == 4 and in_chat:
                    in_chat = False
                    if target is None and top_key is not None:
                        yield top_key, index, fields, events
                elif depth == 3:
                    in_list = False
                depth -= 1
            elif event == "map_key":
                if depth == 1:
                    top_key, inner_key = value, None
                elif depth == 2:
                    inner_key = value
                elif depth == 4 and in_chat:
                    chat_key = value
            elif depth == 4 and in_chat and chat_key in ("name", "type", "id"):
                fields[chat_key] = value
            elif depth == 5 and self.index is not None:
                self.index += 1

    def _items(self, events: Iterator[tuple[str, Any]]) -> Iterator[Any]:
        # Depth 2 is the list; a message object is depth 3.
        index = -1
        for event, value in events:
            if event == "end_array":
                return
            index += 1
            self.index = index
            self._current = None
            if event == "start_map":
                yield self._container({}, events)
            elif event == "start_array":
                yield self._container([], events)
            else:
                yield value

    def _container(
        self, root: dict[str, Any] | list[Any], events: Iterator[tuple[str, Any]]
    ) -> Any:
        """The value whose start event was just read (a message sits at depth 3)."""
        self._current = root
        stack: list[Any] = [root]
        container: Any = root
        key: Any = None
        room = MAX_DEPTH - 1  # how many more levels may open below the message
        for event, value in events:
            if event == "map_key":
                key = value
                continue
            if event == "start_map":
                value = {}
            elif event == "start_array":
                value = []
            elif event == "end_map" or event == "end_array":
                stack.pop()
                if not stack:
                    return root
                container = stack[-1]
                continue
            if type(container) is dict:
                container[key] = value
            else:
                container.append(value)
            if event == "start_map" or event == "start_array":
                if len(stack) > room:
                    raise _TooLarge(_TOO_DEEP)
                stack.append(value)
                container = value
        return root  # cut off: the parser raises on its next read


class _EscapeFilter:
    """A byte stream over an export that rewrites `\\xNN` to `\\u00NN`, for ijson to read.

    It also counts the raw bytes read, so that errors can name a byte offset. With
    `byte_by_byte_from`, it hands out single bytes from that offset on, so that a parser error
    surfaces right after the byte that caused it.
    """

    def __init__(
        self,
        raw: IO[bytes],
        *,
        byte_by_byte_from: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._raw = raw
        self._stop = stop
        self._byte_by_byte_from = byte_by_byte_from
        self._held = b""  # an odd trailing backslash: the escape it starts ends in the next read
        head = raw.read(len(_BOM))
        self.empty = not head
        if head == _BOM:
            self.raw_offset = len(_BOM)
        else:
            raw.seek(0)
            self.raw_offset = 0
        self.chunk_start = self.raw_offset  # where the bytes last handed out began
        self.at_eof = False
        self._since_quote = 0  # bytes handed out since the last quote

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self._stop is not None and self._stop.is_set():
            raise _Stopped
        while True:
            start = self.raw_offset - len(self._held)
            chunk = self._raw.read(self._read_size(size))
            self.raw_offset += len(chunk)
            if not chunk:
                self.at_eof = True
                data, self._held = self._held, b""
                self.chunk_start = start
                return data
            data = self._held + chunk
            backslashes = len(data) - len(data.rstrip(b"\\"))
            if backslashes % 2:
                data, self._held = data[:-1], data[-1:]
            else:
                self._held = b""
            self._check_token_length(data)
            if b"\\x" in data:
                data = rewrite_escapes(data)
            if data:
                self.chunk_start = start
                return data

    def _check_token_length(self, data: bytes) -> None:
        """_TooLarge once more than MAX_TOKEN_BYTES pass without a quote, before yajl sees them.

        Every string longer than that holds such a stretch, and a stretch inside one read
        (at most 64 KiB) is shorter: only the stretch across reads needs counting.
        """
        first = _QUOTE.search(data)
        if first is None:
            self._since_quote += len(data)
            if self._since_quote > MAX_TOKEN_BYTES:
                raise _TooLarge(_TOO_LONG)
            return
        if self._since_quote + first.start() > MAX_TOKEN_BYTES:
            raise _TooLarge(_TOO_LONG)
        last = _QUOTE_REVERSED.search(data[::-1])
        self._since_quote = last.start() if last is not None else 0

    def _read_size(self, wanted: int) -> int:
        fine_from = self._byte_by_byte_from
        if fine_from is None:
            # Never more: _check_token_length counts on reads of at most this.
            return min(wanted, _READ_SIZE) if wanted > 0 else _READ_SIZE
        if self.raw_offset >= fine_from:
            return 1
        return min(_READ_SIZE, fine_from - self.raw_offset)


def _locate_json_error(path: Path, chunk_start: int) -> int:
    """The byte offset where the JSON parser fails, found by re-reading bytewise near the fault.

    ijson reports no position; the first pass knows only which chunk failed. This second pass is
    paid only when a file is broken.
    """
    try:
        with path.open("rb") as raw:
            stream = _EscapeFilter(raw, byte_by_byte_from=chunk_start)
            try:
                for _event in ijson.basic_parse(stream, buf_size=_READ_SIZE):
                    pass
            except (ijson.JSONError, ValueError, _TooLarge):
                return stream.raw_offset if stream.at_eof else max(stream.raw_offset - 1, 0)
    except OSError:
        pass
    return chunk_start


def _reason(exc: Exception) -> str:
    """The first line of a parser error, without yajl's picture of where it is."""
    if isinstance(exc, UnicodeError):
        return "invalid UTF-8 or \\u escape"
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    lines = str(detail).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc).__name__


# --- fields ---------------------------------------------------------------------------------


def _is_id(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 < value <= _MAX_ID


def _is_message_id(value: object) -> TypeGuard[int]:
    """A message id: positive, or negative for a supergroup's messages from its basic-group days.

    Telegram Desktop writes the messages of the basic group a supergroup was upgraded from
    (another peer's history) with negative ids, before the supergroup's own.
    """
    return type(value) is int and value != 0 and -_MAX_ID <= value <= _MAX_ID


def _count(value: object) -> int | None:
    return value if type(value) is int and 0 <= value <= _MAX_ID else None


def _storable(text: str) -> str:
    if "\x00" not in text and (text.isascii() or _has_no_surrogates(text)):
        return text  # nearly always: checked in C before any regular expression runs
    return _UNSTORABLE.sub("\ufffd", text)


def _has_no_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_or_none(value: object) -> str | None:
    return _storable(value) if isinstance(value, str) else None


def _measured(text: str) -> tuple[str, int]:
    """`text` made storable, and its length in UTF-16 code units (how Telegram counts offsets)."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-16-le")) // 2
    except UnicodeEncodeError:  # an unpaired surrogate
        text = _storable(text)
        return text, len(text.encode("utf-16-le")) // 2


def _timestamp(value: object) -> datetime | None:
    """A Unix time (Telegram Desktop writes it as a decimal string) as an aware UTC datetime."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 11:
        seconds = int(value)
    elif type(value) is int and 0 <= value < 10**11:
        seconds = value
    else:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def _local_time(value: object, zone: tzinfo) -> datetime | None:
    """Telegram Desktop's `date` ("2019-05-01T12:34:56", the exporting machine's wall clock) in UTC.

    A wall-clock time that a DST change repeats is read as its first occurrence (fold 0).
    """
    if type(value) is not str or not _LOCAL_DATE.fullmatch(value):
        return None
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return None
    return local.replace(tzinfo=zone).astimezone(UTC)


_LOCAL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")


def _text_and_entities(parts: object) -> tuple[str, list[dict[str, Any]]] | None:
    """The text and its entities (UTF-16 offsets) from `text`; None if malformed.

    `text` is a string, or a list of strings (plain) and objects {type, text, href?, language?,
    collapsed?, user_id?, document_id?}. Telegram Desktop flattens entities into consecutive,
    non-overlapping parts, so each object is one entity covering exactly its own text.
    """
    if isinstance(parts, str):
        return _storable(parts), []
    if not isinstance(parts, list):
        return None
    pieces: list[str] = []
    entities: list[dict[str, Any]] = []
    offset = 0
    for part in parts:
        if isinstance(part, str):
            piece, entity_type = part, "plain"
        elif (
            isinstance(part, dict)
            and isinstance(part.get("type"), str)
            and isinstance(part.get("text"), str)
        ):
            piece, entity_type = part["text"], part["type"]
        else:
            return None
        piece, length = _measured(piece)
        if entity_type != "plain" and length:
            entities.append(_entity(entity_type, part, offset, length))
        pieces.append(piece)
        offset += length
    return "".join(pieces), entities


def _entity(entity_type: str, part: object, offset: int, length: int) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": entity_type, "offset": offset, "length": length}
    if not isinstance(part, dict):
        return entity
    if entity_type == "text_link" and isinstance(part.get("href"), str):
        entity["url"] = _storable(part["href"])
    elif entity_type == "pre" and isinstance(part.get("language"), str) and part["language"]:
        entity["language"] = _storable(part["language"])
    elif entity_type == "mention_name":
        user_id = _numeric_id(part.get("user_id"))
        if user_id is not None:
            entity["user_id"] = user_id
    elif entity_type == "custom_emoji":
        document_id = _numeric_id(part.get("document_id"))
        if document_id is not None:
            entity["document_id"] = document_id
    elif entity_type == "blockquote" and part.get("collapsed") is True:
        entity["collapsed"] = True
    return entity


def _numeric_id(value: object) -> int | None:
    """An id written as a JSON number or a decimal string (custom emoji ids are strings)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    return value if _is_id(value) else None


def _media(message: Mapping[str, Any]) -> Media | None:
    """A summary of the message's attachment, from the fields Telegram Desktop writes for it."""
    if "photo" in message:
        return Media(
            kind="photo",
            file_name=_file_name(message.get("photo")),
            size=_count(message.get("photo_file_size")),
        )
    if "file" in message or "media_type" in message:
        media_type = message.get("media_type")
        kind = "document"
        if isinstance(media_type, str):
            kind = _FILE_KINDS.get(media_type, kind)
        return Media(
            kind=kind,
            file_name=_text_or_none(message.get("file_name")),
            mime_type=_text_or_none(message.get("mime_type")),
            size=_count(message.get("file_size")),
        )
    for key, kind in _OTHER_MEDIA:
        if key in message:
            return Media(kind=kind)
    return None


def _file_name(relative_path: object) -> str | None:
    """The base name of an exported file's relative path, or None when the file was not saved.

    Telegram Desktop writes "(File not included. Change data exporting settings to download.)"
    and the like in place of a path when it skipped the file.
    """
    if not isinstance(relative_path, str) or not relative_path or relative_path.startswith("("):
        return None
    return _storable(relative_path.rsplit("/", 1)[-1]) or None
