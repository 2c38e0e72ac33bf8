"""The Telethon adapter, offline: conversion of real Telethon objects, and TelethonReader
against a small stand-in client that raises real Telethon errors."""

from __future__ import annotations

import asyncio
import os
import stat
from collections import defaultdict
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from telethon import errors, events, utils
from telethon._updates import EntityCache
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession, StringSession
from telethon.tl import types

from civicquant.errors import ConfigError, FloodWaitTooLong, TelegramError, UsageError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, Media, RawPost
from civicquant.ingest.reader import DeletedPosts, EditedPost, FloodWaitPolicy, NewPost, Update
from civicquant.telegram.sessions import connect, make_client, session_lock
from civicquant.telegram.telethon_convert import message_to_post
from civicquant.telegram.telethon_reader import TelethonReader, TransientTelegramError

T = TypeVar("T")
CHANNEL_ID = 1878264527
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NEWS = Channel(channel_id=CHANNEL_ID, username="alpha_news", title="Alpha News")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def message(message_id: int, text: str = "", *, channel_id: int = CHANNEL_ID, **fields: Any) -> Any:
    fields.setdefault("date", START + timedelta(minutes=message_id))
    return types.Message(
        id=message_id, peer_id=types.PeerChannel(channel_id), message=text, **fields
    )


def service_message(message_id: int) -> Any:
    return types.MessageService(
        id=message_id,
        peer_id=types.PeerChannel(CHANNEL_ID),
        date=START,
        action=types.MessageActionPinMessage(),
    )


def convert(msg: Any) -> RawPost:
    post = message_to_post(msg, CHANNEL_ID)
    assert post is not None
    return post


def utf16_slice(text: str, offset: int, length: int) -> str:
    encoded = text.encode("utf-16-le")
    return encoded[offset * 2 : (offset + length) * 2].decode("utf-16-le")


def tl_channel(channel_id: int = CHANNEL_ID, username: str | None = "Alpha_News") -> Any:
    return types.Channel(
        id=channel_id,
        title="Alpha News",
        photo=types.ChatPhotoEmpty(),
        date=START,
        broadcast=True,
        access_hash=987654321,
        username=username,
    )


def document(*attributes: Any, mime_type: str = "video/mp4", size: int = 1234) -> Any:
    return types.MessageMediaDocument(
        document=types.Document(
            id=1,
            access_hash=2,
            file_reference=b"",
            date=START,
            mime_type=mime_type,
            size=size,
            dc_id=2,
            attributes=list(attributes),
        )
    )


# --- message_to_post ---------------------------------------------------------------------


def test_text_and_ids_are_copied_from_the_message() -> None:
    post = convert(message(17, "Breaking: rates cut"))
    assert (post.channel_id, post.message_id, post.text) == (CHANNEL_ID, 17, "Breaking: rates cut")


def test_posted_at_is_aware_utc_even_from_another_zone() -> None:
    kyiv = timezone(timedelta(hours=2))
    post = convert(message(1, date=datetime(2024, 3, 1, 14, 0, tzinfo=kyiv)))
    assert post.posted_at == START
    assert post.posted_at.tzinfo is UTC


def test_naive_telethon_date_is_taken_as_utc() -> None:
    post = convert(message(1, date=datetime(2024, 3, 1, 12, 0)))
    assert post.posted_at == START


def test_service_message_is_not_a_post() -> None:
    service = service_message(3)
    assert message_to_post(service, CHANNEL_ID) is None


def test_empty_message_is_not_a_post() -> None:
    assert (
        message_to_post(types.MessageEmpty(id=3, peer_id=types.PeerChannel(CHANNEL_ID)), CHANNEL_ID)
        is None
    )


def test_text_link_keeps_its_url_and_utf16_position_after_astral_emoji() -> None:
    text = "🚀🇺🇦 Launch report: details here"
    link_offset = len("🚀🇺🇦 Launch report: ".encode("utf-16-le")) // 2
    entity = types.MessageEntityTextUrl(offset=link_offset, length=12, url="https://example.org/r")
    post = convert(message(1, text, entities=[entity]))
    assert post.entities == [
        {"type": "text_link", "offset": link_offset, "length": 12, "url": "https://example.org/r"}
    ]
    assert utf16_slice(post.text, link_offset, 12) == "details here"
    assert link_offset != text.index("details")  # code points would have cut elsewhere


