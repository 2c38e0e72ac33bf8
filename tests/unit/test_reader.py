"""The reading seam: FloodWaitPolicy, and the FakeReader that listen/backfill tests use."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import structlog

from civicquant.errors import FloodWaitTooLong, TelegramError
from civicquant.ingest.channels import ChannelSpec
from civicquant.ingest.posts import Channel, RawPost
from civicquant.ingest.reader import (
    ChannelReader,
    DeletedPosts,
    EditedPost,
    FloodWaitPolicy,
    NewPost,
    Update,
)
from tests.fakes.reader import FakeReader

T = TypeVar("T")
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NEWS = Channel(channel_id=1878264527, username="alpha_news", title="Alpha News")
OTHER = Channel(channel_id=42, username="other_news")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def post(message_id: int, *, channel: Channel = NEWS, minutes: int | None = None) -> RawPost:
    offset = message_id if minutes is None else minutes
    return RawPost(
        channel_id=channel.channel_id,
        message_id=message_id,
        posted_at=START + timedelta(minutes=offset),
        text=f"post {message_id}",
    )


async def collect(iterator: AsyncIterator[T]) -> list[T]:
    return [item async for item in iterator]


class Sleeps:
    """Records sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


# --- FloodWaitPolicy ---------------------------------------------------------------------


def test_short_flood_wait_sleeps_the_wait_plus_jitter_drawn_from_zero_to_three() -> None:
    sleeps = Sleeps()
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return 2.5

    policy = FloodWaitPolicy(60, sleep=sleeps, uniform=uniform)
    run(policy.wait(10))
    assert draws == [(0.0, 3.0)]
    assert sleeps.seconds == [12.5]


def test_flood_wait_jitter_from_the_default_random_source_stays_within_three_seconds() -> None:
    sleeps = Sleeps()
    policy = FloodWaitPolicy(60, sleep=sleeps)
    for _ in range(50):
        run(policy.wait(7))
    assert all(7 <= seconds <= 10 for seconds in sleeps.seconds)
    assert len(set(sleeps.seconds)) > 1


def test_flood_waits_are_counted_with_the_time_slept() -> None:
    policy = FloodWaitPolicy(60, sleep=Sleeps(), uniform=lambda low, high: 1.0)
    run(policy.wait(5))
    run(policy.wait(20))
    assert policy.waits == 2
    assert policy.total_seconds == pytest.approx(27.0)


def test_flood_wait_equal_to_the_limit_is_still_slept() -> None:
    sleeps = Sleeps()
    policy = FloodWaitPolicy(60, sleep=sleeps, uniform=lambda low, high: 0.0)
    run(policy.wait(60))
    assert sleeps.seconds == [60.0]


def test_flood_wait_above_the_limit_raises_without_sleeping() -> None:
    sleeps = Sleeps()
    policy = FloodWaitPolicy(60, sleep=sleeps)
    with pytest.raises(FloodWaitTooLong) as raised:
        run(policy.wait(61))
    assert (raised.value.seconds, raised.value.limit) == (61, 60)
    assert sleeps.seconds == []
    assert policy.waits == 0


def test_flood_wait_above_the_limit_is_logged_as_a_structured_event() -> None:
    policy = FloodWaitPolicy(60, sleep=Sleeps())
    with structlog.testing.capture_logs() as logs, pytest.raises(FloodWaitTooLong):
        run(policy.wait(3600))
    assert {"event": "flood_wait_too_long", "seconds": 3600, "max_seconds": 60}.items() <= logs[
        0
    ].items()


