"""The Telegram publishing seam: post one HTML message to a chat, and what can go wrong.

`Publisher` is implemented by `civicquant.telegram.bot_api.BotPublisher` (python-telegram-bot
against the Bot API) and by `DryRunPublisher`, which only records. Nothing here imports
`telegram`, so commands that never post start fast; `civicquant.wiring.make_publisher`
imports the adapter only when a real bot is asked for.

Failures come in three kinds. `PublishError` is permanent: Telegram refused this post
(a bad chat id, HTML it cannot parse, the bot kicked or its token rejected) and sending
it again will not help. `TransientPublishError` means the post was never sent (Telegram
could not be reached, or asked to wait) even after retries; a later run may succeed.
`PublishOutcomeUnknown` means the request may have reached Telegram but no readable
answer came back (a read timeout, a reset connection, a cut-off or non-JSON body, a 5xx):
the message may be in the chat, so it is never sent again on its own (the ledger records
the part as in doubt, as after a crash mid-send; `--force` resends it).

Use a publisher with `contextlib.aclosing`, so its connections close however the run ends:

    async with contextlib.aclosing(make_publisher(settings)) as publisher:
        sent = await publisher.send(settings.tg_vip_chat_id, html)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from civicquant.config import Settings
from civicquant.errors import TelegramError

__all__ = [
    "DryRunPublisher",
    "PublishError",
    "PublishOutcomeUnknown",
    "PublishedDraft",
    "Publisher",
    "PublisherFactory",
    "SentMessage",
    "TransientPublishError",
]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message Telegram accepted: the chat it went to and the id Telegram gave it."""

    chat_id: str
    message_id: int


class PublishError(TelegramError):
    """Telegram refused the post for good; the message names the chat and Telegram's reason."""


class TransientPublishError(TelegramError):
    """Telegram was unreachable or failing on its side after every retry; try again later."""


class PublishOutcomeUnknown(TelegramError):
    """The post may or may not be in the chat: the request went out, the answer was lost."""


class Publisher(Protocol):
    """Posts HTML messages to Telegram chats."""

    async def send(self, chat_id: str, html: str) -> SentMessage:
        """Post `html` (parse mode HTML, link previews off) to `chat_id`; return what was sent.

        Raises PublishError when Telegram refuses the post, TransientPublishError when it
        could not be delivered after retries, PublishOutcomeUnknown when it may have been
        delivered but the answer was lost, FloodWaitTooLong when Telegram asks for a longer
        wait than allowed.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; the publisher is not used afterwards."""
        ...


# Builds the publisher a run posts with (civicquant.wiring.make_publisher); called only
# when something is to be sent, so a run that posts nothing imports no Telegram client.
PublisherFactory = Callable[[Settings], Publisher]


@dataclass(frozen=True, slots=True)
class PublishedDraft:
    """What a dry run would have posted, and the message id it pretended Telegram gave."""

    chat_id: str
    html: str
    message_id: int


class DryRunPublisher:
    """A Publisher that posts nothing: it records each message in `sent` and prints nothing.

    Message ids count up from 1 across all chats, so callers that store them still see
    distinct, increasing ids.
    """

    def __init__(self) -> None:
        self.sent: list[PublishedDraft] = []
        self.closed = False

    async def send(self, chat_id: str, html: str) -> SentMessage:
        """Record the message and return a made-up, increasing message id."""
        message_id = len(self.sent) + 1
        self.sent.append(PublishedDraft(chat_id=chat_id, html=html, message_id=message_id))
        return SentMessage(chat_id=chat_id, message_id=message_id)

    async def aclose(self) -> None:
        """Mark the publisher closed; there is nothing to release."""
        self.closed = True