def test_bold_around_an_emoji_slices_out_the_emoji_in_utf16_units() -> None:
    post = convert(message(1, "Hi 😀!", entities=[types.MessageEntityBold(offset=3, length=2)]))
    only = post.entities[0]
    assert utf16_slice(post.text, only["offset"], only["length"]) == "😀"


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        (types.MessageEntityBold(0, 1), {"type": "bold"}),
        (types.MessageEntityItalic(0, 1), {"type": "italic"}),
        (types.MessageEntityCode(0, 1), {"type": "code"}),
        (types.MessageEntityPre(0, 1, language="python"), {"type": "pre", "language": "python"}),
        (types.MessageEntityPre(0, 1, language=""), {"type": "pre"}),
        (types.MessageEntityUrl(0, 1), {"type": "link"}),
        (types.MessageEntityHashtag(0, 1), {"type": "hashtag"}),
        (types.MessageEntityCashtag(0, 1), {"type": "cashtag"}),
        (types.MessageEntityMention(0, 1), {"type": "mention"}),
        (
            types.MessageEntityMentionName(0, 1, user_id=777),
            {"type": "mention_name", "user_id": 777},
        ),
        (types.MessageEntityEmail(0, 1), {"type": "email"}),
        (types.MessageEntityPhone(0, 1), {"type": "phone"}),
        (types.MessageEntityBotCommand(0, 1), {"type": "bot_command"}),
        (types.MessageEntityUnderline(0, 1), {"type": "underline"}),
        (types.MessageEntityStrike(0, 1), {"type": "strikethrough"}),
        (types.MessageEntitySpoiler(0, 1), {"type": "spoiler"}),
        (types.MessageEntityBlockquote(0, 1), {"type": "blockquote"}),
        (types.MessageEntityCustomEmoji(0, 1, document_id=5), {"type": "custom_emoji"}),
        (types.MessageEntityBankCard(0, 1), {"type": "bank_card"}),
        (types.MessageEntityUnknown(0, 1), {"type": "unknown"}),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, dict) else value["type"],
)
def test_entity_maps_to_its_telegram_export_type(entity: Any, expected: dict[str, Any]) -> None:
    post = convert(message(1, "x", entities=[entity]))
    assert post.entities == [{"offset": 0, "length": 1, **expected}]


def test_photo_reports_the_largest_size_telegram_lists() -> None:
    photo = types.Photo(
        id=1,
        access_hash=2,
        file_reference=b"",
        date=START,
        dc_id=2,
        sizes=[
            types.PhotoStrippedSize(type="i", bytes=b"\x01\x02"),
            types.PhotoSize(type="m", w=320, h=240, size=20_000),
            types.PhotoSizeProgressive(type="y", w=1280, h=960, sizes=[10_000, 90_000, 140_000]),
        ],
    )
    post = convert(message(1, media=types.MessageMediaPhoto(photo=photo)))
    assert post.media == Media(kind="photo", size=140_000)


def test_photo_without_a_photo_object_is_still_a_photo() -> None:
    post = convert(message(1, media=types.MessageMediaPhoto(photo=types.PhotoEmpty(id=1))))
    assert post.media == Media(kind="photo")


@pytest.mark.parametrize(
    ("attributes", "kind"),
    [
        ([types.DocumentAttributeVideo(duration=3.0, w=640, h=360)], "video"),
        (
            [types.DocumentAttributeVideo(duration=3.0, w=240, h=240, round_message=True)],
            "video_note",
        ),
        ([types.DocumentAttributeAudio(duration=60, title="Anthem")], "audio"),
        ([types.DocumentAttributeAudio(duration=4, voice=True)], "voice"),
        (
            [
                types.DocumentAttributeVideo(duration=1.0, w=512, h=512),
                types.DocumentAttributeSticker(alt="😀", stickerset=types.InputStickerSetEmpty()),
            ],
            "sticker",
        ),
        (
            [
                types.DocumentAttributeVideo(duration=2.0, w=320, h=240),
                types.DocumentAttributeAnimated(),
            ],
            "animation",
        ),
        ([types.DocumentAttributeFilename(file_name="budget.pdf")], "document"),
    ],
)
def test_document_kind_comes_from_its_attributes(attributes: list[Any], kind: str) -> None:
    post = convert(message(1, media=document(*attributes)))
    assert post.media is not None
    assert post.media.kind == kind


def test_document_keeps_file_name_mime_type_and_size() -> None:
    media = document(
        types.DocumentAttributeFilename(file_name="budget.pdf"),
        mime_type="application/pdf",
        size=48_213,
    )
    post = convert(message(1, media=media))
    assert post.media == Media(
        kind="document", file_name="budget.pdf", mime_type="application/pdf", size=48_213
    )


