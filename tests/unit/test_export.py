"""civicquant.ingest.export_file: Telegram Desktop's result.json streamed into RawPost objects."""

from __future__ import annotations

import importlib.util
import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ijson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicquant.errors import CivicquantError, InputFormatError
from civicquant.ingest.export_file import ExportFile, _EscapeFilter
from civicquant.ingest.posts import Channel, Media, RawPost

EXPORTS = Path(__file__).resolve().parent / "exports"
SAMPLES = Path(__file__).resolve().parents[2] / "civicquant" / "samples"
REAL_EXPORT = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "trantor_library_result.json"
)
READ_SIZE = 64 * 1024  # the reader's chunk size; escapes split across it must survive

HEADER = (
    '{\n "name": "Test Channel",\n "type": "public_channel",\n "id": 1234567890,\n "messages": ['
)


def posts(name: str) -> list[RawPost]:
    return list(ExportFile(EXPORTS / name))


def by_id(name: str) -> dict[int, RawPost]:
    return {post.message_id: post for post in posts(name)}


def utf16_slice(text: str, entity: dict[str, Any]) -> str:
    """The entity's text, cut the way Telegram counts: in UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
    return encoded[start:end].decode("utf-16-le")


def message_json(message_id: int, text: object = "Hello", **fields: Any) -> str:
    message = {
        "id": message_id,
        "type": "message",
        "date": "2023-11-14T22:13:20",
        "date_unixtime": "1700000000",
        "text": text,
        **fields,
    }
    return json.dumps(message, ensure_ascii=False)


def write_export(path: Path, *messages: str) -> Path:
    path.write_text(HEADER + ",".join(messages) + "\n ]\n}", encoding="utf-8")
    return path


def format_error(path: Path) -> str:
    with pytest.raises(InputFormatError) as caught:
        list(ExportFile(path))
    return str(caught.value)


# --- the channel ---------------------------------------------------------------------------


def test_channel_comes_from_the_header_before_any_post_is_read() -> None:
    export = ExportFile(EXPORTS / "plain_text.json")

    assert export.channel == Channel(channel_id=1234567890, username=None, title="Test Channel")


def test_channel_id_after_the_messages_is_still_found(tmp_path: Path) -> None:
    path = tmp_path / "reordered.json"
    path.write_text(
        '{"messages": ['
        + message_json(1)
        + '], "name": "Late", "type": "public_channel", "id": 77}',
        encoding="utf-8",
    )

    export = ExportFile(path)

    assert export.channel.channel_id == 77
    assert [post.channel_id for post in export] == [77]


def test_a_stop_ends_the_header_scan_with_one_error(tmp_path: Path) -> None:
    path = tmp_path / "reordered.json"
    path.write_text(
        '{"messages": [' + message_json(1) + '], "id": 77}',
        encoding="utf-8",
    )
    stop = threading.Event()
    stop.set()  # as SIGTERM sets it

    with pytest.raises(CivicquantError, match="stopped by a signal while reading the header"):
        ExportFile(path, stop=stop)


def test_a_stop_ends_the_streaming_reader_at_its_next_read(tmp_path: Path) -> None:
    path = tmp_path / "one_line.json"  # not Telegram's layout: read by the streaming parser
    path.write_text(
        '{"name": "x", "type": "public_channel", "id": 77, "messages": [' + message_json(1) + "]}",
        encoding="utf-8",
    )
    stop = threading.Event()
    export = ExportFile(path, stop=stop)
    assert len(list(export)) == 1
    stop.set()

    assert list(export) == []


def test_posts_carry_the_channel_id() -> None:
    assert {post.channel_id for post in posts("plain_text.json")} == {1234567890}


def test_export_of_a_personal_chat_is_refused() -> None:
    with pytest.raises(InputFormatError, match="personal_chat, not of a channel"):
        ExportFile(EXPORTS / "personal_chat.json")


def test_empty_channel_yields_nothing_without_error() -> None:
    export = ExportFile(EXPORTS / "empty_channel.json")

    assert list(export) == []
    assert export.stats.posts == 0


# --- text and entities ---------------------------------------------------------------------


def test_plain_string_text_becomes_the_post_text_without_entities() -> None:
    first, second = posts("plain_text.json")

    assert (first.text, first.entities) == ("Markets open higher", [])
    assert second.text == 'Line one\nLine "two" 📈 done'


def test_every_entity_type_maps_to_its_utf16_span_and_extras() -> None:
    [post] = posts("entities.json")

    spans = [
        (
            e["type"],
            utf16_slice(post.text, e),
            {k: v for k, v in e.items() if k not in ("type", "offset", "length")},
        )
        for e in post.entities
    ]

    assert spans == [
        ("bold", "BREAKING", {}),
        ("italic", "italic", {}),
        ("underline", "under", {}),
        ("strikethrough", "struck", {}),
        ("spoiler", "hidden", {}),
        ("code", "x = 1", {}),
        ("pre", "print('hi')\n", {"language": "python"}),
        ("pre", "plain block\n", {}),
        ("text_link", "the statement", {"url": "https://example.org/statement"}),
        ("link", "https://example.com/a", {}),
        ("email", "desk@example.com", {}),
        ("phone", "+44 20 7946 0000", {}),
        ("mention", "@wirewatch", {}),
        ("mention_name", "Ann Editor", {"user_id": 5550001}),
        ("hashtag", "#macro", {}),
        ("cashtag", "$AAPL", {}),
        ("bot_command", "/start", {}),
        ("bank_card", "4242 4242 4242 4242", {}),
        ("custom_emoji", "🔥", {"document_id": 5368324170671202286}),
        ("blockquote", "Quoted and folded", {"collapsed": True}),
        ("blockquote", "Quoted open", {}),
    ]


def test_entity_offsets_count_an_astral_emoji_as_two_units() -> None:
    [post] = posts("entities.json")

    assert post.text.startswith("🚨 BREAKING")
    assert post.entities[0] == {"type": "bold", "offset": 3, "length": 8}


def test_text_is_the_concatenation_of_all_pieces() -> None:
    [post] = posts("entities.json")

    assert post.text.startswith("🚨 BREAKING italic under struck hidden x = 1\nprint('hi')\n")
    assert post.text.endswith("\nQuoted and folded\nQuoted open")


def test_text_entities_are_used_when_text_is_absent(tmp_path: Path) -> None:
    message = json.loads(message_json(5))
    del message["text"]
    message["text_entities"] = [
        {"type": "plain", "text": "See "},
        {"type": "hashtag", "text": "#x"},
    ]
    path = write_export(tmp_path / "entities_only.json", json.dumps(message))

    [post] = ExportFile(path)

    assert post.text == "See #x"
    assert post.entities == [{"type": "hashtag", "offset": 4, "length": 2}]


def test_malformed_text_is_an_input_format_error(tmp_path: Path) -> None:
    path = write_export(tmp_path / "bad_text.json", message_json(5, text=[{"type": "bold"}]))

    assert "message 5 has malformed text" in format_error(path)


def test_nul_in_text_is_replaced_keeping_utf16_offsets(tmp_path: Path) -> None:
    path = write_export(
        tmp_path / "nul.json",
        message_json(5, text=["a\u0000b ", {"type": "bold", "text": "B"}]),
    )

    [post] = ExportFile(path)

    assert post.text == "a\ufffdb B"
    assert utf16_slice(post.text, post.entities[0]) == "B"


# --- times ---------------------------------------------------------------------------------


def test_posted_at_is_date_unixtime_in_utc_not_the_local_date_field(tmp_path: Path) -> None:
    path = write_export(tmp_path / "t.json", message_json(5, date="2023-11-15T06:13:20"))

    [post] = ExportFile(path)

    assert post.posted_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_edited_unixtime_becomes_edit_date() -> None:
    edited, untouched = posts("edited.json")

    assert edited.edit_date == datetime.fromtimestamp(1700000600, tz=UTC)
    assert untouched.edit_date is None


# --- media ---------------------------------------------------------------------------------


def test_photo_becomes_photo_media_with_base_name_and_size() -> None:
    post = by_id("photo.json")[30]

    assert post.media == Media(
        kind="photo", file_name="photo_1@14-11-2023_22-13-20.jpg", size=184322
    )
    assert post.text == "Flooded street in the old town"


def test_photo_left_out_of_the_export_has_no_file_name() -> None:
    assert by_id("photo.json")[31].media == Media(kind="photo", file_name=None, size=90211)


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        (40, Media(kind="video", file_name=None, mime_type="video/mp4", size=6076097)),
        (41, Media(kind="audio", file_name="Anthem.mp3", mime_type="audio/mpeg", size=12094975)),
        (42, Media(kind="voice", file_name=None, mime_type="audio/ogg", size=31244)),
        (43, Media(kind="video_note", file_name=None, mime_type="video/mp4", size=802112)),
        (44, Media(kind="sticker", file_name="sticker.webp", mime_type="image/webp", size=16886)),
        (
            45,
            Media(kind="animation", file_name="party.gif.mp4", mime_type="video/mp4", size=240001),
        ),
        (
            46,
            Media(
                kind="document",
                file_name="Q3 report.pdf",
                mime_type="application/pdf",
                size=1132333,
            ),
        ),
    ],
)
def test_file_media_type_maps_to_media_kind(message_id: int, expected: Media) -> None:
    assert by_id("files.json")[message_id].media == expected


@pytest.mark.parametrize(
    ("message_id", "kind"),
    [(50, "poll"), (51, "location"), (52, "venue"), (53, "contact"), (54, "game"), (55, "invoice")],
)
def test_media_without_a_file_maps_to_its_kind(message_id: int, kind: str) -> None:
    assert by_id("other_media.json")[message_id].media == Media(kind=kind)


def test_post_without_media_has_none() -> None:
    assert by_id("plain_text.json")[10].media is None


def test_album_messages_are_separate_posts_sharing_one_timestamp() -> None:
    album = posts("album.json")

    assert [post.message_id for post in album] == [80, 81, 82]
    assert len({post.posted_at for post in album}) == 1
    assert [post.text for post in album] == ["Three photos from the summit", "", ""]
    assert all(post.media is not None and post.media.kind == "photo" for post in album)


def test_fields_exports_do_not_have_are_none() -> None:
    post = by_id("plain_text.json")[10]

    assert (post.views, post.forwards, post.grouped_id) == (None, None, None)


# --- authors, replies, forwards ------------------------------------------------------------


def test_author_signature_becomes_author() -> None:
    assert by_id("reply_forward_author.json")[60].author == "Jane Doe"


def test_reply_within_the_channel_becomes_reply_to() -> None:
    assert by_id("reply_forward_author.json")[61].reply_to == 60


def test_reply_to_a_message_in_another_chat_is_dropped() -> None:
    assert by_id("reply_forward_author.json")[62].reply_to is None


def test_forwarded_from_names_the_source() -> None:
    assert by_id("reply_forward_author.json")[63].forwarded_from == "Other Wire"


def test_forward_from_a_hidden_sender_has_no_name() -> None:
    assert by_id("reply_forward_author.json")[64].forwarded_from is None


# --- service and unsupported messages ------------------------------------------------------


def test_service_messages_are_skipped_and_counted() -> None:
    export = ExportFile(EXPORTS / "service.json")

    assert [post.message_id for post in export] == [3, 6]
    assert export.stats.posts == 2
    assert export.stats.service_skipped == 3
    assert export.stats.unsupported_skipped == 1
    assert export.stats.last_message_id == 6


# --- Telegram Desktop's \xNN escapes -------------------------------------------------------


def test_control_character_escapes_are_decoded() -> None:
    assert by_id("control_escapes.json")[100].text == "bell\x07 and unit separator\x1f end"


def test_escaped_backslash_before_x_stays_a_backslash() -> None:
    assert by_id("control_escapes.json")[101].text == "path C:\\x41 stays"


def test_control_escape_after_escaped_backslash_is_decoded() -> None:
    post = by_id("control_escapes.json")[102]

    assert post.text == "\x01Alert backslash then control \\\x02 here"
    assert post.entities == [{"type": "bold", "offset": 0, "length": 6}]
    assert post.author == "Desk\x0b2"


def test_control_escapes_in_the_header_are_decoded() -> None:
    assert ExportFile(EXPORTS / "control_escapes.json").channel.title == "Test\tChannel"


@pytest.mark.parametrize(
    ("escape", "decoded"), [("\\x01", "\x01"), ("\\\\x41", "\\x41"), ("\\\\\\x02", "\\\x02")]
)
@pytest.mark.parametrize("shift", range(-4, 3))
def test_escape_split_across_read_chunks_is_decoded(
    tmp_path: Path, escape: str, decoded: str, shift: int
) -> None:
    prefix = HEADER + '{"id": 7, "type": "message", "date_unixtime": "1700000000", "text": "'
    padding = "a" * (READ_SIZE + shift - len(prefix.encode()))
    path = tmp_path / "split.json"
    path.write_text(prefix + padding + escape + 'z"}\n ]\n}', encoding="utf-8")

    [post] = ExportFile(path)

    assert post.text == padding + decoded + "z"


def test_escape_filter_gives_the_same_bytes_when_read_one_byte_at_a_time() -> None:
    raw = (EXPORTS / "control_escapes.json").read_bytes()

    whole = _EscapeFilter(io.BytesIO(raw)).read(READ_SIZE)
    trickle = _EscapeFilter(io.BytesIO(raw), byte_by_byte_from=0)
    pieces = iter(lambda: trickle.read(READ_SIZE), b"")

    assert b"".join(pieces) == whole
    assert b"\\x" not in whole.replace(b"\\\\", b"")


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (EXPORTS / "plain_text.json").read_bytes())

    assert [post.message_id for post in ExportFile(path)] == [10, 11]


# --- errors --------------------------------------------------------------------------------


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"

    with pytest.raises(InputFormatError, match=r"nowhere\.json: no such file"):
        ExportFile(path)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="a directory; give the export"):
        ExportFile(tmp_path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")

    with pytest.raises(InputFormatError, match="empty file"):
        ExportFile(path)


def test_non_json_file_names_the_file_and_byte_zero() -> None:
    path = EXPORTS / "not_json.json"

    with pytest.raises(InputFormatError) as caught:
        ExportFile(path)

    assert str(caught.value).startswith(f"{path}: invalid JSON at byte 0 (")


def test_json_without_messages_is_not_an_export() -> None:
    with pytest.raises(InputFormatError, match='no top-level "messages" list'):
        ExportFile(EXPORTS / "not_export.json")


def test_whole_account_export_without_chat_lists_its_chats() -> None:
    path = EXPORTS / "whole_account.json"
    with pytest.raises(InputFormatError) as caught:
        ExportFile(path)
    assert str(caught.value) == (
        f"{path}: an export of a whole account (4 chats: Bob Roe (personal_chat, 222);"
        " Test Channel (public_channel, 1234567890); Test Group (private_supergroup,"
        " 1234567891); Old Wire (public_channel, 1111111111)); pick one with --chat NAME or"
        " --chat ID"
    )


def test_whole_account_export_with_one_channel_still_asks_for_chat() -> None:
    with pytest.raises(InputFormatError, match=r"whole account \(1 chat: Test Channel"):
        ExportFile(EXPORTS / "account_export.json")


@pytest.mark.parametrize("chat", ["Test Channel", "test channel", "1234567890"])
def test_chat_picks_one_channel_of_a_whole_account_export_by_name_or_id(chat: str) -> None:
    export = ExportFile(EXPORTS / "whole_account.json", chat=chat)
    assert export.channel == Channel(1234567890, None, "Test Channel")
    assert [(post.channel_id, post.message_id, post.text) for post in export] == [
        (1234567890, 2, "Channel post")
    ]
    assert export.stats.service_skipped == 1


def test_chat_picks_a_supergroup_or_a_left_channel_too() -> None:
    group = ExportFile(EXPORTS / "whole_account.json", chat="Test Group")
    assert [(post.message_id, post.reply_to) for post in group] == [(7, 6)]
    left = ExportFile(EXPORTS / "whole_account.json", chat="1111111111")
    assert [post.text for post in left] == ["Left behind"]


def test_chat_that_is_a_personal_chat_is_refused() -> None:
    with pytest.raises(
        InputFormatError, match="--chat 'Bob Roe' is a personal_chat, not a channel"
    ):
        ExportFile(EXPORTS / "whole_account.json", chat="Bob Roe")


def test_chat_that_matches_nothing_lists_the_chats() -> None:
    with pytest.raises(InputFormatError, match="--chat 'Nope' matches no chat; the export has: 4"):
        ExportFile(EXPORTS / "whole_account.json", chat="Nope")


def test_chat_with_a_single_chat_export_is_refused() -> None:
    with pytest.raises(InputFormatError, match="an export of one chat"):
        ExportFile(EXPORTS / "plain_text.json", chat="Test Channel")


def test_chat_with_a_bad_message_names_it_and_keeps_what_came_before(tmp_path: Path) -> None:
    text = (EXPORTS / "whole_account.json").read_text(encoding="utf-8")
    path = tmp_path / "result.json"
    path.write_text(text.replace('"id": 2,', '"id": "two",'), encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"message has no valid id \(messages\[1\]"):
        list(ExportFile(path, chat="Test Channel"))


def test_messages_that_are_not_a_list_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "object.json"
    path.write_text(
        '{"name": "x", "type": "public_channel", "id": 5, "messages": {}}', encoding="utf-8"
    )

    with pytest.raises(InputFormatError, match='"messages" is not a list'):
        ExportFile(path)


def test_missing_channel_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "no_id.json"
    path.write_text('{"name": "x", "type": "public_channel", "messages": []}', encoding="utf-8")

    with pytest.raises(InputFormatError, match='no valid channel "id"'):
        ExportFile(path)


def test_truncated_file_yields_posts_before_the_cut_then_names_byte_and_last_message() -> None:
    path = EXPORTS / "truncated.json"
    export = ExportFile(path)
    seen: list[int] = []

    with pytest.raises(InputFormatError) as caught:
        seen.extend(post.message_id for post in export)  # keeps the ids read before the cut

    assert seen == [90, 91]
    size = path.stat().st_size
    assert str(caught.value) == f"{path}: cut off at byte {size} after message 91 (incomplete JSON)"


def test_file_cut_after_the_messages_list_is_still_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "no_closing_brace.json"
    path.write_bytes((EXPORTS / "plain_text.json").read_bytes().rstrip(b"}"))

    assert "cut off at byte" in format_error(path)


def test_invalid_byte_mid_file_is_located_exactly(tmp_path: Path) -> None:
    original = (EXPORTS / "plain_text.json").read_bytes()
    position = original.index(b'  {\n   "id": 11')
    path = tmp_path / "garbage.json"
    path.write_bytes(original[:position] + b"@" + original[position:])

    message = format_error(path)

    assert message.startswith(f"{path}: invalid JSON at byte {position} after message 10 (")


def test_invalid_byte_beyond_the_first_read_chunk_is_located_exactly(tmp_path: Path) -> None:
    first = message_json(1, text="x" * (3 * READ_SIZE))
    document = (HEADER + first + ",\n" + message_json(2)).encode()
    position = document.rindex(b'"type"')
    path = tmp_path / "late_garbage.json"
    path.write_bytes(document[:position] + b"@" + document[position:] + b"\n ]\n}")

    message = format_error(path)

    assert position > 2 * READ_SIZE
    assert f"invalid JSON at byte {position} after message 1 (" in message


def test_json_error_is_one_line_chained_to_the_parser_error() -> None:
    with pytest.raises(InputFormatError) as caught:
        list(ExportFile(EXPORTS / "truncated.json"))

    assert "\n" not in str(caught.value)
    assert isinstance(caught.value.__cause__, ijson.JSONError)


def test_message_without_date_unixtime_asks_for_the_exporting_machines_zone() -> None:
    path = EXPORTS / "missing_date.json"
    export = ExportFile(path)
    seen: list[int] = []

    with pytest.raises(InputFormatError) as caught:
        seen.extend(post.message_id for post in export)  # keeps the ids read before the error

    assert seen == [110]
    assert str(caught.value) == (
        f"{path}: message 111 has no date_unixtime (an export from before 2021): pass"
        " --timezone with the exporting machine's zone, e.g. --timezone Europe/Moscow"
    )


def test_message_with_an_invalid_date_unixtime_names_message_and_position(
    tmp_path: Path,
) -> None:
    path = write_export(
        tmp_path / "result.json", message_json(110), message_json(111, date_unixtime="soon")
    )
    assert format_error(path).startswith(
        f"{path}: message 111 has no valid date_unixtime"
        " (messages[1], after message 110, before byte"
    )


def test_export_from_before_2021_reads_date_in_the_given_zone() -> None:
    from zoneinfo import ZoneInfo

    export = ExportFile(EXPORTS / "before_2021.json", timezone=ZoneInfo("Europe/Moscow"))
    stored = {post.message_id: post for post in export}
    assert stored[2].posted_at == datetime(2019, 5, 1, 9, 34, 56, tzinfo=UTC)
    assert stored[2].edit_date == datetime(2019, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert stored[3].posted_at == datetime(2019, 12, 31, 20, 59, 59, tzinfo=UTC)
    assert stored[3].text == "Plain and bold"
    assert export.stats.service_skipped == 1


def test_timezone_does_not_override_date_unixtime() -> None:
    from zoneinfo import ZoneInfo

    stored = list(ExportFile(EXPORTS / "plain_text.json", timezone=ZoneInfo("Asia/Tokyo")))
    assert stored == list(ExportFile(EXPORTS / "plain_text.json"))


def test_export_from_before_2021_with_a_bad_date_names_it(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    message = json.loads(message_json(5, date="1 May 2019"))
    del message["date_unixtime"]
    path = write_export(tmp_path / "result.json", json.dumps(message))
    with pytest.raises(InputFormatError, match="message 5 has neither date_unixtime nor a valid"):
        list(ExportFile(path, timezone=ZoneInfo("UTC")))


def test_message_without_id_is_refused(tmp_path: Path) -> None:
    message = json.loads(message_json(5))
    del message["id"]
    path = write_export(tmp_path / "no_id.json", json.dumps(message))

    assert "message has no valid id (messages[0]" in format_error(path)


def test_trailing_garbage_after_the_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_bytes((EXPORTS / "plain_text.json").read_bytes() + b"\n{}")

    assert "invalid JSON at byte" in format_error(path)


# --- hostile input: only posts or InputFormatError -----------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hypothesis") / "result.json"


def read_all(path: Path) -> list[RawPost] | InputFormatError:
    try:
        return list(ExportFile(path))
    except InputFormatError as exc:
        error = exc
    assert "\n" not in str(error)
    return error


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a value an export would hold, sometimes any JSON value at all."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda roll: good if roll else json_values)


message_ids = st.integers(min_value=1, max_value=10**6)
unixtimes = st.integers(min_value=-1, max_value=10**13).map(str)
entity_parts = st.fixed_dictionaries(
    {
        "type": mostly(
            st.sampled_from(
                ["plain", "bold", "text_link", "pre", "mention_name", "custom_emoji", "blockquote"]
            )
        ),
        "text": mostly(st.text(max_size=6)),
    },
    optional={
        "href": mostly(st.text(max_size=6)),
        "language": mostly(st.text(max_size=4)),
        "user_id": mostly(message_ids),
        "document_id": mostly(st.text(alphabet="0123456789", max_size=21)),
        "collapsed": mostly(st.booleans()),
    },
)
messages = st.fixed_dictionaries(
    {
        "id": mostly(message_ids | st.integers(min_value=-2, max_value=2**64)),
        "type": mostly(st.sampled_from(["message", "service", "unsupported", "other"])),
        "date_unixtime": mostly(unixtimes),
        "text": mostly(
            st.text(max_size=10) | st.lists(st.text(max_size=5) | entity_parts, max_size=4)
        ),
    },
    optional={
        "text_entities": mostly(st.lists(entity_parts, max_size=3)),
        "edited_unixtime": mostly(unixtimes),
        "author": json_values,
        "forwarded_from": json_values,
        "reply_to_message_id": mostly(message_ids),
        "reply_to_peer_id": json_values,
        "photo": json_values,
        "photo_file_size": json_values,
        "file": json_values,
        "file_name": json_values,
        "file_size": json_values,
        "media_type": mostly(st.sampled_from(["video_file", "sticker", "x"])),
        "mime_type": json_values,
        "poll": json_values,
        "location_information": json_values,
    },
)
exports = st.fixed_dictionaries(
    {
        "name": mostly(st.text(max_size=8)),
        "type": mostly(st.sampled_from(["public_channel", "personal_chat"])),
        "id": mostly(message_ids | st.integers(min_value=-2, max_value=2**64)),
        "messages": mostly(st.lists(mostly(messages), max_size=4)),
    }
)
# An export whose structure holds (a channel, a list of messages with ids) and whose fields vary.
well_formed_exports = st.fixed_dictionaries(
    {
        "name": st.text(max_size=8),
        "type": st.just("public_channel"),
        "id": message_ids,
        "messages": st.lists(
            st.builds(
                lambda message, message_id: {**message, "id": message_id}, messages, message_ids
            ),
            min_size=1,
            max_size=4,
        ),
    }
)
documents = (
    well_formed_exports
    | exports
    | st.dictionaries(st.sampled_from(["name", "id", "messages", "chats"]), json_values)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, cut=st.none() | st.integers(min_value=0, max_value=2000))
def test_any_export_like_document_gives_posts_or_input_format_error(
    scratch: Path, document: Any, cut: int | None
) -> None:
    encoded = json.dumps(document).encode()
    scratch.write_bytes(encoded if cut is None else encoded[:cut])

    outcome = read_all(scratch)

    if isinstance(outcome, list):
        for post in outcome:
            for entity in post.entities:
                assert (
                    entity["offset"] + entity["length"] <= len(post.text.encode("utf-16-le")) // 2
                )


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_give_posts_or_input_format_error(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)

    read_all(scratch)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0, max_value=4000), junk=st.binary(min_size=1, max_size=4))
def test_real_export_with_corrupted_bytes_gives_posts_or_input_format_error(
    scratch: Path, position: int, junk: bytes
) -> None:
    original = (EXPORTS / "entities.json").read_bytes()
    scratch.write_bytes(original[:position] + junk + original[position + len(junk) :])

    read_all(scratch)


# --- the demo samples ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "channel_id"),
    [("demo_wirewatch.json", 1000000001), ("demo_marketpulse.json", 1000000002)],
)
def test_demo_sample_parses_into_posts_within_the_demo_window(
    file_name: str, channel_id: int
) -> None:
    export = ExportFile(SAMPLES / file_name)
    sample = list(export)

    assert export.channel.channel_id == channel_id
    assert 20 <= export.stats.posts <= 30
    assert export.stats.service_skipped == 1
    window = (datetime(2026, 11, 20, 8, tzinfo=UTC), datetime(2026, 11, 20, 12, tzinfo=UTC))
    assert all(window[0] <= post.posted_at <= window[1] for post in sample)
    assert any(post.media is not None and post.media.kind == "photo" for post in sample)
    assert any(e["type"] == "text_link" for post in sample for e in post.entities)
    assert any(e["type"] == "cashtag" for post in sample for e in post.entities)


def test_generated_bench_export_parses_into_all_its_posts(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "bench" / "gen_export.py"
    spec = importlib.util.spec_from_file_location("gen_export", script)
    assert spec is not None
    assert spec.loader is not None
    gen_export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_export)
    path = tmp_path / "generated.json"

    gen_export.generate(400, path)
    export = ExportFile(path)
    generated = list(export)

    assert len(generated) == export.stats.posts == 400
    assert export.stats.service_skipped > 0
    assert b"\\x0B" in path.read_bytes()


# --- the real export from Telegram Desktop -------------------------------------------------

needs_real_export = pytest.mark.skipif(
    not REAL_EXPORT.exists(), reason=f"real Telegram Desktop export not present at {REAL_EXPORT}"
)


@pytest.fixture(scope="module")
def real_posts() -> dict[int, RawPost]:
    return {post.message_id: post for post in ExportFile(REAL_EXPORT)}


@needs_real_export
def test_real_export_yields_908_posts_and_skips_16_service_messages() -> None:
    export = ExportFile(REAL_EXPORT)

    assert sum(1 for _ in export) == 908
    assert export.stats.posts == 908
    assert export.stats.service_skipped == 16
    assert export.stats.last_message_id == 1048


@needs_real_export
def test_real_export_channel_is_trantor_library() -> None:
    assert ExportFile(REAL_EXPORT).channel == Channel(channel_id=1878264527, title="川陀大学图书馆")


@needs_real_export
def test_real_export_first_post_time_comes_from_date_unixtime() -> None:
    first = next(iter(ExportFile(REAL_EXPORT)))

    # The file's "date" says 2023-07-18T00:24:19: the exporter's UTC+8 wall clock.
    assert (first.message_id, first.posted_at) == (3, datetime(2023, 7, 17, 16, 24, 19, tzinfo=UTC))


@needs_real_export
def test_real_export_known_post_text_and_entities(real_posts: dict[int, RawPost]) -> None:
    post = real_posts[777]

    assert post.text.startswith(
        "频道信息源整理推荐\n\n笔者注：纯主观推荐。\n\n・英文网站\n\n🌐 Phoronix\n"
    )
    assert post.entities[:3] == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "blockquote", "offset": 11, "length": 10},
        {"type": "text_link", "offset": 33, "length": 8, "url": "https://www.phoronix.com/"},
    ]
    assert len(post.entities) == 28


@needs_real_export
def test_real_export_text_link_offset_is_in_utf16_units(real_posts: dict[int, RawPost]) -> None:
    post = real_posts[777]
    link = post.entities[2]

    assert utf16_slice(post.text, link) == "Phoronix"
    # The 🌐 before it is one Python character but two UTF-16 units.
    assert post.text[link["offset"] : link["offset"] + link["length"]] != "Phoronix"


@needs_real_export
def test_real_export_pre_keeps_its_language(real_posts: dict[int, RawPost]) -> None:
    pre = [e for e in real_posts[542].entities if e["type"] == "pre"]

    assert [e["language"] for e in pre] == ["js", "js"]


@needs_real_export
def test_real_export_media_kinds(real_posts: dict[int, RawPost]) -> None:
    assert real_posts[546].media == Media(
        kind="sticker", file_name="sticker.webp", mime_type="image/webp", size=16886
    )
    assert real_posts[269].media == Media(kind="video", mime_type="video/mp4", size=6076097)
    assert real_posts[1010].media == Media(kind="poll")


@needs_real_export
def test_real_export_reply_to_another_channel_is_dropped_and_own_kept(
    real_posts: dict[int, RawPost],
) -> None:
    assert real_posts[534].reply_to is None
    assert real_posts[99].reply_to == 90


@needs_real_export
def test_real_export_edit_date_and_author(real_posts: dict[int, RawPost]) -> None:
    post = real_posts[6]

    assert post.edit_date == datetime.fromtimestamp(1692980770, tz=UTC)
    assert post.author == "Daneel God"


def test_supergroup_keeps_its_basic_group_messages_under_negative_ids() -> None:
    export = ExportFile(EXPORTS / "migrated_group.json")
    stored = {post.message_id: post for post in export}
    assert sorted(stored) == [-2, -1, 2, 4]
    assert stored[-1].reply_to == -2
    assert stored[-2].text == "Basic group days"
    assert export.stats.service_skipped == 3


def test_negative_id_far_below_zero_is_read_and_zero_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(HEADER + message_json(-(2**56) + 5) + "]}")
    assert [post.message_id for post in ExportFile(path)] == [-(2**56) + 5]
    path.write_text(HEADER + message_json(0) + "]}")
    with pytest.raises(InputFormatError, match="message has no valid id"):
        list(ExportFile(path))


def test_group_posts_keep_their_sender_and_the_chats_own_posts_have_none() -> None:
    stored = by_id("migrated_group.json")
    assert (stored[-2].sender, stored[-2].sender_id) == ("Ann Lee", "user111")
    assert (stored[-1].sender, stored[-1].sender_id) == ("Bob Roe", "user222")
    assert (stored[4].sender, stored[4].sender_id) == (None, None)  # posted as the group
    assert {post.sender for post in posts("plain_text.json")} == {None}


def account_export(chat_messages: str, personal: str = "{}") -> str:
    return (
        '{"about": "x", "personal_information": ' + personal + ', "chats": {"about": "y",'
        ' "list": [{"name": "Wire", "type": "public_channel", "id": 5, "messages": ['
        + chat_messages
        + "]}]}}"
    )


def test_whole_account_export_keeps_the_depth_cap(tmp_path: Path) -> None:
    from civicquant.ingest.export_layout import MAX_DEPTH

    path = tmp_path / "result.json"
    deep = "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10)
    path.write_text(account_export(message_json(1), personal=deep), encoding="utf-8")
    with pytest.raises(InputFormatError, match=f"nests deeper than {MAX_DEPTH} levels"):
        ExportFile(path, chat="Wire")
    deep_message = message_json(1)[:-1] + ', "reactions": ' + deep + "}"
    path.write_text(account_export(deep_message), encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"message nests deeper .* \(messages\[0\]"):
        list(ExportFile(path, chat="Wire"))


def test_whole_account_export_keeps_the_string_cap(tmp_path: Path) -> None:
    from civicquant.ingest.export_layout import MAX_TOKEN_BYTES

    path = tmp_path / "result.json"
    path.write_text(account_export(message_json(1, "x" * (MAX_TOKEN_BYTES + 10))))
    with pytest.raises(InputFormatError, match="longer than"):
        list(ExportFile(path, chat="Wire"))


def test_a_sender_written_as_a_bare_number_is_a_user(tmp_path: Path) -> None:
    path = write_export(tmp_path / "result.json", message_json(5, from_id=42, **{"from": "Ann"}))
    [post] = ExportFile(path)
    assert (post.sender, post.sender_id) == ("Ann", "user42")
