"""The Telethon adapter: a ChannelReader backed by a real Telegram user account.

Import this module inside the command that reads Telegram, never at the top of the CLI:
it imports Telethon, and `civicquant --help` and `civicquant health` must start fast.

Error translation happens here and nowhere else. FloodWaits go to the FloodWaitPolicy
and the call is repeated; transient failures (network, Telegram's internal errors) are
retried with exponential backoff; any other refusal becomes a one-line TelegramError
naming the channel.

Turning Telethon messages into RawPosts is `telethon_convert`'s job; making and connecting
clients, and guarding session files, is `sessions`'.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from telethon import TelegramClient, errors, events, utils
from telethon.tl import types
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from civicquant.errors import TelegramError, UsageError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.reader import (
    DeletedPosts,
    EditedPost,
    FloodWaitPolicy,
    NewPost,
    Sleep,
    Update,
)
from civicquant.telegram.telethon_convert import channel_post, message_to_post, public_username

log = structlog.stdlib.get_logger(__name__)

T = TypeVar("T")

# One GetHistory request returns at most 100 messages; one GetMessages takes at most 100 ids.
PAGE_SIZE = 100
IDS_PER_REQUEST = 100
# Telegram sometimes answers a retried call with another FloodWait; past this many in a
# row for one call, something is wrong and the run should end rather than spin.
MAX_FLOOD_WAITS_PER_CALL = 5

_FLOOD_ERRORS = (
    errors.FloodWaitError,
    errors.FloodPremiumWaitError,
    errors.SlowModeWaitError,
    errors.FloodTestPhoneWaitError,
)
_TELEGRAM_INTERNAL_ERRORS = (errors.ServerError, errors.RpcCallFailError, errors.TimedOutError)
NETWORK_ERRORS = (ConnectionError, asyncio.TimeoutError, OSError)

_PRIVATE = "the channel is private, or this account was banned from it"


class TransientTelegramError(TelegramError):
    """A failure worth retrying: the network, or Telegram's own internal errors."""


class TelethonReader:
    """ChannelReader over a connected, logged-in TelegramClient (see `sessions.make_client`)."""

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
            channel_id=int(entity.id), username=public_username(entity), title=str(entity.title)
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
        # Telegram positions a page by id or by date, and Telethon lets an id win over a date:
        # the first page is found by `since` alone (one second early, because Telegram dates
        # are whole seconds and `since` is inclusive; the filter below trims), so a catch-up
        # chunk days after `min_id` starts at its own date, not at `min_id`. Ids up to
        # `min_id` on that page are skipped, and later pages go on by id.
        offset_date = since - timedelta(seconds=1) if since is not None else None
        yielded = 0
        while limit is None or yielded < limit:
            page = await self._call(
                what, functools.partial(self._page, peer, after_id, offset_date)
            )
            if not page:
                return
            offset_date = None
            for message in page:
                if int(message.id) <= after_id:  # at or below min_id, on a page found by date
                    continue
                after_id = int(message.id)
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
            post = channel_post(event.message, watched)
            if post is not None:
                queue.put_nowait(NewPost(post))

        async def on_edit(event: Any) -> None:
            post = channel_post(event.message, watched)
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
                reason = f" ({describe(cause)})" if cause is not None else ""
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
                request = getattr(exc, "request", None)
                method = type(request).__name__ if request is not None else what
                log.info("telegram_flood_wait", what=what, seconds=exc.seconds, method=method)
                await self._flood.wait(int(exc.seconds), method)

    async def _with_retries(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                "telegram_call_retrying",
                what=what,
                attempt=state.attempt_number,
                error=describe(error) if error is not None else None,
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
        """Up to one page of messages, oldest first: from `offset_date` when one is given
        (whatever their ids), else with ids above `after_id`."""
        if offset_date is not None:
            return [
                message
                async for message in self._client.iter_messages(
                    peer, limit=self._page_size, min_id=0, offset_date=offset_date, reverse=True
                )
            ]
        return [
            message
            async for message in self._client.iter_messages(
                peer, limit=self._page_size, min_id=after_id, offset_date=None, reverse=True
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
            f"{what}: Telegram is having internal problems ({describe(exc)})"
        ) from exc
    except errors.RPCError as exc:
        raise TelegramError(f"{what}: {refusal(exc)}") from exc
    except NETWORK_ERRORS as exc:
        raise TransientTelegramError(f"{what}: network problem ({describe(exc)})") from exc


def refusal(exc: errors.RPCError) -> str:
    """Why Telegram refused a request, in words for the operator."""
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
    return f"Telegram refused the request ({describe(exc)})"


# --- small helpers ---------------------------------------------------------------------


def _label(channel: Channel) -> str:
    return f"@{channel.username}" if channel.username else f"channel {channel.channel_id}"


def describe(exc: BaseException) -> str:
    """The exception's class and message, on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise UsageError(f"{name} must be timezone-aware, got {moment.isoformat()}")