@pytest.mark.parametrize(
    ("media", "kind"),
    [
        (types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1)), "webpage"),
        (
            types.MessageMediaPoll(
                poll=types.Poll(
                    id=1,
                    question=types.TextWithEntities(text="Which?", entities=[]),
                    answers=[],
                    hash=0,
                ),
                results=types.PollResults(),
            ),
            "poll",
        ),
        (types.MessageMediaGeo(geo=types.GeoPointEmpty()), "geo"),
        (
            types.MessageMediaContact(
                phone_number="", first_name="A", last_name="B", vcard="", user_id=1
            ),
            "contact",
        ),
    ],
)
def test_other_media_are_summarised_by_kind(media: Any, kind: str) -> None:
    assert convert(message(1, media=media)).media == Media(kind=kind)


def test_message_without_media_has_none() -> None:
    assert convert(message(1, "text")).media is None
    assert convert(message(2, "text", media=types.MessageMediaEmpty())).media is None


def test_counters_reply_album_author_and_edit_date_are_copied() -> None:
    edited = datetime(2024, 3, 1, 13, 0, tzinfo=UTC)
    post = convert(
        message(
            9,
            views=1500,
            forwards=12,
            reply_to=types.MessageReplyHeader(reply_to_msg_id=4),
            grouped_id=13_579,
            post_author="Desk editor",
            edit_date=edited,
        )
    )
    assert (post.views, post.forwards, post.reply_to, post.grouped_id) == (1500, 12, 4, 13_579)
    assert (post.author, post.edit_date) == ("Desk editor", edited)


class _SenderCache:
    """What Message._finish_init reads of a client: its own id and an entity cache."""

    _self_id = 1
    _mb_entity_cache = EntityCache()


def delivered(msg: Any, *entities: Any) -> Any:
    """`msg` as Telethon hands it over: finished with the entities Telegram sent beside it."""
    msg._finish_init(_SenderCache(), {utils.get_peer_id(e): e for e in entities}, None)
    return msg


def test_a_channel_post_is_sent_by_its_signature_or_by_nobody() -> None:
    signed = convert(delivered(message(1, "text", post=True, post_author="Desk editor")))
    unsigned = convert(delivered(message(2, "text", post=True)))
    assert (signed.sender, signed.sender_id) == ("Desk editor", None)
    assert (unsigned.sender, unsigned.sender_id) == (None, None)


def test_a_group_post_names_its_member_by_from_id_and_the_sender_entity() -> None:
    member = types.User(id=4321, first_name="Ada", last_name="Lovelace", access_hash=7)
    post = convert(delivered(message(3, "hi", from_id=types.PeerUser(4321)), member))
    assert (post.sender, post.sender_id) == ("Ada Lovelace", "user4321")


def test_a_group_post_by_another_channel_names_that_channel() -> None:
    other = tl_channel(channel_id=555, username="other")
    post = convert(delivered(message(4, "hi", from_id=types.PeerChannel(555)), other))
    assert (post.sender, post.sender_id) == ("Alpha News", "channel555")


def test_a_group_post_whose_sender_entity_did_not_come_keeps_the_id() -> None:
    post = convert(delivered(message(5, "hi", from_id=types.PeerUser(99))))
    assert (post.sender, post.sender_id) == (None, "user99")


def test_an_anonymous_admin_posting_as_the_group_has_no_sender_id() -> None:
    msg = message(6, "hi", from_id=types.PeerChannel(CHANNEL_ID), post_author="Moderator")
    assert (convert(delivered(msg)).sender, convert(delivered(msg)).sender_id) == (
        "Moderator",
        None,
    )


def test_reply_to_a_story_is_not_a_reply_to_a_post() -> None:
    header = types.MessageReplyStoryHeader(peer=types.PeerChannel(CHANNEL_ID), story_id=3)
    assert convert(message(1, reply_to=header)).reply_to is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            types.MessageFwdHeader(date=START, from_id=types.PeerChannel(555), channel_post=77),
            "channel 555 post 77",
        ),
        (types.MessageFwdHeader(date=START, from_id=types.PeerUser(444)), "user 444"),
        (types.MessageFwdHeader(date=START, from_name="Hidden Sender"), "Hidden Sender"),
    ],
)
def test_forward_origin_is_described(header: Any, expected: str) -> None:
    assert convert(message(1, fwd_from=header)).forwarded_from == expected


def test_post_that_is_not_forwarded_has_no_origin() -> None:
    assert convert(message(1)).forwarded_from is None


# --- a stand-in TelegramClient -----------------------------------------------------------


