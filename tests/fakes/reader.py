"""FakeReader: a ChannelReader over in-memory posts, for testing listen and backfill offline.

It behaves like a channel: `history` and `fetch` read the current store, and updates
streamed by `updates` are applied to the store as they are yielded. Every call is
recorded in `calls`. FloodWaits and errors can be scripted per method; a scripted
FloodWait goes through the same FloodWaitPolicy the real adapter uses (then the call
carries on), so a wait above the limit surfaces as FloodWaitTooLong.

    reader = FakeReader([post(1), post(2)], channels=[Channel(42, "news")])
    reader.script_flood_wait("history", 30, after=1)   # after the first post
    reader.script_error("fetch", TelegramError("boom"))
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from civicquant.errors import TelegramError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.reader import DeletedPosts, EditedPost, FloodWaitPolicy, NewPost, Update

Method = Literal["resolve", "history", "fetch", "updates"]


@dataclass(frozen=True)
class Call:
    """One recorded call: the method and the arguments it was given."""

    method: Method
    args: dict[str, Any]


@dataclass
class _Scripted:
    kind: Literal["flood_wait", "error"]
    after: int  # items yielded before it fires (history/updates); 0 for the others
    seconds: int = 0
    error: BaseException | None = None


async def _no_sleep(_seconds: float) -> None:
    return None


def _no_jitter(_low: float, _high: float) -> float:
    return 0.0


class FakeReader:
    """An in-memory ChannelReader; see the module docstring.

    With `end_stream_when_drained=False`, `updates` waits for `push_update` once the
    scripted stream runs out, like a live stream; by default the stream ends, so a
    listen loop under test returns.
    """

    def __init__(
        self,
        posts: Iterable[RawPost] = (),
        *,
        channels: Iterable[Channel] = (),
        stream: Iterable[Update | BaseException] = (),
        flood: FloodWaitPolicy | None = None,
        end_stream_when_drained: bool = True,
    ) -> None:
        self.flood = flood or FloodWaitPolicy(300, sleep=_no_sleep, uniform=_no_jitter)
        self.end_stream_when_drained = end_stream_when_drained
        self.calls: list[Call] = []
        self._store: dict[tuple[int, int], RawPost] = {}
        self._channels: dict[int, Channel] = {}
        self._stream: list[Update | BaseException] = list(stream)
        self._scripts: dict[Method, list[_Scripted]] = {}
        self._more: asyncio.Event | None = None
        for channel in channels:
            self.add_channel(channel)
        for post in posts:
            self.put(post)

    # --- arranging -------------------------------------------------------------------

    def add_channel(self, channel: Channel) -> None:
        """Make `channel` resolvable (by id, and by username if it has one)."""
        self._channels[channel.channel_id] = channel

    def put(self, post: RawPost) -> None:
        """Add or replace a post; its channel becomes resolvable by id if it was not."""
        self._store[(post.channel_id, post.message_id)] = post
        self._channels.setdefault(post.channel_id, Channel(post.channel_id))

    def delete(self, channel_id: int, message_id: int) -> None:
        """Remove a post, as if deleted on Telegram."""
        self._store.pop((channel_id, message_id), None)

    def push_update(self, update: Update | BaseException) -> None:
        """Append to the live stream; wakes a waiting `updates` consumer."""
        self._stream.append(update)
        if self._more is not None:
            self._more.set()

    def script_flood_wait(self, method: Method, seconds: int, *, after: int = 0) -> None:
        """The next `method` call meets a FloodWait of `seconds` (after `after` items)."""
        self._scripts.setdefault(method, []).append(
            _Scripted("flood_wait", after=after, seconds=seconds)
        )

    def script_error(self, method: Method, error: BaseException, *, after: int = 0) -> None:
        """The next `method` call raises `error` (after `after` items)."""
        self._scripts.setdefault(method, []).append(_Scripted("error", after=after, error=error))

    def calls_to(self, method: Method) -> list[Call]:
        """The recorded calls of one method, in order."""
        return [call for call in self.calls if call.method == method]

    def stored(self, channel_id: int) -> list[RawPost]:
        """The channel's current posts, oldest first."""
        return sorted(
            (post for (cid, _), post in self._store.items() if cid == channel_id),
            key=lambda post: post.message_id,
        )

    # --- ChannelReader ---------------------------------------------------------------

    async def resolve(self, spec: ChannelSpec) -> Channel:
        self.calls.append(Call("resolve", {"spec": spec}))
        await self._fire("resolve", 0)
        for channel in self._channels.values():
            if spec.channel_id == channel.channel_id or (
                spec.username is not None
                and channel.username is not None
                and spec.username == channel.username.lower()
            ):
                return channel
        raise TelegramError(f"{spec}: no such channel")

    async def history(
        self,
        channel: Channel,
        *,
        min_id: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[RawPost, None]:
        self.calls.append(
            Call(
                "history",
                {
                    "channel": channel,
                    "min_id": min_id,
                    "since": since,
                    "until": until,
                    "limit": limit,
                },
            )
        )
        yielded = 0
        await self._fire("history", yielded)
        for post in self.stored(channel.channel_id):
            if limit is not None and yielded >= limit:
                return
            if post.message_id <= min_id:
                continue
            if since is not None and post.posted_at < since:
                continue
            if until is not None and post.posted_at >= until:
                return
            yield post
            yielded += 1
            await self._fire("history", yielded)

    async def fetch(self, channel: Channel, ids: Sequence[int]) -> dict[int, RawPost | None]:
        self.calls.append(Call("fetch", {"channel": channel, "ids": list(ids)}))
        await self._fire("fetch", 0)
        return {i: self._store.get((channel.channel_id, i)) for i in ids}

    async def updates(self, channels: Sequence[Channel]) -> AsyncGenerator[Update, None]:
        self.calls.append(Call("updates", {"channels": list(channels)}))
        watched = {channel.channel_id for channel in channels}
        self._more = asyncio.Event()
        yielded = 0
        index = 0
        await self._fire("updates", yielded)
        while True:
            while index < len(self._stream):
                item = self._stream[index]
                index += 1
                if isinstance(item, BaseException):
                    raise item
                if _channel_of(item) not in watched:
                    continue
                self._apply(item)
                yield item
                yielded += 1
                await self._fire("updates", yielded)
            if self.end_stream_when_drained:
                return
            self._more.clear()
            await self._more.wait()

    # --- internals -------------------------------------------------------------------

    async def _fire(self, method: Method, yielded: int) -> None:
        scripts = self._scripts.get(method, [])
        while scripts and scripts[0].after == yielded:
            scripted = scripts.pop(0)
            if scripted.kind == "flood_wait":
                await self.flood.wait(scripted.seconds, method)
            else:
                assert scripted.error is not None
                raise scripted.error

    def _apply(self, update: Update) -> None:
        if isinstance(update, NewPost | EditedPost):
            self.put(update.post)
        else:
            for message_id in update.message_ids:
                self.delete(update.channel_id, message_id)


def _channel_of(update: Update) -> int:
    if isinstance(update, DeletedPosts):
        return update.channel_id
    return update.post.channel_id
