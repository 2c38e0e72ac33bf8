"""Reading an export by Telegram Desktop's layout, and handing over to the streaming parser.

Whatever path reads a message, the posts, the counts and the errors must be the ones the
streaming parser alone gives: these tests read the same export laid out as Telegram Desktop
writes it and written on one line (which only the streaming parser reads).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicquant.errors import InputFormatError
from civicquant.ingest.export_file import ExportFile
from civicquant.ingest.export_layout import Messages

REAL_EXPORT = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "trantor_library_result.json"
)
HEAD = {"name": "Wire", "type": "public_channel", "id": 1234567890}


def message(message_id: int, text: object = "Hello", **fields: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "date_unixtime": str(1_700_000_000 + message_id),
        "text": text,
        **fields,
    }


def laid_out(messages: list[Any]) -> str:
    """As Telegram Desktop writes it: one space of indent per level."""
    return json.dumps({**HEAD, "messages": messages}, ensure_ascii=False, indent=1)


def one_line(messages: list[Any]) -> str:
    return json.dumps({**HEAD, "messages": messages}, ensure_ascii=False)


def read(path: Path, text: str) -> tuple[list[Any], tuple[int, int, int], str | None]:
    """Posts, (posts, service skipped, unsupported skipped) and the error, if any."""
    path.write_text(text, encoding="utf-8")
    export = ExportFile(path)
    got: list[Any] = []
    error = None
    try:
        got.extend(export)  # keeps the posts read before an error
    except InputFormatError as exc:
        error = str(exc).removeprefix(f"{path}: ")
    stats = export.stats
    return got, (stats.posts, stats.service_skipped, stats.unsupported_skipped), error


def test_every_message_of_a_real_export_is_cut_out_by_the_layout() -> None:
    if not REAL_EXPORT.exists():
        pytest.skip("../shared/data/trantor_library_result.json is absent")
    with REAL_EXPORT.open("rb") as raw:
        layout = Messages(raw)
        ids = [item["id"] for item in layout]
        assert layout.complete
    streamed = json.loads(REAL_EXPORT.read_bytes())["messages"]
    assert ids == [item["id"] for item in streamed]
    assert len(ids) == 924


def test_a_real_export_reads_the_same_either_way(tmp_path: Path) -> None:
    if not REAL_EXPORT.exists():
        pytest.skip("../shared/data/trantor_library_result.json is absent")
    document = json.loads(REAL_EXPORT.read_bytes())
    fast = list(ExportFile(REAL_EXPORT))
    (tmp_path / "one_line.json").write_text(json.dumps(document, ensure_ascii=False))
    assert fast == list(ExportFile(tmp_path / "one_line.json"))
    assert len(fast) == 908


def test_a_bad_message_in_the_middle_is_reported_as_the_streaming_parser_reports_it(
    tmp_path: Path,
) -> None:
    messages = [message(i) for i in range(1, 7)] + [
        {"id": 7, "type": "message", "date_unixtime": "soon", "text": "bad date"},
        message(8),
    ]
    posts, counts, error = read(tmp_path / "a.json", laid_out(messages))
    _, _, streamed_error = read(tmp_path / "b.json", one_line(messages))

    assert [post.message_id for post in posts] == [1, 2, 3, 4, 5, 6]  # each once
    assert counts == (6, 0, 0)
    assert error is not None
    assert streamed_error is not None
    assert error.split(", before byte")[0] == streamed_error.split(", before byte")[0]
    assert error.startswith("message 7 has no valid date_unixtime (messages[6], after message 6")


def test_a_message_orjson_refuses_is_read_by_the_streaming_parser(tmp_path: Path) -> None:
    # An unpaired surrogate escape: valid JSON that orjson refuses; ijson makes it "?".
    messages = [message(1), message(2, "half \\ud83d of an emoji"), message(3), message(4)]
    fast_text = laid_out(messages).replace("\\\\ud83d", "\\ud83d")
    slow_text = one_line(messages).replace("\\\\ud83d", "\\ud83d")

    posts, counts, error = read(tmp_path / "surrogate.json", fast_text)

    assert error is None
    assert [post.message_id for post in posts] == [1, 2, 3, 4]
    assert posts[1].text == "half ? of an emoji"
    assert counts == (4, 0, 0)
    assert read(tmp_path / "one_line.json", slow_text) == (posts, counts, None)


def test_a_cut_off_laid_out_file_keeps_each_post_before_the_cut_once(tmp_path: Path) -> None:
    text = laid_out([message(i) for i in range(1, 40)])
    cut = text[: text.index('"id": 31')]

    posts, counts, error = read(tmp_path / "cut.json", cut)

    assert [post.message_id for post in posts] == list(range(1, 31))
    assert counts[0] == 30
    assert error == f"cut off at byte {len(cut.encode())} after message 30 (incomplete JSON)"


def test_anything_after_the_messages_is_read_by_the_streaming_parser(tmp_path: Path) -> None:
    text = laid_out([message(1), message(2)])
    trailing = text[:-2] + ',\n "extra": [1, 2]\n}'
    broken = text + " ]"

    assert read(tmp_path / "extra.json", trailing)[0] == read(tmp_path / "plain.json", text)[0]
    posts, _, error = read(tmp_path / "broken.json", broken)
    assert [post.message_id for post in posts] == [1, 2]
    assert error is not None
    assert error.startswith("invalid JSON at byte")


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from('\n\\\x07"'),
    max_size=30,
)
_PART = _TEXT | st.fixed_dictionaries(
    {"type": st.sampled_from(["bold", "text_link", "pre", "hashtag"]), "text": _TEXT},
    optional={"href": _TEXT, "language": _TEXT},
)
_MESSAGE = st.builds(
    lambda message_id, kind, text, extra: {
        "id": message_id,
        "type": kind,
        "date_unixtime": "1700000000",
        "text": text,
        **extra,
    },
    st.integers(1, 10**6),
    st.sampled_from(["message", "message", "service"]),
    _TEXT | st.lists(_PART, max_size=4),
    st.fixed_dictionaries(
        {},
        optional={
            "photo": _TEXT,
            "reply_to_message_id": st.integers(1, 10),
            "author": _TEXT,
            "nested": st.recursive(
                st.none() | st.integers() | _TEXT,
                lambda inner: (
                    st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3)
                ),
                max_leaves=6,
            ),
        },
    ),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(_MESSAGE, max_size=8), telegram_escapes=st.booleans())
def test_any_export_reads_the_same_laid_out_or_on_one_line(
    tmp_path: Path, messages: list[dict[str, Any]], telegram_escapes: bool
) -> None:
    fast_text, slow_text = laid_out(messages), one_line(messages)
    if telegram_escapes:  # Telegram Desktop writes control characters as \xNN
        fast_text = fast_text.replace("\\u0007", "\\x07")
        slow_text = slow_text.replace("\\u0007", "\\x07")
    assert read(tmp_path / "fast.json", fast_text) == read(tmp_path / "slow.json", slow_text)