class StubClient:
    """Duck-types the few TelegramClient methods TelethonReader uses.

    `failures[method]` is consumed one entry per call: an exception to raise, or None
    for a call that succeeds.
    """

    def __init__(
        self, *, entities: dict[Any, Any] | None = None, messages: Sequence[Any] = ()
    ) -> None:
        self.entities: dict[Any, Any] = dict(entities or {})
        self.dialog_entities: dict[Any, Any] = {}
        self.messages = sorted(messages, key=lambda m: m.id)
        self.failures: dict[str, list[BaseException | None]] = defaultdict(list)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.handlers: list[tuple[Any, Any]] = []
        self._disconnected: asyncio.Future[None] | None = None
        self.min_id_inclusive = False  # a server that also returns the message at min_id

    def _record(self, method: str, **args: Any) -> None:
        self.calls.append((method, args))
        if self.failures[method]:
            failure = self.failures[method].pop(0)
            if failure is not None:
                raise failure

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]

    async def get_input_entity(self, target: str) -> Any:
        self._record("get_input_entity", target=target)
        if target not in self.entities:
            raise ValueError(f'Cannot find any entity corresponding to "{target}"')
        return utils.get_input_peer(self.entities[target])

    async def get_entity(self, target: Any) -> Any:
        self._record("get_entity", target=target)
        if isinstance(target, str):
            key: Any = target
        elif isinstance(target, types.InputPeerUser):
            key = target.user_id
        else:
            key = target.channel_id
        for entity in self.entities.values():
            if not isinstance(key, str) and entity.id == key:
                return entity
        if key not in self.entities:
            raise ValueError(f'Cannot find any entity corresponding to "{target}"')
        return self.entities[key]

    async def get_dialogs(self) -> list[Any]:
        self._record("get_dialogs")
        self.entities.update(self.dialog_entities)
        return list(self.dialog_entities.values())

    async def iter_messages(
        self, peer: Any, *, limit: int, min_id: int, offset_date: datetime | None, reverse: bool
    ) -> AsyncIterator[Any]:
        self._record(
            "iter_messages", peer=peer, limit=limit, min_id=min_id, offset_date=offset_date
        )
        assert reverse
        if len(self.calls_to("iter_messages")) > 50:
            raise AssertionError("history keeps asking for the same page")
        # Like Telegram: strictly after the offset date, and only `limit` per request.
        selected = [
            m
            for m in self.messages
            if (m.id >= min_id if self.min_id_inclusive else m.id > min_id)
            and (offset_date is None or m.date > offset_date)
        ]
        for m in selected[:limit]:
            yield m

    async def get_messages(self, peer: Any, *, ids: list[int]) -> list[Any]:
        self._record("get_messages", peer=peer, ids=list(ids))
        by_id = {m.id: m for m in self.messages}
        return [by_id.get(i) for i in ids]

    def add_event_handler(self, callback: Any, builder: Any) -> None:
        self.handlers.append((callback, builder))

    def remove_event_handler(self, callback: Any) -> int:
        before = len(self.handlers)
        self.handlers = [(cb, b) for cb, b in self.handlers if cb is not callback]
        return before - len(self.handlers)

    @property
    def disconnected(self) -> asyncio.Future[None]:
        if self._disconnected is None:
            self._disconnected = asyncio.get_running_loop().create_future()
        return self._disconnected

    async def emit(self, event: Any) -> None:
        for callback, builder in list(self.handlers):
            if type(event) is type(builder).Event:
                await callback(event)


class Sleeps:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def make_reader(
    client: StubClient, *, max_seconds: int = 60, page_size: int = 100
) -> tuple[TelethonReader, Sleeps, Sleeps]:
    flood_sleeps, retry_sleeps = Sleeps(), Sleeps()
    policy = FloodWaitPolicy(max_seconds, sleep=flood_sleeps, uniform=lambda low, high: 0.0)
    reader = TelethonReader(client, policy, retry_sleep=retry_sleeps, page_size=page_size)
    return reader, flood_sleeps, retry_sleeps


async def collect(iterator: AsyncIterator[T]) -> list[T]:
    return [item async for item in iterator]


ALPHA = ChannelSpec(username="alpha_news")


# --- resolve -----------------------------------------------------------------------------


def test_resolve_gives_the_bare_id_public_name_and_title() -> None:
    reader, _, _ = make_reader(StubClient(entities={"alpha_news": tl_channel()}))
    assert run(reader.resolve(ALPHA)) == Channel(CHANNEL_ID, "Alpha_News", "Alpha News")


