"""The Telethon adapter: a ChannelReader backed by a real Telegram user account.

Import this module inside the command that reads Telegram, never at the top of the CLI:
it imports Telethon, and `civicquant --help` and `civicquant health` must start fast.

Error translation happens here and nowhere else. FloodWaits go to the FloodWaitPolicy
and the call is repeated; transient failures (network, Telegram's internal errors) are
retried with exponential backoff; any other refusal becomes a one-line TelegramError
naming the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import re
import sqlite3
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog
from telethon import TelegramClient, errors, events, utils
from telethon.sessions import SQLiteSession, StringSession
from telethon.tl import types
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from civicquant.errors import ConfigError, TelegramError, UsageError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, Media, RawPost
from civicquant.ingest.reader import (
    DeletedPosts,
    EditedPost,
    FloodWaitPolicy,
    NewPost,
    Sleep,
    Update,
)

log = structlog.stdlib.get_logger(__name__)

T = TypeVar("T")

# One GetHistory request returns at most 100 messages; one GetMessages takes at most 100 ids.
PAGE_SIZE = 100
IDS_PER_REQUEST = 100
# Telegram sometimes answers a retried call with another FloodWait; past this many in a
# row for one call, something is wrong and the run should end rather than spin.
MAX_FLOOD_WAITS_PER_CALL = 5
SESSION_SUFFIX = ".session"

_FLOOD_ERRORS = (
    errors.FloodWaitError,
    errors.FloodPremiumWaitError,
    errors.SlowModeWaitError,
    errors.FloodTestPhoneWaitError,
)
_TELEGRAM_INTERNAL_ERRORS = (errors.ServerError, errors.RpcCallFailError, errors.TimedOutError)
_NETWORK_ERRORS = (ConnectionError, asyncio.TimeoutError, OSError)

_PRIVATE = "the channel is private, or this account was banned from it"

_ENTITY_TYPES: dict[type[Any], str] = {
    types.MessageEntityBold: "bold",
    types.MessageEntityItalic: "italic",
    types.MessageEntityCode: "code",
    types.MessageEntityPre: "pre",
    types.MessageEntityTextUrl: "text_link",
    types.MessageEntityUrl: "link",
    types.MessageEntityHashtag: "hashtag",
    types.MessageEntityCashtag: "cashtag",
    types.MessageEntityMention: "mention",
    types.MessageEntityMentionName: "mention_name",
    types.MessageEntityEmail: "email",
    types.MessageEntityPhone: "phone",
    types.MessageEntityBotCommand: "bot_command",
    types.MessageEntityUnderline: "underline",
    types.MessageEntityStrike: "strikethrough",
    types.MessageEntitySpoiler: "spoiler",
    types.MessageEntityBlockquote: "blockquote",
    types.MessageEntityCustomEmoji: "custom_emoji",
    types.MessageEntityBankCard: "bank_card",
}


class TransientTelegramError(TelegramError):
    """A failure worth retrying: the network, or Telegram's own internal errors."""


