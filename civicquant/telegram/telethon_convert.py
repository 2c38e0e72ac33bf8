"""Conversion of Telethon messages into civicquant RawPosts.

It imports Telethon; like the reader, import it only inside the commands that read Telegram.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from telethon import utils
from telethon.tl import types

from civicquant.errors import TelegramError
from civicquant.ingest.posts import Media, RawPost

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


def message_to_post(message: Any, channel_id: int) -> RawPost | None:
    """Return the RawPost for a Telethon message, or None for service messages and empties."""
    if not isinstance(message, types.Message):
        return None
    if message.date is None:
        raise TelegramError(f"message {message.id} of channel {channel_id} has no date")
    posted_at = _utc(message.date)
    assert posted_at is not None
    sender, sender_id = _sender(message, channel_id)
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
        sender=sender,
        sender_id=sender_id,
    )


def _sender(message: Any, channel_id: int) -> tuple[str | None, str | None]:
    """Who posted it: (name, peer id as an export writes it, "user123"), as `raw_messages.sender`.

    A group member's post names them by `from_id` (the name from the entity Telegram sent
    with the message, when it did). A post by the chat itself (every channel post, an
    anonymous admin's group post) has no sender id: its signature, if any, is the sender.
    """
    peer = message.from_id
    if isinstance(peer, types.PeerUser):
        sender_id = f"user{peer.user_id}"
    elif isinstance(peer, types.PeerChannel) and peer.channel_id != channel_id:
        sender_id = f"channel{peer.channel_id}"
    elif isinstance(peer, types.PeerChat):
        sender_id = f"chat{peer.chat_id}"
    else:
        return (str(message.post_author) if message.post_author else None), None
    entity = message.sender
    name = utils.get_display_name(entity) if entity is not None else ""
    return (name or None), sender_id


def channel_post(message: Any, watched: set[int]) -> RawPost | None:
    """The RawPost for `message` when it is a post of one of the `watched` channels, else None."""
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


def public_username(entity: Any) -> str | None:
    """The channel's public @name without the @, or None for a channel without one."""
    if entity.username:
        return str(entity.username)
    # Channels with several (collectible) usernames list them here instead.
    for username in entity.usernames or ():
        if username.active:
            return str(username.username)
    return None


# --- small helpers ---------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # Telethon's dates are UTC; be explicit if one is naive
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