def test_resolve_by_username_goes_through_the_input_entity_cache() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    reader, _, _ = make_reader(client)
    run(reader.resolve(ALPHA))
    assert client.calls_to("get_input_entity") == [{"target": "alpha_news"}]
    (asked,) = client.calls_to("get_entity")
    assert asked["target"] == types.InputPeerChannel(CHANNEL_ID, 987654321)


def test_resolve_by_id_asks_telethon_for_a_channel_peer() -> None:
    client = StubClient(entities={CHANNEL_ID: tl_channel()})
    reader, _, _ = make_reader(client)
    run(reader.resolve(ChannelSpec(channel_id=CHANNEL_ID)))
    assert client.calls_to("get_entity") == [{"target": types.PeerChannel(CHANNEL_ID)}]


def test_resolve_by_unknown_id_loads_dialogs_once_then_finds_it() -> None:
    client = StubClient()
    client.dialog_entities = {CHANNEL_ID: tl_channel()}
    reader, _, _ = make_reader(client)
    assert run(reader.resolve(ChannelSpec(channel_id=CHANNEL_ID))).channel_id == CHANNEL_ID
    assert len(client.calls_to("get_dialogs")) == 1


def test_resolve_by_id_the_account_never_joined_names_the_id() -> None:
    reader, _, _ = make_reader(StubClient())
    with pytest.raises(TelegramError, match=f"channel {CHANNEL_ID}: this account does not know"):
        run(reader.resolve(ChannelSpec(channel_id=CHANNEL_ID)))


def test_resolve_of_an_unused_username_raises_telegram_error_naming_it() -> None:
    reader, _, _ = make_reader(StubClient())
    with pytest.raises(TelegramError, match="@alpha_news: no public channel"):
        run(reader.resolve(ALPHA))


def test_resolve_of_a_channel_with_only_collectible_usernames_uses_the_active_one() -> None:
    entity = tl_channel(username=None)
    entity.usernames = [
        types.Username(username="old_alpha", active=False),
        types.Username(username="alpha_news", active=True),
    ]
    reader, _, _ = make_reader(StubClient(entities={"alpha_news": entity}))
    assert run(reader.resolve(ALPHA)).username == "alpha_news"


def test_resolve_of_a_user_is_refused() -> None:
    user = types.User(id=5, username="alpha_news", access_hash=1)
    reader, _, _ = make_reader(StubClient(entities={"alpha_news": user}))
    with pytest.raises(TelegramError, match="not a channel"):
        run(reader.resolve(ALPHA))


def test_private_channel_error_becomes_one_line_telegram_error_naming_the_channel() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [errors.ChannelPrivateError(request=None)]
    reader, _, _ = make_reader(client)
    with pytest.raises(TelegramError) as raised:
        run(reader.resolve(ALPHA))
    assert str(raised.value) == (
        "resolving @alpha_news: the channel is private, or this account was banned from it"
    )
    assert isinstance(raised.value.__cause__, errors.ChannelPrivateError)


@pytest.mark.parametrize(
    "error",
    [errors.UsernameNotOccupiedError(request=None), errors.UsernameInvalidError(request=None)],
)
def test_username_errors_become_telegram_error(error: Exception) -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [error]
    reader, _, _ = make_reader(client)
    with pytest.raises(TelegramError, match="@alpha_news: no public channel has this username"):
        run(reader.resolve(ALPHA))


def test_revoked_session_error_says_to_make_a_new_session() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [errors.AuthKeyUnregisteredError(request=None)]
    reader, _, _ = make_reader(client)
    with pytest.raises(TelegramError, match="make a new TG_SESSION"):
        run(reader.resolve(ALPHA))


def test_refusals_are_not_retried() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [errors.ChannelPrivateError(request=None)]
    reader, _, retry_sleeps = make_reader(client)
    with pytest.raises(TelegramError):
        run(reader.resolve(ALPHA))
    assert len(client.calls_to("get_entity")) == 1
    assert retry_sleeps.seconds == []


# --- FloodWait and transient errors ------------------------------------------------------


def test_flood_wait_is_slept_through_the_policy_then_the_call_is_repeated() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [errors.FloodWaitError(request=None, capture=5)]
    reader, flood_sleeps, _ = make_reader(client)
    assert run(reader.resolve(ALPHA)).channel_id == CHANNEL_ID
    assert flood_sleeps.seconds == [5.0]
    assert len(client.calls_to("get_entity")) == 2


