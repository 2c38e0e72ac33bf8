"""Publishing: BotPublisher with the real python-telegram-bot client over real HTTP to a fake
Bot API server, the DryRunPublisher, and how TG_BOT_API_URL becomes PTB's base_url."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import traceback
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from civicquant import logs
from civicquant.config import load_settings
from civicquant.errors import ConfigError, FloodWaitTooLong, TelegramError
from civicquant.logs import REDACTED, configure_logging, reset_logging
from civicquant.publish.publisher import (
    DryRunPublisher,
    PublishedDraft,
    PublishError,
    PublishOutcomeUnknown,
    SentMessage,
    TransientPublishError,
)
from civicquant.telegram.bot_api import BotPublisher, bot_api_base_url
from civicquant.wiring import make_publisher
from tests.fakes.bot_api import (
    BAD_GATEWAY,
    BOT_KICKED,
    CANT_PARSE_ENTITIES,
    CHAT_NOT_FOUND,
    GROUP_MIGRATED,
    INTERNAL_ERROR,
    TOKEN,
    UNAUTHORIZED,
    Failure,
    FakeBotApi,
    LostAnswer,
    flood,
)

T = TypeVar("T")
CHAT = "-1001234"
WRONG_TOKEN = "987654321:AAFwrongwrongwrongwrongwrongwrong00"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class RecordedSleeps(list[float]):
    """An injected `sleep` that records each wait instead of sleeping."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(TOKEN) as server:
        yield server


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@contextlib.asynccontextmanager
async def bot(
    url: str, sleeps: RecordedSleeps, *, token: str = TOKEN, **options: Any
) -> AsyncIterator[BotPublisher]:
    async with contextlib.aclosing(
        BotPublisher(token, base_url=url, sleep=sleeps, **options)
    ) as publisher:
        yield publisher


async def send(url: str, sleeps: RecordedSleeps, html: str = "<b>Hi</b>", **options: Any) -> Any:
    """Send one message with a fresh publisher; return what it sent or the error it raised."""
    async with bot(url, sleeps, **options) as publisher:
        try:
            return await publisher.send(CHAT, html)
        except TelegramError as exc:
            return exc