def test_reader_and_channels_modules_do_not_import_telethon() -> None:
    probe = (
        "import sys, civicquant.ingest.reader, civicquant.ingest.channels; "
        "sys.exit(1 if 'telethon' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0


# --- FakeReader --------------------------------------------------------------------------


def test_fake_reader_satisfies_the_channel_reader_protocol() -> None:
    reader: ChannelReader = FakeReader([post(1)], channels=[NEWS])
    assert run(collect(reader.history(NEWS))) == [post(1)]


def test_fake_resolves_by_username_ignoring_case_and_by_id() -> None:
    reader = FakeReader(channels=[NEWS])
    assert run(reader.resolve(ChannelSpec(username="alpha_news"))) == NEWS
    assert run(reader.resolve(ChannelSpec(channel_id=NEWS.channel_id))) == NEWS


def test_fake_resolving_an_unknown_channel_raises_telegram_error() -> None:
    with pytest.raises(TelegramError, match="@missing_news"):
        run(FakeReader().resolve(ChannelSpec(username="missing_news")))


def test_fake_history_is_oldest_first_and_only_of_the_channel() -> None:
    reader = FakeReader([post(3), post(1), post(2), post(9, channel=OTHER)])
    assert [p.message_id for p in run(collect(reader.history(NEWS)))] == [1, 2, 3]


def test_fake_history_min_id_is_exclusive() -> None:
    reader = FakeReader([post(i) for i in range(1, 6)])
    assert [p.message_id for p in run(collect(reader.history(NEWS, min_id=3)))] == [4, 5]


def test_fake_history_since_is_inclusive_and_until_exclusive() -> None:
    reader = FakeReader([post(i) for i in range(1, 6)])
    window = reader.history(
        NEWS, since=START + timedelta(minutes=2), until=START + timedelta(minutes=4)
    )
    assert [p.message_id for p in run(collect(window))] == [2, 3]


def test_fake_history_stops_at_limit() -> None:
    reader = FakeReader([post(i) for i in range(1, 6)])
    assert [p.message_id for p in run(collect(reader.history(NEWS, limit=2)))] == [1, 2]


def test_fake_fetch_gives_none_for_deleted_posts() -> None:
    reader = FakeReader([post(1), post(2)])
    reader.delete(NEWS.channel_id, 2)
    assert run(reader.fetch(NEWS, [1, 2, 3])) == {1: post(1), 2: None, 3: None}


def test_fake_records_calls_with_their_arguments() -> None:
    reader = FakeReader([post(1)])
    run(collect(reader.history(NEWS, min_id=0, limit=5)))
    run(reader.fetch(NEWS, [1]))
    assert [call.method for call in reader.calls] == ["history", "fetch"]
    assert reader.calls_to("history")[0].args["limit"] == 5
    assert reader.calls_to("fetch")[0].args == {"channel": NEWS, "ids": [1]}


def test_fake_scripted_flood_wait_is_slept_through_the_policy_and_the_call_goes_on() -> None:
    sleeps = Sleeps()
    reader = FakeReader(
        [post(1), post(2)], flood=FloodWaitPolicy(60, sleep=sleeps, uniform=lambda a, b: 0.0)
    )
    reader.script_flood_wait("history", 30, after=1)
    assert [p.message_id for p in run(collect(reader.history(NEWS)))] == [1, 2]
    assert sleeps.seconds == [30.0]


def test_fake_scripted_flood_wait_over_the_limit_raises_flood_wait_too_long() -> None:
    reader = FakeReader([post(1)], flood=FloodWaitPolicy(60, sleep=Sleeps()))
    reader.script_flood_wait("fetch", 600)
    with pytest.raises(FloodWaitTooLong):
        run(reader.fetch(NEWS, [1]))


def test_fake_scripted_error_fires_after_the_given_number_of_posts() -> None:
    reader = FakeReader([post(i) for i in range(1, 5)])
    reader.script_error("history", TelegramError("connection lost"), after=2)
    seen: list[int] = []

    async def consume() -> None:
        async for item in reader.history(NEWS):
            # A comprehension would lose the posts that came before the error.
            seen.append(item.message_id)  # noqa: PERF401

    with pytest.raises(TelegramError, match="connection lost"):
        run(consume())
    assert seen == [1, 2]


def test_fake_scripted_error_fires_once() -> None:
    reader = FakeReader([post(1)], channels=[NEWS])
    reader.script_error("resolve", TelegramError("flaky"))
    with pytest.raises(TelegramError):
        run(reader.resolve(ChannelSpec(username="alpha_news")))
    assert run(reader.resolve(ChannelSpec(username="alpha_news"))) == NEWS


def test_fake_updates_yield_only_watched_channels_and_apply_to_the_store() -> None:
    edited = RawPost(NEWS.channel_id, 1, START, text="corrected")
    stream: list[Update | BaseException] = [
        NewPost(post(1)),
        NewPost(post(7, channel=OTHER)),
        EditedPost(edited),
        NewPost(post(2)),
        DeletedPosts(NEWS.channel_id, (2,)),
    ]
    reader = FakeReader(stream=stream)
    updates = run(collect(reader.updates([NEWS])))
    assert updates == [
        NewPost(post(1)),
        EditedPost(edited),
        NewPost(post(2)),
        DeletedPosts(NEWS.channel_id, (2,)),
    ]
    assert run(reader.fetch(NEWS, [1, 2])) == {1: edited, 2: None}


def test_fake_update_stream_raises_a_scripted_exception_in_place() -> None:
    reader = FakeReader(stream=[NewPost(post(1)), TelegramError("disconnected"), NewPost(post(2))])
    seen: list[Update] = []

    async def consume() -> None:
        async for update in reader.updates([NEWS]):
            # A comprehension would lose the updates that came before the error.
            seen.append(update)  # noqa: PERF401

    with pytest.raises(TelegramError, match="disconnected"):
        run(consume())
    assert seen == [NewPost(post(1))]


def test_fake_live_stream_waits_for_pushed_updates() -> None:
    reader = FakeReader(end_stream_when_drained=False)

    async def scenario() -> list[Update]:
        stream = reader.updates([NEWS])
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        assert not first.done()
        reader.push_update(NewPost(post(1)))
        received = [await asyncio.wait_for(first, timeout=1)]
        await stream.aclose()
        return received

    assert run(scenario()) == [NewPost(post(1))]


# -- which login a command reads with ---------------------------------------------------


def _login(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, auth_key: bytes) -> tuple[str, Any]:
    """A real StringSession and a real SQLiteSession file of one login."""
    from telethon.crypto import AuthKey
    from telethon.sessions import SQLiteSession, StringSession

    string_session = StringSession()
    string_session.set_dc(2, "149.154.167.51", 443)
    string_session.auth_key = AuthKey(auth_key)
    path = tmp_path / "copy.session"
    file_session = SQLiteSession(str(path))
    file_session.set_dc(4, "2001:67c:4e8:f004::a", 443)
    file_session.auth_key = AuthKey(auth_key)
    file_session.save()
    file_session.close()
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    return str(string_session.save()), path


def test_a_login_is_one_session_whether_a_string_or_a_file(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicquant.config import load_settings
    from civicquant.ingest.reader import session_key

    auth_key = bytes(range(256))
    string, path = _login(tmp_path, monkeypatch, auth_key)
    monkeypatch.setenv("TG_SESSION_STRING", string)
    from_string = session_key(load_settings())
    monkeypatch.delenv("TG_SESSION_STRING")
    monkeypatch.setenv("TG_SESSION", str(path.with_suffix("")))  # Telethon adds `.session`
    from_file = session_key(load_settings())
    monkeypatch.setenv("TG_SESSION_RECOVERY", str(path))
    from_recovery = session_key(load_settings(), recovery=True)

    assert from_string == from_file == from_recovery
    assert from_string.startswith("key:")
    assert string not in from_string
    assert auth_key.hex()[:16] not in from_string


def test_a_session_file_not_logged_in_is_named_by_its_path(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicquant.config import load_settings
    from civicquant.ingest.reader import session_key

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("TG_SESSION", str(tmp_path / "fresh"))
    assert session_key(load_settings()) == f"file:{tmp_path / 'fresh'}"
    assert not (tmp_path / "fresh.session").exists()  # reading it never creates it
    monkeypatch.delenv("TG_SESSION")
    monkeypatch.setenv("TG_SESSION_STRING", "not-a-session-string")
    assert session_key(load_settings()).startswith("string:")