def test_flood_wait_over_the_limit_raises_flood_wait_too_long_without_sleeping() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [errors.FloodWaitError(request=None, capture=3600)]
    reader, flood_sleeps, _ = make_reader(client, max_seconds=300)
    with pytest.raises(FloodWaitTooLong) as raised:
        run(reader.resolve(ALPHA))
    assert (raised.value.seconds, raised.value.limit) == (3600, 300)
    assert flood_sleeps.seconds == []
    assert len(client.calls_to("get_entity")) == 1


def test_endless_flood_waits_end_the_call_after_a_few() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [errors.FloodWaitError(request=None, capture=1)] * 50
    reader, flood_sleeps, _ = make_reader(client)
    with pytest.raises(TelegramError, match="asked to wait 6 times in a row"):
        run(reader.resolve(ALPHA))
    assert len(flood_sleeps.seconds) == 5


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("Cannot send requests while disconnected"),
        OSError("Network is unreachable"),
        TimeoutError(),
        errors.RpcCallFailError(request=None),
        errors.ServerError(request=None, message="INTERNAL", code=500),
    ],
    ids=lambda error: type(error).__name__,
)
def test_transient_error_is_retried_with_backoff(error: BaseException) -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [error, error]
    reader, _, retry_sleeps = make_reader(client)
    assert run(reader.resolve(ALPHA)).channel_id == CHANNEL_ID
    assert len(client.calls_to("get_entity")) == 3
    assert len(retry_sleeps.seconds) == 2
    assert retry_sleeps.seconds[1] > retry_sleeps.seconds[0]


def test_transient_error_that_persists_gives_up_after_the_attempts() -> None:
    client = StubClient(entities={"alpha_news": tl_channel()})
    client.failures["get_entity"] = [ConnectionError("reset by peer")] * 10
    reader, _, _ = make_reader(client)
    with pytest.raises(
        TransientTelegramError, match="resolving @alpha_news: network problem"
    ) as raised:
        run(reader.resolve(ALPHA))
    assert isinstance(raised.value, TelegramError)
    assert isinstance(raised.value.__cause__, ConnectionError)
    assert len(client.calls_to("get_entity")) == 4


# --- history -----------------------------------------------------------------------------


def history_client(*messages: Any) -> StubClient:
    return StubClient(entities={"alpha_news": tl_channel()}, messages=list(messages))


def test_history_yields_posts_oldest_first_across_pages() -> None:
    client = history_client(*(message(i, f"post {i}") for i in range(1, 8)))
    reader, _, _ = make_reader(client, page_size=3)
    posts = run(collect(reader.history(NEWS)))
    assert [p.message_id for p in posts] == [1, 2, 3, 4, 5, 6, 7]
    assert [call["min_id"] for call in client.calls_to("iter_messages")] == [0, 3, 6, 7]


def test_history_min_id_is_exclusive() -> None:
    client = history_client(*(message(i) for i in range(1, 6)))
    reader, _, _ = make_reader(client)
    assert [p.message_id for p in run(collect(reader.history(NEWS, min_id=3)))] == [4, 5]


def test_history_never_yields_min_id_even_when_telegram_returns_it() -> None:
    client = history_client(*(message(i) for i in range(1, 6)))
    client.min_id_inclusive = True
    reader, _, _ = make_reader(client, page_size=2)
    assert [p.message_id for p in run(collect(reader.history(NEWS, min_id=2)))] == [3, 4, 5]


def test_history_since_is_inclusive_and_until_exclusive() -> None:
    client = history_client(*(message(i) for i in range(1, 8)))
    reader, _, _ = make_reader(client, page_size=2)
    since, until = START + timedelta(minutes=3), START + timedelta(minutes=6)
    posts = run(collect(reader.history(NEWS, since=since, until=until)))
    assert [p.message_id for p in posts] == [3, 4, 5]


def test_history_starts_from_the_since_date_only_without_a_min_id() -> None:
    client = history_client(*(message(i) for i in range(1, 8)))
    reader, _, _ = make_reader(client, page_size=2)
    since = START + timedelta(minutes=3)
    run(collect(reader.history(NEWS, since=since, until=START + timedelta(minutes=6))))
    dates = [call["offset_date"] for call in client.calls_to("iter_messages")]
    assert dates[0] is not None
    assert dates[0] < since
    assert all(date is None for date in dates[1:])


def test_history_with_a_min_id_and_a_since_starts_at_the_since_date() -> None:
    client = history_client(*(message(i) for i in range(1, 30)))
    reader, _, _ = make_reader(client, page_size=3)
    since, until = START + timedelta(minutes=20), START + timedelta(minutes=25)
    posts = run(collect(reader.history(NEWS, min_id=2, since=since, until=until)))
    assert [p.message_id for p in posts] == [20, 21, 22, 23, 24]
    first = client.calls_to("iter_messages")[0]
    assert (first["min_id"], first["offset_date"]) == (0, since - timedelta(seconds=1))
    assert len(client.calls_to("iter_messages")) == 2  # from the date, not from id 2