def free_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def full_text(exc: BaseException) -> str:
    """What a traceback of `exc` shows: every message of the chain, as logging renders it."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


# --- posting ---------------------------------------------------------------------------


def test_message_is_posted_with_html_parse_mode_and_link_previews_off(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    html = '<b>Rates</b> held &amp; <a href="https://t.me/news/7">source</a>'

    sent = run(send(api.url, sleeps, html))

    assert sent == SentMessage(chat_id=CHAT, message_id=1)
    [posted] = api.sent_messages
    assert (posted.chat_id, posted.text, posted.parse_mode) == (CHAT, html, "HTML")
    assert posted.link_preview_disabled is True


def test_message_ids_are_the_ones_telegram_assigns_per_chat(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    async def post_three() -> list[SentMessage]:
        async with bot(api.url, sleeps) as publisher:
            return [
                await publisher.send(CHAT, "one"),
                await publisher.send(CHAT, "two"),
                await publisher.send("@civicquant_ops", "three"),
            ]

    assert [sent.message_id for sent in run(post_three())] == [1, 2, 1]


def test_bot_is_initialised_once_for_many_messages(api: FakeBotApi, sleeps: RecordedSleeps) -> None:
    async def post_twice() -> None:
        async with bot(api.url, sleeps) as publisher:
            await publisher.send(CHAT, "one")
            await publisher.send(CHAT, "two")

    run(post_twice())

    assert [request.method for request in api.requests] == ["getMe", "sendMessage", "sendMessage"]


def test_text_of_exactly_4096_utf16_units_after_parsing_is_posted(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    # 2048 astral emoji are 4096 UTF-16 units; tags do not count, as on Telegram.
    html = "<b>" + "😀" * 2048 + "</b>"

    assert isinstance(run(send(api.url, sleeps, html)), SentMessage)


def test_every_tag_telegram_allows_is_posted(api: FakeBotApi, sleeps: RecordedSleeps) -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>x</tg-spoiler>"
        '<span class="tg-spoiler">y</span><a href="https://t.me/news/1">link</a>'
        '<code>c</code><pre><code class="language-python">p</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>r</blockquote>"
        " &lt;&gt;&amp;&quot; &#8212; &#x2014; AT&T"
    )

    assert isinstance(run(send(api.url, sleeps, html)), SentMessage)


# --- waiting and retrying ----------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [1, 7])
def test_flood_wait_is_waited_out_for_retry_after_then_posted_once(
    api: FakeBotApi, sleeps: RecordedSleeps, retry_after: int
) -> None:
    api.fail_next(flood(retry_after=retry_after))

    sent = run(send(api.url, sleeps))

    assert sent == SentMessage(chat_id=CHAT, message_id=1)
    assert sleeps == [float(retry_after)]
    assert len(api.sent_messages) == 1
    assert [request.status for request in api.calls("sendMessage")] == [429, 200]


@pytest.mark.parametrize("failure", [INTERNAL_ERROR, BAD_GATEWAY], ids=["500", "502-html-page"])
def test_server_error_on_a_send_is_an_unknown_outcome_never_a_resend(
    api: FakeBotApi, sleeps: RecordedSleeps, failure: Any
) -> None:
    # A 5xx comes from behind Telegram's front: the message may have been posted.
    api.fail_next(failure)

    error = run(send(api.url, sleeps))

    assert isinstance(error, PublishOutcomeUnknown)
    assert str(error).startswith(f"no answer from Telegram for the post to chat {CHAT}")
    assert len(api.calls("sendMessage")) == 1
    assert sleeps == []


def test_server_errors_at_initialisation_back_off_then_give_up_as_transient(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    # getMe posts nothing, so it is retried; nothing was sent.
    api.fail_next(INTERNAL_ERROR, times=4, method="getMe")

    error = run(send(api.url, sleeps, max_retries=3))

    assert isinstance(error, TransientPublishError)
    assert not isinstance(error, PublishError)
    assert str(error) == (
        f"Telegram did not take the post for chat {CHAT} after 4 attempts: Internal Server Error"
    )
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(api.calls("getMe")) == 4
    assert api.calls("sendMessage") == []


def test_unreadable_error_page_is_reported_by_its_status(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    api.fail_next(BAD_GATEWAY, times=2, method="getMe")

    error = run(send(api.url, sleeps, max_retries=1))

    assert str(error) == (
        f"Telegram did not take the post for chat {CHAT} after 2 attempts: Bad Gateway (502)"
    )


@pytest.mark.parametrize("mode", list(LostAnswer), ids=[mode.value for mode in LostAnswer])
def test_a_post_whose_answer_is_lost_is_never_sent_twice(
    api: FakeBotApi, sleeps: RecordedSleeps, mode: LostAnswer
) -> None:
    # Telegram posts the message, then the answer arrives late, the connection resets,
    # the body is cut short or is not JSON: one message in the chat, an unknown outcome.
    api.lose_answer_next(mode)

    error = run(send(api.url, sleeps, read_timeout=0.5))

    assert isinstance(error, PublishOutcomeUnknown)
    assert len(api.sent_messages) == 1
    assert len(api.calls("sendMessage")) == 1
    assert sleeps == []


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_an_html_error_page_leaves_one_short_line_per_attempt_in_the_log(
    api: FakeBotApi, sleeps: RecordedSleeps, level: str
) -> None:
    # At initialisation (getMe posts nothing), so the 502 is retried and the post then sent.
    api.fail_next(
        Failure(502, "Bad Gateway " + "<p>upstream</p>" * 400, html_page=True), method="getMe"
    )
    stream = io.StringIO()
    logs.configure_logging(fmt="json", level=level, stream=stream)
    try:
        sent = run(send(api.url, sleeps))
    finally:
        logs.reset_logging()

    assert sent == SentMessage(chat_id=CHAT, message_id=1)
    lines = stream.getvalue().splitlines()
    assert lines
    assert all(len(line) < 1000 for line in lines), max(lines, key=len)[:300]
    assert "Traceback" not in stream.getvalue()
    [retry] = [line for line in lines if "telegram_publish_retrying" in line]
    assert "Bad Gateway (502)" in retry


def test_repeated_flood_waits_count_toward_max_retries(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    api.fail_next(flood(retry_after=1), times=3)

    error = run(send(api.url, sleeps, max_retries=2))

    assert isinstance(error, TransientPublishError)
    assert sleeps == [1.0, 1.0]
    assert len(api.calls("sendMessage")) == 3


def test_flood_wait_longer_than_the_limit_ends_the_run_without_waiting(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    api.fail_next(flood(retry_after=600))

    error = run(send(api.url, sleeps, max_flood_wait_seconds=300))

    assert isinstance(error, FloodWaitTooLong)
    assert (error.seconds, error.limit) == (600, 300)
    assert sleeps == []
    assert len(api.calls("sendMessage")) == 1


def test_unreachable_server_is_retried_then_reported_as_transient(sleeps: RecordedSleeps) -> None:
    error = run(send(free_port_url(), sleeps, max_retries=2))

    assert isinstance(error, TransientPublishError)
    assert str(error).startswith(f"Telegram did not take the post for chat {CHAT} after 3 attempts")
    assert len(sleeps) == 2


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    ["<b>unclosed", "line<br>break", "<b><i>crossed</b></i>", "<span>plain span</span>", "a < b"],
)
def test_html_telegram_cannot_parse_is_refused_at_once_with_one_request(
    api: FakeBotApi, sleeps: RecordedSleeps, html: str
) -> None:
    error = run(send(api.url, sleeps, html))

    assert isinstance(error, PublishError)
    assert str(error).startswith(
        f"Telegram refused to post to chat {CHAT}: Bad Request: can't parse entities: "
    )
    assert len(api.calls("sendMessage")) == 1
    assert sleeps == []


def test_scripted_cant_parse_entities_is_refused_with_telegrams_reason(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    api.fail_next(CANT_PARSE_ENTITIES)

    error = run(send(api.url, sleeps))

    assert isinstance(error, PublishError)
    assert "can't parse entities: unsupported start tag" in str(error)
    assert len(api.calls("sendMessage")) == 1


def test_text_longer_than_4096_utf16_units_is_refused(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    error = run(send(api.url, sleeps, "😀" * 2048 + "!"))

    assert isinstance(error, PublishError)
    assert (
        str(error) == f"Telegram refused to post to chat {CHAT}: Bad Request: message is too long"
    )


def test_unknown_chat_is_refused_naming_the_chat(api: FakeBotApi, sleeps: RecordedSleeps) -> None:
    api.fail_next(CHAT_NOT_FOUND)

    error = run(send(api.url, sleeps))

    assert isinstance(error, PublishError)
    assert str(error) == f"Telegram refused to post to chat {CHAT}: Bad Request: chat not found"
    assert sleeps == []


def test_group_upgraded_to_a_supergroup_is_refused_naming_the_new_chat_id(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    api.fail_next(GROUP_MIGRATED)

    error = run(send(api.url, sleeps))

    assert isinstance(error, PublishError)
    assert str(error).endswith("its new chat id is -1009876543210")
    assert len(api.calls("sendMessage")) == 1


def test_kicked_bot_is_refused_naming_the_chat(api: FakeBotApi, sleeps: RecordedSleeps) -> None:
    api.fail_next(BOT_KICKED)

    error = run(send(api.url, sleeps))

    assert isinstance(error, PublishError)
    assert str(error) == (
        f"Telegram refused to post to chat {CHAT}: Forbidden: bot was kicked from the channel chat"
    )
    assert len(api.calls("sendMessage")) == 1


def test_wrong_token_is_refused_at_initialisation_without_retrying(
    api: FakeBotApi, sleeps: RecordedSleeps
) -> None:
    error = run(send(api.url, sleeps, token=WRONG_TOKEN))

    assert isinstance(error, PublishError)
    assert str(error) == (
        f"Telegram refused to post to chat {CHAT}: Unauthorized (Telegram rejected TG_BOT_TOKEN)"
    )
    assert [(request.method, request.status) for request in api.requests] == [("getMe", 401)]
    assert sleeps == []


def test_token_revoked_mid_run_is_refused(api: FakeBotApi, sleeps: RecordedSleeps) -> None:
    api.fail_next(UNAUTHORIZED)

    error = run(send(api.url, sleeps))

    assert isinstance(error, PublishError)
    assert "Unauthorized" in str(error)
    assert len(api.calls("sendMessage")) == 1


# --- the token stays secret --------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "failure", "options"),
    [
        (WRONG_TOKEN, None, {}),
        (TOKEN, UNAUTHORIZED, {}),
        (TOKEN, BOT_KICKED, {}),
        (TOKEN, CHAT_NOT_FOUND, {}),
        (TOKEN, BAD_GATEWAY, {"max_retries": 0}),
        (TOKEN, flood(retry_after=900), {"max_flood_wait_seconds": 60}),
    ],
    ids=["rejected-at-init", "401", "403", "400", "502", "flood-too-long"],
)
def test_token_never_appears_in_an_error_or_its_traceback(
    api: FakeBotApi, sleeps: RecordedSleeps, token: str, failure: Any, options: dict[str, Any]
) -> None:
    if failure is not None:
        api.fail_next(failure)

    error = run(send(api.url, sleeps, token=token, **options))

    assert isinstance(error, TelegramError)
    assert token not in full_text(error)
    assert token.split(":")[1] not in full_text(error)


def test_token_in_an_unreachable_servers_error_never_appears(sleeps: RecordedSleeps) -> None:
    error = run(send(free_port_url(), sleeps, max_retries=0))

    assert isinstance(error, TransientPublishError)
    assert TOKEN not in full_text(error)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    # As the CLI does: settings.secret_values() holds the configured token.
    configure_logging(fmt="json", level="DEBUG", secrets=[TOKEN], stream=stream)
    yield stream
    reset_logging()


def test_token_never_appears_in_a_log_line(
    api: FakeBotApi, sleeps: RecordedSleeps, debug_log: io.StringIO
) -> None:
    api.fail_next(flood(retry_after=1))
    api.fail_next(BAD_GATEWAY, method="getMe")
    api.fail_next(INTERNAL_ERROR, method="getMe")

    async def scenario() -> None:
        async with bot(api.url, sleeps) as publisher:
            await publisher.send(CHAT, "<b>posted after retries</b>")
            api.fail_next(BOT_KICKED)
            with pytest.raises(PublishError):
                await publisher.send(CHAT, "refused")
            with pytest.raises(PublishError):
                await publisher.send(CHAT, "<b>unbalanced")
        async with bot(api.url, sleeps, token=WRONG_TOKEN) as rejected:
            with pytest.raises(PublishError):
                await rejected.send(CHAT, "never sent")

    run(scenario())

    lines = debug_log.getvalue()
    # The libraries did log request URLs (the token's place), and the pipeline scrubbed them.
    assert "sendMessage" in lines
    assert '"logger": "httpx"' in lines
    assert REDACTED in lines
    assert TOKEN not in lines
    assert WRONG_TOKEN not in lines
    assert TOKEN.split(":")[1] not in lines


# --- the dry run -------------------------------------------------------------------------


def test_dry_run_records_each_message_with_increasing_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    publisher = DryRunPublisher()

    async def post() -> list[SentMessage]:
        return [await publisher.send(CHAT, "<b>one</b>"), await publisher.send("@ops", "two")]

    assert run(post()) == [SentMessage(CHAT, 1), SentMessage("@ops", 2)]
    assert publisher.sent == [
        PublishedDraft(chat_id=CHAT, html="<b>one</b>", message_id=1),
        PublishedDraft(chat_id="@ops", html="two", message_id=2),
    ]
    assert capsys.readouterr() == ("", "")


def test_dry_run_publisher_is_closed_by_aclose() -> None:
    publisher = DryRunPublisher()

    run(publisher.aclose())

    assert publisher.closed is True


# --- settings and TG_BOT_API_URL ---------------------------------------------------------


@pytest.mark.parametrize(
    ("api_url", "base_url"),
    [
        (None, "https://api.telegram.org/bot"),
        ("", "https://api.telegram.org/bot"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"),
        ("https://proxy.example/telegram", "https://proxy.example/telegram/bot"),
        ("https://api.telegram.org/bot", "https://api.telegram.org/bot"),
        ("http://127.0.0.1:8081/bot{token}/test", "http://127.0.0.1:8081/bot{token}/test"),
    ],
)
def test_bot_api_url_becomes_ptbs_base_url(api_url: str | None, base_url: str) -> None:
    assert bot_api_base_url(api_url) == base_url


def test_bot_api_url_holding_the_token_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        bot_api_base_url(f"http://127.0.0.1:8081/bot{TOKEN}")

    assert "TG_BOT_API_URL" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_bot_api_url_that_is_not_http_is_rejected() -> None:
    with pytest.raises(ConfigError, match="TG_BOT_API_URL"):
        bot_api_base_url("127.0.0.1:8081")


def test_make_publisher_posts_through_the_configured_bot_api_server(
    api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TG_BOT_API_URL", api.url)

    async def post() -> SentMessage:
        async with contextlib.aclosing(make_publisher(load_settings())) as publisher:
            return await publisher.send(CHAT, "via settings")

    assert run(post()) == SentMessage(CHAT, 1)
    assert [message.text for message in api.sent_messages] == ["via settings"]


def test_make_publisher_without_a_token_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="TG_BOT_TOKEN"):
        make_publisher(load_settings())


def test_make_publisher_for_a_dry_run_needs_no_token() -> None:
    assert isinstance(make_publisher(load_settings(), dry_run=True), DryRunPublisher)