class TelethonReader:
    """ChannelReader over a connected, logged-in TelegramClient (see `make_client`)."""

    def __init__(
        self,
        client: TelegramClient,
        flood: FloodWaitPolicy,
        *,
        attempts: int = 4,
        retry_sleep: Sleep = asyncio.sleep,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._client = client
        self._flood = flood
        self._attempts = attempts
        self._retry_sleep = retry_sleep
        self._page_size = page_size
        self._peers: dict[int, Any] = {}  # channel id -> InputPeerChannel (with access hash)
        self._dialogs_loaded = False

    async def resolve(self, spec: ChannelSpec) -> Channel:
        """Return the channel `spec` names; TelegramError if missing, private or not a channel."""
        what = f"resolving {spec}"
        entity = await self._call(what, functools.partial(self._lookup, what, spec))
        if isinstance(entity, types.ChannelForbidden):
            raise TelegramError(f"{what}: {_PRIVATE}")
        if isinstance(entity, types.User):
            raise TelegramError(f"{what}: that is a user or bot, not a channel")
        if not isinstance(entity, types.Channel):
            raise TelegramError(f"{what}: that is a group chat, not a channel")
        channel = Channel(
            channel_id=int(entity.id), username=_public_username(entity), title=str(entity.title)
        )
        self._peers[channel.channel_id] = utils.get_input_peer(entity)
        log.info(
            "channel_resolved",
            spec=str(spec),
            channel_id=channel.channel_id,
            username=channel.username,
        )
        return channel

    async def history(
        self,
        channel: Channel,
        *,
        min_id: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[RawPost]:
        """Yield posts oldest first: id above `min_id`, `since` <= posted_at < `until`."""
        _require_aware("since", since)
        _require_aware("until", until)
        what = f"reading history of {_label(channel)}"
        peer = await self._input_peer(channel)
        after_id = min_id
        # Telegram positions a page by id or by date; the date is only needed to find the
        # start when there is no id to resume from. One second early, because Telegram
        # dates are whole seconds and `since` is inclusive; the filter below trims.
        offset_date = since - timedelta(seconds=1) if since is not None and min_id == 0 else None
        yielded = 0
        while limit is None or yielded < limit:
            page = await self._call(
                what, functools.partial(self._page, peer, after_id, offset_date)
            )
            if not page:
                return
            offset_date = None
            for message in page:
                after_id = max(after_id, int(message.id))
                post = message_to_post(message, channel.channel_id)
                if post is None or (since is not None and post.posted_at < since):
                    continue
                # Channel message ids grow with time, so nothing later is in range.
                if until is not None and post.posted_at >= until:
                    return
                yield post
                yielded += 1
                if limit is not None and yielded >= limit:
                    return

    async def fetch(self, channel: Channel, ids: Sequence[int]) -> dict[int, RawPost | None]:
        """Return each asked id's current post, or None when it no longer exists."""
        what = f"fetching posts of {_label(channel)}"
        wanted = [message_id for message_id in dict.fromkeys(ids) if message_id > 0]
        posts: dict[int, RawPost | None] = dict.fromkeys(ids)
        if not wanted:
            return posts
        peer = await self._input_peer(channel)
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            chunk = wanted[start : start + IDS_PER_REQUEST]
            messages = await self._call(
                what, functools.partial(self._client.get_messages, peer, ids=chunk)
            )
            found = {int(m.id): m for m in messages or () if m is not None}
            for message_id in chunk:
                message = found.get(message_id)
                posts[message_id] = (
                    None if message is None else message_to_post(message, channel.channel_id)
                )
        return posts

    async def updates(self, channels: Sequence[Channel]) -> AsyncIterator[Update]:
        """Yield new, edited and deleted posts of `channels` until the connection closes.

        The client must already be connected; Telethon delivers updates from its own
        background task. Raises TelegramError when the client disconnects for good.
        """
        watched = {channel.channel_id for channel in channels}
        peers = [types.PeerChannel(channel_id) for channel_id in watched]
        queue: asyncio.Queue[Update] = asyncio.Queue()

        async def on_new(event: Any) -> None:
            post = _channel_post(event.message, watched)
            if post is not None:
                queue.put_nowait(NewPost(post))

        async def on_edit(event: Any) -> None:
            post = _channel_post(event.message, watched)
            if post is not None:
                queue.put_nowait(EditedPost(post))

        async def on_delete(event: Any) -> None:
            if event.chat_id is None:  # Telegram does not say where; never for channels
                return
            channel_id, peer_type = utils.resolve_id(event.chat_id)
            if peer_type is types.PeerChannel and channel_id in watched:
                ids = tuple(int(message_id) for message_id in event.deleted_ids)
                queue.put_nowait(DeletedPosts(channel_id=channel_id, message_ids=ids))

        handlers = [
            (on_new, events.NewMessage(chats=peers)),
            (on_edit, events.MessageEdited(chats=peers)),
            (on_delete, events.MessageDeleted(chats=peers)),
        ]
        for callback, builder in handlers:
            self._client.add_event_handler(callback, builder)
        log.info("listening", channels=sorted(watched))
        try:
            disconnected: asyncio.Future[Any] = self._client.disconnected
            while True:
                if not queue.empty():
                    yield queue.get_nowait()
                    continue
                getter = asyncio.ensure_future(queue.get())
                try:
                    await asyncio.wait({getter, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not getter.done():
                        getter.cancel()
                if getter.done() and not getter.cancelled():
                    yield getter.result()
                    continue
                cause = None if disconnected.cancelled() else disconnected.exception()
                reason = f" ({_describe(cause)})" if cause is not None else ""
                raise TelegramError(f"listening: the connection to Telegram closed{reason}")
        finally:
            for callback, _ in handlers:
                self._client.remove_event_handler(callback)

    # --- calls -------------------------------------------------------------------------

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`, pacing FloodWaits through the policy and retrying transient errors."""
        flood_waits = 0
        while True:
            try:
                return await self._with_retries(what, operation)
            except _FLOOD_ERRORS as exc:
                flood_waits += 1
                if flood_waits > MAX_FLOOD_WAITS_PER_CALL:
                    raise TelegramError(
                        f"{what}: Telegram asked to wait {flood_waits} times in a row"
                    ) from exc
                log.info("telegram_flood_wait", what=what, seconds=exc.seconds)
                await self._flood.wait(int(exc.seconds))

    async def _with_retries(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                "telegram_call_retrying",
                what=what,
                attempt=state.attempt_number,
                error=_describe(error) if error is not None else None,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientTelegramError),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=1, min=1, max=30),
            sleep=self._retry_sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await _translated(what, operation)
        raise AssertionError("unreachable: tenacity returns or re-raises")

    async def _lookup(self, what: str, spec: ChannelSpec) -> Any:
        target: Any
        try:
            if spec.username is not None:
                # get_entity(username) would call ResolveUsername every run, and Telegram
                # rations that call hard; get_input_entity answers from the session's
                # entity cache when it can, and GetChannels by access hash is cheap.
                target = await self._client.get_input_entity(spec.username)
            else:
                target = types.PeerChannel(spec.channel_id)
            return await self._client.get_entity(target)
        except ValueError as exc:
            # Telethon raises ValueError when nothing matches. A bare id resolves only
            # from the entity cache, which the dialog list fills with every joined channel.
            if spec.channel_id is not None and not self._dialogs_loaded:
                await self._client.get_dialogs()
                self._dialogs_loaded = True
                with contextlib.suppress(ValueError):
                    return await self._client.get_entity(target)
            if spec.username is not None:
                reason = "no public channel has this username"
            else:
                reason = (
                    "this account does not know that channel id; a numeric id works only "
                    "for channels the account has joined (give its @name instead)"
                )
            raise TelegramError(f"{what}: {reason}") from exc

    async def _input_peer(self, channel: Channel) -> Any:
        peer = self._peers.get(channel.channel_id)
        if peer is not None:
            return peer
        if channel.username is not None:
            resolved = await self.resolve(ChannelSpec(username=channel.username.lower()))
            if resolved.channel_id != channel.channel_id:
                raise TelegramError(
                    f"{_label(channel)} now names a different channel "
                    f"({resolved.channel_id}, not {channel.channel_id})"
                )
        else:
            await self.resolve(ChannelSpec(channel_id=channel.channel_id))
        return self._peers[channel.channel_id]

    async def _page(self, peer: Any, after_id: int, offset_date: datetime | None) -> list[Any]:
        """Return up to one page of messages with ids above `after_id`, oldest first."""
        return [
            message
            async for message in self._client.iter_messages(
                peer,
                limit=self._page_size,
                min_id=after_id,
                offset_date=offset_date,
                reverse=True,
            )
            if message.id > after_id
        ]


async def _translated(what: str, operation: Callable[[], Awaitable[T]]) -> T:
    """Run `operation`, turning Telethon and network errors into civicquant's own."""
    try:
        return await operation()
    except _FLOOD_ERRORS:
        raise
    except _TELEGRAM_INTERNAL_ERRORS as exc:
        raise TransientTelegramError(
            f"{what}: Telegram is having internal problems ({_describe(exc)})"
        ) from exc
    except errors.RPCError as exc:
        raise TelegramError(f"{what}: {_refusal(exc)}") from exc
    except _NETWORK_ERRORS as exc:
        raise TransientTelegramError(f"{what}: network problem ({_describe(exc)})") from exc


def _refusal(exc: errors.RPCError) -> str:
    if isinstance(exc, errors.ChannelPrivateError):
        return _PRIVATE
    if isinstance(exc, errors.UsernameNotOccupiedError | errors.UsernameInvalidError):
        return "no public channel has this username"
    if isinstance(exc, errors.ChannelInvalidError | errors.PeerIdInvalidError):
        return "this account cannot see that channel"
    if isinstance(exc, errors.UnauthorizedError):
        return (
            "the Telegram session is no longer logged in (revoked or expired); "
            f"make a new TG_SESSION / TG_SESSION_STRING ({type(exc).__name__})"
        )
    if isinstance(exc, errors.AuthKeyDuplicatedError):
        return (
            "Telegram saw this session used from two places at once and revoked it; "
            "make a new session and use it from one process only"
        )
    return f"Telegram refused the request ({_describe(exc)})"


# --- conversion ------------------------------------------------------------------------


def message_to_post(message: Any, channel_id: int) -> RawPost | None:
    """Return the RawPost for a Telethon message, or None for service messages and empties."""
    if not isinstance(message, types.Message):
        return None
    if message.date is None:
        raise TelegramError(f"message {message.id} of channel {channel_id} has no date")
    posted_at = _utc(message.date)
    assert posted_at is not None
    return RawPost(
        channel_id=channel_id,
        message_id=int(message.id),
        posted_at=posted_at,
        text=str(message.message or ""),
        entities=[_entity(entity) for entity in message.entities or ()],
        media=_media(message.media),
        views=_optional_int(message.views),
        forwards=_optional_int(message.forwards),
        reply_to=(
            _optional_int(message.reply_to.reply_to_msg_id)
            if isinstance(message.reply_to, types.MessageReplyHeader)
            else None
        ),
        grouped_id=_optional_int(message.grouped_id),
        forwarded_from=_forwarded_from(message.fwd_from),
        edit_date=_utc(message.edit_date),
        author=str(message.post_author) if message.post_author else None,
    )


def _channel_post(message: Any, watched: set[int]) -> RawPost | None:
    peer = getattr(message, "peer_id", None)
    if not isinstance(peer, types.PeerChannel) or peer.channel_id not in watched:
        return None
    return message_to_post(message, int(peer.channel_id))


def _entity(entity: Any) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "type": _ENTITY_TYPES.get(type(entity), "unknown"),
        "offset": int(entity.offset),
        "length": int(entity.length),
    }
    if isinstance(entity, types.MessageEntityTextUrl):
        shaped["url"] = str(entity.url)
    elif isinstance(entity, types.MessageEntityPre) and entity.language:
        shaped["language"] = str(entity.language)
    elif isinstance(entity, types.MessageEntityMentionName):
        shaped["user_id"] = int(entity.user_id)
    return shaped


def _media(media: Any) -> Media | None:
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None
    if isinstance(media, types.MessageMediaPhoto):
        return Media(kind="photo", size=_largest_photo_size(media.photo))
    if isinstance(media, types.MessageMediaDocument):
        return _document(media.document)
    if isinstance(media, types.MessageMediaWebPage):
        return Media(kind="webpage")
    # poll, geo, geo_live, venue, contact, dice, game, invoice, story, giveaway, ...
    name = type(media).__name__.removeprefix("MessageMedia")
    return Media(kind=re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def _largest_photo_size(photo: Any) -> int | None:
    if not isinstance(photo, types.Photo):
        return None
    sizes: list[int] = []
    for size in photo.sizes:
        if isinstance(size, types.PhotoSize):
            sizes.append(int(size.size))
        elif isinstance(size, types.PhotoSizeProgressive) and size.sizes:
            sizes.append(max(int(s) for s in size.sizes))
        elif isinstance(size, types.PhotoCachedSize):
            sizes.append(len(size.bytes))
    return max(sizes, default=None)


def _document(document: Any) -> Media:
    if not isinstance(document, types.Document):  # DocumentEmpty, or expired
        return Media(kind="document")
    attributes = {type(attribute): attribute for attribute in document.attributes}
    filename = attributes.get(types.DocumentAttributeFilename)
    video = attributes.get(types.DocumentAttributeVideo)
    audio = attributes.get(types.DocumentAttributeAudio)
    # Order matters: video stickers carry a video attribute, and GIFs are
    # silent MP4s with both the animated and the video attribute.
    if types.DocumentAttributeSticker in attributes:
        kind = "sticker"
    elif types.DocumentAttributeAnimated in attributes:
        kind = "animation"
    elif video is not None:
        kind = "video_note" if video.round_message else "video"
    elif audio is not None:
        kind = "voice" if audio.voice else "audio"
    else:
        kind = "document"
    return Media(
        kind=kind,
        file_name=str(filename.file_name) if filename is not None else None,
        mime_type=str(document.mime_type) if document.mime_type else None,
        size=_optional_int(document.size),
    )


def _forwarded_from(header: Any) -> str | None:
    if not isinstance(header, types.MessageFwdHeader):
        return None
    source = header.from_id
    if header.from_name:
        origin = str(header.from_name)
    elif isinstance(source, types.PeerChannel):
        origin = f"channel {source.channel_id}"
    elif isinstance(source, types.PeerUser):
        origin = f"user {source.user_id}"
    elif isinstance(source, types.PeerChat):
        origin = f"chat {source.chat_id}"
    else:
        origin = "unknown"
    if header.channel_post:
        origin += f" post {header.channel_post}"
    return origin


def _public_username(entity: Any) -> str | None:
    if entity.username:
        return str(entity.username)
    # Channels with several (collectible) usernames list them here instead.
    for username in entity.usernames or ():
        if username.active:
            return str(username.username)
    return None


# --- clients and sessions --------------------------------------------------------------


def make_client(
    api_id: int,
    api_hash: str,
    session_string: str | None,
    session_path: Path | None,
) -> TelegramClient:
    """Return an unconnected TelegramClient that leaves FloodWaits to civicquant.

    A session string wins over a session file. The session file is created, or
    tightened, to mode 0600: it holds the account's login key.
    """
    session: Any
    if session_string:
        try:
            session = StringSession(session_string)
        except (ValueError, struct.error) as exc:
            raise ConfigError(
                "TG_SESSION_STRING is not a Telethon session string (StringSession.save())"
            ) from exc
    elif session_path is not None:
        session = _session_file(session_path)
    else:
        raise ConfigError("no Telegram session: set TG_SESSION (a file) or TG_SESSION_STRING")
    return TelegramClient(
        session,
        api_id,
        api_hash,
        # 0: every FloodWait reaches TelethonReader, so FLOODWAIT_MAX_SECONDS governs.
        flood_sleep_threshold=0,
        # Raise Telegram's own error after Telethon's retries, not a bare ValueError.
        raise_last_call_error=True,
        request_retries=3,
        # Keeps a post's edit from overtaking the post itself on the way to the queue.
        sequential_updates=True,
    )


async def connect(client: TelegramClient) -> None:
    """Connect `client` and check the session is logged in; never prompts (cron has no tty)."""
    try:
        await client.connect()
        authorised = bool(await client.is_user_authorized())
    except errors.RPCError as exc:
        raise TelegramError(f"connecting to Telegram: {_refusal(exc)}") from exc
    except _NETWORK_ERRORS as exc:
        raise TelegramError(f"cannot reach Telegram ({_describe(exc)})") from exc
    if not authorised:
        await client.disconnect()
        raise TelegramError(
            "the Telegram session is not logged in; log in interactively once and set "
            "TG_SESSION or TG_SESSION_STRING"
        )


def session_file_name(session_path: Path) -> Path:
    """Return the file Telethon uses for `session_path` (it appends `.session` if missing)."""
    if session_path.name.endswith(SESSION_SUFFIX):
        return session_path
    return session_path.with_name(session_path.name + SESSION_SUFFIX)


@contextlib.contextmanager
def session_lock(session_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a session file for the block.

    Two processes on one session make Telegram revoke it (AUTH_KEY_DUPLICATED) and make
    SQLite report "database is locked"; the second process gets a TelegramError instead.
    The lock is a sibling `.lock` file, so it never interferes with SQLite's own locks,
    and the kernel drops it if the process dies.
    """
    lock_path = session_file_name(session_path).with_name(
        session_file_name(session_path).name + ".lock"
    )
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"TG_SESSION: cannot create lock file {lock_path} ({exc})") from exc
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TelegramError(
                f"TG_SESSION {session_file_name(session_path)} is in use by another "
                "civicquant process; a session can serve one process at a time"
            ) from exc
        yield
    finally:
        os.close(descriptor)


def _session_file(session_path: Path) -> Any:
    filename = session_file_name(session_path)
    try:
        # Created 0600 before SQLite touches it, so the key is never world-readable, and
        # tightened in case an older file was looser. SQLite gives its journal the same mode.
        descriptor = os.open(filename, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(descriptor)
        os.chmod(filename, 0o600)
        return SQLiteSession(str(filename))
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"TG_SESSION {filename}: cannot open the session file ({exc})") from exc


# --- small helpers ---------------------------------------------------------------------


def _label(channel: Channel) -> str:
    return f"@{channel.username}" if channel.username else f"channel {channel.channel_id}"


def _describe(exc: BaseException) -> str:
    """The exception's class and message, on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # Telethon's dates are UTC; be explicit if one is naive
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise UsageError(f"{name} must be timezone-aware, got {moment.isoformat()}")


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