def test_history_from_a_date_before_min_id_skips_to_min_id() -> None:
    client = history_client(*(message(i) for i in range(1, 10)))
    reader, _, _ = make_reader(client, page_size=3)
    posts = run(collect(reader.history(NEWS, min_id=6, since=START)))
    assert [p.message_id for p in posts] == [7, 8, 9]


def test_history_stops_at_the_limit_without_reading_further() -> None:
    client = history_client(*(message(i) for i in range(1, 20)))
    reader, _, _ = make_reader(client, page_size=5)
    assert [p.message_id for p in run(collect(reader.history(NEWS, limit=3)))] == [1, 2, 3]
    assert len(client.calls_to("iter_messages")) == 1


def test_history_skips_service_messages() -> None:
    service = service_message(2)
    client = history_client(message(1), service, message(3))
    reader, _, _ = make_reader(client)
    assert [p.message_id for p in run(collect(reader.history(NEWS)))] == [1, 3]


def test_history_resumes_after_a_flood_wait_without_duplicates() -> None:
    client = history_client(*(message(i) for i in range(1, 6)))
    client.failures["iter_messages"] = [None, errors.FloodWaitError(request=None, capture=7)]
    reader, flood_sleeps, _ = make_reader(client, page_size=2)
    assert [p.message_id for p in run(collect(reader.history(NEWS)))] == [1, 2, 3, 4, 5]
    assert flood_sleeps.seconds == [7.0]
    assert [call["min_id"] for call in client.calls_to("iter_messages")][:3] == [0, 2, 2]


def test_history_of_an_unresolved_channel_resolves_it_by_username_first() -> None:
    client = history_client(message(1))
    reader, _, _ = make_reader(client)
    run(collect(reader.history(NEWS)))
    assert client.calls_to("get_input_entity") == [{"target": "alpha_news"}]
    peer = client.calls_to("iter_messages")[0]["peer"]
    assert isinstance(peer, types.InputPeerChannel)
    assert peer.access_hash == 987654321


def test_history_refuses_a_username_that_moved_to_another_channel() -> None:
    client = StubClient(entities={"alpha_news": tl_channel(channel_id=999)})
    reader, _, _ = make_reader(client)
    with pytest.raises(TelegramError, match="different channel"):
        run(collect(reader.history(NEWS)))


def test_history_with_a_naive_since_is_a_usage_error() -> None:
    reader, _, _ = make_reader(history_client(message(1)))
    with pytest.raises(UsageError, match="since must be timezone-aware"):
        run(collect(reader.history(NEWS, since=datetime(2024, 3, 1))))


def test_history_private_channel_error_names_the_channel() -> None:
    client = history_client(message(1))
    client.failures["iter_messages"] = [errors.ChannelPrivateError(request=None)]
    reader, _, _ = make_reader(client)
    with pytest.raises(
        TelegramError, match="reading history of @alpha_news: the channel is private"
    ):
        run(collect(reader.history(NEWS)))


# --- fetch -------------------------------------------------------------------------------


def test_fetch_maps_missing_ids_and_service_messages_to_none() -> None:
    service = service_message(2)
    client = history_client(message(1, "kept"), service)
    reader, _, _ = make_reader(client)
    fetched = run(reader.fetch(NEWS, [1, 2, 3]))
    assert fetched.keys() == {1, 2, 3}
    assert fetched[1] is not None
    assert fetched[1].text == "kept"
    assert (fetched[2], fetched[3]) == (None, None)


def test_fetch_asks_at_most_a_hundred_ids_per_request_and_each_once() -> None:
    client = history_client(message(1))
    reader, _, _ = make_reader(client)
    ids = [*range(1, 251), 1, 2]
    fetched = run(reader.fetch(NEWS, ids))
    asked = [call["ids"] for call in client.calls_to("get_messages")]
    assert [len(chunk) for chunk in asked] == [100, 100, 50]
    assert sorted(i for chunk in asked for i in chunk) == list(range(1, 251))
    assert len(fetched) == 250


def test_fetch_retries_after_a_flood_wait() -> None:
    client = history_client(message(1))
    client.failures["get_messages"] = [errors.FloodWaitError(request=None, capture=2)]
    reader, flood_sleeps, _ = make_reader(client)
    assert run(reader.fetch(NEWS, [1]))[1] is not None
    assert flood_sleeps.seconds == [2.0]


# --- updates -----------------------------------------------------------------------------


def test_updates_translate_new_edited_and_deleted_messages_of_watched_channels() -> None:
    client = history_client()
    reader, _, _ = make_reader(client)

    async def scenario() -> list[Update]:
        stream = reader.updates([NEWS])
        received: list[Update] = []
        pending = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        await client.emit(events.NewMessage.Event(message(5, "other", channel_id=42)))
        await client.emit(events.NewMessage.Event(message(5, "fresh")))
        received.append(await asyncio.wait_for(pending, 1))
        await client.emit(events.MessageEdited.Event(message(5, "fixed")))
        received.append(await asyncio.wait_for(anext(stream), 1))
        await client.emit(
            events.MessageDeleted.Event(deleted_ids=[5, 6], peer=types.PeerChannel(CHANNEL_ID))
        )
        received.append(await asyncio.wait_for(anext(stream), 1))
        await stream.aclose()  # type: ignore[attr-defined]
        return received

    received = run(scenario())
    assert [type(update) for update in received] == [NewPost, EditedPost, DeletedPosts]
    assert isinstance(received[0], NewPost)
    assert received[0].post.text == "fresh"
    assert isinstance(received[1], EditedPost)
    assert received[1].post.text == "fixed"
    assert received[2] == DeletedPosts(channel_id=CHANNEL_ID, message_ids=(5, 6))


def test_updates_remove_their_handlers_when_the_consumer_stops() -> None:
    client = history_client()
    reader, _, _ = make_reader(client)

    async def scenario() -> int:
        stream = reader.updates([NEWS])
        pending = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        registered = len(client.handlers)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        await stream.aclose()  # type: ignore[attr-defined]
        return registered

    assert run(scenario()) == 3
    assert client.handlers == []


def test_updates_raise_telegram_error_when_the_client_disconnects() -> None:
    client = history_client()
    reader, _, _ = make_reader(client)

    async def scenario() -> None:
        stream = reader.updates([NEWS])
        pending = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        client.disconnected.set_exception(ConnectionResetError("reset by peer"))
        await asyncio.wait_for(pending, 1)

    with pytest.raises(TelegramError, match="connection to Telegram closed"):
        run(scenario())
    assert client.handlers == []


# --- clients, sessions -------------------------------------------------------------------


def session_string() -> str:
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(bytes(range(256)))
    return str(session.save())


def test_make_client_uses_a_string_session_when_given_and_leaves_flood_waits_to_us(
    tmp_path: Path,
) -> None:
    client = make_client(12345, "0123456789abcdef", session_string(), tmp_path / "unused")
    assert isinstance(client.session, StringSession)
    assert client.flood_sleep_threshold == 0
    assert not (tmp_path / "unused.session").exists()


def test_make_client_rejects_a_malformed_session_string() -> None:
    with pytest.raises(ConfigError, match="TG_SESSION_STRING"):
        make_client(12345, "0123456789abcdef", "not-a-session", None)


def test_make_client_without_any_session_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TG_SESSION"):
        make_client(12345, "0123456789abcdef", None, None)


def test_session_file_is_created_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        client = make_client(12345, "0123456789abcdef", None, tmp_path / "reader")
    finally:
        os.umask(old_umask)
    client.session.close()
    assert isinstance(client.session, SQLiteSession)
    assert stat.S_IMODE((tmp_path / "reader.session").stat().st_mode) == 0o600


def test_existing_loose_session_file_is_tightened_to_0600(tmp_path: Path) -> None:
    path = tmp_path / "reader.session"
    path.touch()
    path.chmod(0o644)
    client = make_client(12345, "0123456789abcdef", None, path)
    client.session.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_session_file_in_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open the session file"):
        make_client(12345, "0123456789abcdef", None, tmp_path / "nowhere" / "reader")


def test_second_holder_of_a_session_lock_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    session = tmp_path / "reader.session"
    with (
        session_lock(session),
        pytest.raises(TelegramError, match="in use by another civicquant process"),
        session_lock(session),
    ):
        pass
    with session_lock(session):
        pass


class UnauthorisedClient:
    def __init__(self) -> None:
        self.disconnects = 0

    async def connect(self) -> None:
        return None

    async def is_user_authorized(self) -> bool:
        return False

    async def disconnect(self) -> None:
        self.disconnects += 1


def test_connect_refuses_a_session_that_is_not_logged_in_instead_of_prompting() -> None:
    client = UnauthorisedClient()
    with pytest.raises(TelegramError, match="not logged in"):
        run(connect(client))
    assert client.disconnects == 1
