"""Digest and alert rendering: grouping, escaping, links and Telegram's message limits."""

from __future__ import annotations

import html
import itertools
import math
import operator
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicquant.publish.render import (
    DigestEvent,
    SourceLink,
    post_link,
    render_alert,
    render_digest,
    render_text_preview,
    utf16_len,
)

LIMIT = 4096
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Window(TypedDict):
    """render_digest's keyword arguments for the digest window."""

    title: str
    window_start: datetime
    window_end: datetime


WINDOW: Window = {"title": "Digest", "window_start": T0, "window_end": T0 + timedelta(hours=4)}
REUTERS = SourceLink(channel_id=1001, channel_username="reuters_world", message_id=42)


def event(
    event_id: int = 1,
    *,
    topic: str = "markets",
    headline: str = "Stocks rally",
    importance: float = 0.5,
    first_seen_at: datetime = T0,
    sources: tuple[SourceLink, ...] = (REUTERS,),
    source_count: int = 1,
) -> DigestEvent:
    return DigestEvent(
        event_id=event_id,
        topic=topic,
        headline=headline,
        importance=importance,
        first_seen_at=first_seen_at,
        sources=sources,
        source_count=source_count,
    )


def lines_of(parts: list[str]) -> list[str]:
    return [line for part in parts for line in part.split("\n")]


def event_lines(parts: list[str]) -> list[str]:
    return [line for line in lines_of(parts) if line.startswith("• ")]


def topic_headers(parts: list[str]) -> list[str]:
    return [line for line in lines_of(parts)[1:] if re.fullmatch(r"<b>.*</b>", line)]


# --- a small validator for what Telegram's HTML parse mode accepts -------------------

ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "blockquote",
}  # fmt: skip
ALLOWED_ENTITIES = ("&lt;", "&gt;", "&amp;", "&quot;")


class TelegramHtmlValidator(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open_tags: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag not allowed: {tag}")
        expected_attrs = ["href"] if tag == "a" else []
        if [name for name, _ in attrs] != expected_attrs:
            self.errors.append(f"bad attributes on {tag}: {attrs}")
        self.open_tags.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing tag: {tag}")

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags or self.open_tags[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> with open {self.open_tags}")
        else:
            self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if any(char in data for char in "<>&"):
            self.errors.append(f"unescaped markup character in text: {data[:40]!r}")

    def handle_entityref(self, name: str) -> None:
        if f"&{name};" not in ALLOWED_ENTITIES:
            self.errors.append(f"entity not allowed: &{name};")

    def handle_charref(self, name: str) -> None:
        self.errors.append(f"character reference: &#{name};")

    def handle_comment(self, data: str) -> None:
        self.errors.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.errors.append("declaration")

    def handle_pi(self, data: str) -> None:
        self.errors.append("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.errors.append("unknown declaration")


def telegram_html_errors(message: str) -> list[str]:
    validator = TelegramHtmlValidator()
    validator.feed(message)
    validator.close()
    errors = list(validator.errors)
    if validator.open_tags:
        errors.append(f"unclosed tags: {validator.open_tags}")
    errors.extend(
        f"bare & at {match.start()}"
        for match in re.finditer("&", message)
        if not message.startswith(ALLOWED_ENTITIES, match.start())
    )
    return errors


def test_validator_rejects_bare_ampersand_unknown_tags_and_unbalanced_tags() -> None:
    assert telegram_html_errors("<b>a &amp; b</b> &lt;x&gt; &quot;") == []
    assert telegram_html_errors("a & b")
    assert telegram_html_errors("&nbsp;")
    assert telegram_html_errors("<span>x</span>")
    assert telegram_html_errors("<b><i>x</b></i>")
    assert telegram_html_errors("<b>x")
    assert telegram_html_errors('<a href="x" onclick="y">x</a>')


# --- utf16_len ------------------------------------------------------------------------


def test_utf16_len_counts_astral_characters_as_two_units() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("é—") == 2
    assert utf16_len("🚨𝔘") == 4


@given(st.text())
def test_utf16_len_matches_utf16_encoding(text: str) -> None:
    assert utf16_len(text) == len(text.encode("utf-16-le")) // 2


# --- post_link ------------------------------------------------------------------------


def test_public_channel_links_by_username() -> None:
    assert post_link(SourceLink(1001, "reuters_world", 42)) == "https://t.me/reuters_world/42"


def test_private_channel_links_by_bare_channel_id() -> None:
    assert post_link(SourceLink(1234567890, None, 7)) == "https://t.me/c/1234567890/7"


def test_bot_api_marked_channel_id_links_by_bare_id() -> None:
    assert post_link(SourceLink(-1001234567890, None, 7)) == "https://t.me/c/1234567890/7"


@pytest.mark.parametrize(
    "username",
    ["", "abcd", "a" * 33, "1abcde", "_abcde", "abc-def", "abcdé", "ab cd e", "abcde/../x",
     'abcde"><b>', "abcde\n"],
)  # fmt: skip
def test_invalid_username_falls_back_to_private_link(username: str) -> None:
    assert post_link(SourceLink(555, username, 9)) == "https://t.me/c/555/9"


def test_username_of_5_and_32_characters_is_public() -> None:
    assert post_link(SourceLink(1, "abcde", 2)) == "https://t.me/abcde/2"
    assert post_link(SourceLink(1, "a" * 32, 2)) == f"https://t.me/{'a' * 32}/2"


@pytest.mark.parametrize(
    "source",
    [SourceLink(0, None, 1), SourceLink(-5, None, 1), SourceLink(-1012345, None, 1),
     SourceLink(5, None, 0)],
)  # fmt: skip
def test_non_channel_or_message_ids_are_rejected(source: SourceLink) -> None:
    with pytest.raises(ValueError, match=r"^not a (channel|message) id: "):
        post_link(source)


# --- render_digest: structure ---------------------------------------------------------


def test_no_events_renders_no_messages() -> None:
    assert render_digest([], **WINDOW) == []


def test_only_blank_headlines_render_no_messages() -> None:
    assert render_digest([event(headline=""), event(2, headline=" \n\t")], **WINDOW) == []


def test_event_with_empty_headline_is_skipped() -> None:
    parts = render_digest([event(1, headline=""), event(2, headline="Kept")], **WINDOW)
    assert len(event_lines(parts)) == 1
    assert event_lines(parts)[0].startswith("• Kept — ")


def test_header_line_shows_bold_title_and_window_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    parts = render_digest(
        [event()],
        title="Digest",
        window_start=datetime(2026, 11, 20, 9, 0, tzinfo=cet),
        window_end=datetime(2026, 11, 20, 13, 0, tzinfo=cet),
    )
    assert parts[0].split("\n")[0] == "<b>Digest</b> 08:00–12:00 UTC, 20 Nov 2026"


def test_window_across_midnight_shows_both_dates() -> None:
    parts = render_digest(
        [event()],
        title="Night",
        window_start=datetime(2026, 12, 31, 22, 0, tzinfo=UTC),
        window_end=datetime(2027, 1, 1, 2, 0, tzinfo=UTC),
    )
    assert parts[0].split("\n")[0] == "<b>Night</b> 31 Dec 2026 22:00 – 1 Jan 2027 02:00 UTC"


def test_blank_title_falls_back_to_digest() -> None:
    parts = render_digest([event()], **(WINDOW | {"title": " "}))
    assert parts[0].startswith("<b>Digest</b> 08:00")


def test_naive_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render_digest([event()], title="D", window_start=datetime(2026, 1, 1), window_end=T0)


def test_topics_are_ordered_by_their_most_important_event() -> None:
    events = [
        event(1, topic="markets", headline="M low", importance=0.2),
        event(2, topic="politics", headline="P top", importance=0.9),
        event(3, topic="markets", headline="M high", importance=0.8),
    ]
    parts = render_digest(events, **WINDOW)
    assert topic_headers(parts) == ["<b>Politics</b>", "<b>Markets</b>"]
    assert [line.split(" — ")[0] for line in event_lines(parts)] == [
        "• P top",
        "• M high",
        "• M low",
    ]


def test_topics_with_equally_important_events_are_ordered_by_name() -> None:
    events = [event(1, topic="zeta", headline="Z"), event(2, topic="alpha", headline="A")]
    assert topic_headers(render_digest(events, **WINDOW)) == ["<b>Alpha</b>", "<b>Zeta</b>"]


def test_events_of_equal_importance_are_ordered_by_first_seen_then_id() -> None:
    events = [
        event(9, headline="later", first_seen_at=T0 + timedelta(minutes=5)),
        event(7, headline="same time, higher id", first_seen_at=T0),
        event(3, headline="same time, lower id", first_seen_at=T0),
    ]
    parts = render_digest(events, **WINDOW)
    assert [line.split(" — ")[0] for line in event_lines(parts)] == [
        "• same time, lower id",
        "• same time, higher id",
        "• later",
    ]


def test_nan_importance_ranks_last() -> None:
    events = [event(1, headline="unknown", importance=math.nan), event(2, headline="low")]
    parts = render_digest(events, **WINDOW)
    assert [line.split(" — ")[0] for line in event_lines(parts)] == ["• low", "• unknown"]


def test_topic_label_comes_from_topic_labels_else_title_cased_topic() -> None:
    events = [event(1, topic="fx"), event(2, topic="central_banks", importance=0.4)]
    parts = render_digest(events, **WINDOW, topic_labels={"fx": "Currencies & FX"})
    assert topic_headers(parts) == ["<b>Currencies &amp; FX</b>", "<b>Central Banks</b>"]


def test_topic_header_is_preceded_by_blank_line_inside_a_message() -> None:
    parts = render_digest([event(1, topic="a1"), event(2, topic="b2")], **WINDOW)
    assert "\n\n<b>A1</b>\n• " in parts[0]
    assert "\n\n<b>B2</b>\n• " in parts[0]


# --- render_digest: event lines -------------------------------------------------------


def test_event_line_is_bullet_headline_dash_links() -> None:
    parts = render_digest([event(headline="Stocks rally")], **WINDOW)
    assert event_lines(parts) == [
        '• Stocks rally — <a href="https://t.me/reuters_world/42">reuters_world</a>'
    ]


def test_private_source_is_linked_as_source() -> None:
    parts = render_digest([event(sources=(SourceLink(77, None, 5),))], **WINDOW)
    assert event_lines(parts)[0].endswith(' — <a href="https://t.me/c/77/5">source</a>')


def test_source_count_above_one_is_shown() -> None:
    parts = render_digest([event(source_count=5)], **WINDOW)
    assert event_lines(parts)[0].endswith("</a> (5 sources)")


def test_single_source_shows_no_count() -> None:
    parts = render_digest([event(source_count=1)], **WINDOW)
    assert "sources)" not in parts[0]


def test_more_than_three_sources_show_three_links_then_plus_count() -> None:
    sources = tuple(SourceLink(1, f"channel{i}", i) for i in range(1, 6))
    parts = render_digest([event(sources=sources, source_count=5)], **WINDOW)
    line = event_lines(parts)[0]
    assert re.findall(r'href="([^"]+)"', line) == [
        "https://t.me/channel1/1",
        "https://t.me/channel2/2",
        "https://t.me/channel3/3",
    ]
    assert line.endswith("</a>, +2 (5 sources)")


def test_the_same_post_twice_is_linked_once() -> None:
    parts = render_digest([event(sources=(REUTERS, REUTERS))], **WINDOW)
    assert event_lines(parts)[0].count("<a ") == 1


def test_the_same_post_under_two_usernames_is_linked_once() -> None:
    renamed = SourceLink(REUTERS.channel_id, None, REUTERS.message_id)
    parts = render_digest([event(sources=(REUTERS, renamed))], **WINDOW)
    assert event_lines(parts)[0].count("<a ") == 1


def test_plus_count_counts_distinct_posts() -> None:
    sources = (REUTERS, REUTERS, *(SourceLink(1, f"channel{i}", i) for i in range(1, 5)))
    parts = render_digest([event(sources=sources, source_count=6)], **WINDOW)
    assert event_lines(parts)[0].endswith("</a>, +2 (6 sources)")


def test_event_without_sources_has_no_dash() -> None:
    parts = render_digest([event(headline="Alone", sources=())], **WINDOW)
    assert event_lines(parts) == ["• Alone"]


# --- render_digest: untrusted headlines -----------------------------------------------


def test_headline_markup_and_quotes_are_escaped() -> None:
    parts = render_digest([event(headline='<b>&"')], **WINDOW)
    assert event_lines(parts)[0].startswith('• &lt;b&gt;&amp;" — ')


def test_literal_entity_in_headline_is_shown_literally() -> None:
    parts = render_digest([event(headline="AT&amp;T")], **WINDOW)
    assert event_lines(parts)[0].startswith("• AT&amp;amp;T — ")


def test_link_in_headline_is_text_not_a_link() -> None:
    headline = '<a href="https://evil.example/">click</a> /start'
    parts = render_digest([event(headline=headline)], **WINDOW)
    assert "evil.example" in parts[0]
    assert re.findall(r'<a href="([^"]+)">', parts[0]) == ["https://t.me/reuters_world/42"]
    assert telegram_html_errors(parts[0]) == []


def test_headline_newlines_and_control_characters_become_single_spaces() -> None:
    parts = render_digest([event(headline=" One\r\n\ttwo\x00\x1b three\u2028four ")], **WINDOW)
    assert event_lines(parts)[0].startswith("• One two three four — ")


def test_lone_surrogate_in_headline_becomes_replacement_character() -> None:
    parts = render_digest([event(headline="bad \ud800 text")], **WINDOW)
    assert event_lines(parts)[0].startswith("• bad \N{REPLACEMENT CHARACTER} text — ")
    parts[0].encode("utf-8")


def test_headline_of_300_characters_is_kept_whole() -> None:
    parts = render_digest([event(headline="x" * 300)], **WINDOW)
    assert event_lines(parts)[0].startswith(f"• {'x' * 300} — ")


def test_headline_longer_than_300_characters_is_cut_with_ellipsis() -> None:
    parts = render_digest([event(headline="x" * 301)], **WINDOW)
    assert event_lines(parts)[0].startswith(f"• {'x' * 299}… — ")


def test_truncated_headline_is_never_cut_inside_an_entity() -> None:
    parts = render_digest([event(headline="&" * 400)], **WINDOW)
    assert event_lines(parts)[0].startswith(f"• {'&amp;' * 299}… — ")


def test_ten_thousand_character_headline_with_html_renders_escaped_truncated_within_limits() -> (
    None
):
    headline = ('<b>Breaking</b> <a href="https://evil.example">x</a> & "q" ' * 200)[:10_000]
    parts = render_digest([event(headline=headline)], **WINDOW)
    assert len(parts) == 1
    assert utf16_len(parts[0]) <= LIMIT
    assert telegram_html_errors(parts[0]) == []
    shown = html.unescape(event_lines(parts)[0].rsplit(" — ", 1)[0].removeprefix("• "))
    assert len(shown) == 300
    assert shown.endswith("…")
    assert headline.startswith(shown[:-1])


# --- render_digest: splitting into messages -------------------------------------------


def test_long_digest_splits_on_line_boundaries_in_order() -> None:
    events = [event(i, headline=f"{i:03d} " + "y" * 296, importance=1 - i / 100) for i in range(40)]
    parts = render_digest(events, **WINDOW)
    assert len(parts) > 1
    assert all(utf16_len(part) <= LIMIT for part in parts)
    assert [line[2:5] for line in event_lines(parts)] == [f"{i:03d}" for i in range(40)]
    assert all(line.endswith("reuters_world</a>") for line in event_lines(parts))


def test_each_message_is_filled_until_the_next_line_would_not_fit() -> None:
    events = [event(i, headline="w" * 300) for i in range(25)]
    # Title lengths over a whole event line's length put every possible slack at the end
    # of the first message, including none at all.
    for title_length in range(1, 400):
        parts = render_digest(events, **(WINDOW | {"title": "T" * title_length}))
        assert len(parts) > 1
        for part, next_part in itertools.pairwise(parts):
            assert utf16_len(part) <= LIMIT
            assert utf16_len(part) + 1 + utf16_len(next_part.split("\n")[0]) > LIMIT


def test_messages_of_one_event_topics_fit_and_keep_each_header_with_its_event() -> None:
    for length in range(100, 301):
        events = [event(i, topic=f"t{i:02d}", headline="h" * length) for i in range(30)]
        parts = render_digest(events, **WINDOW)
        assert len(parts) > 1
        for part, next_part in itertools.pairwise(parts):
            header, first_event = next_part.split("\n")[:2]
            assert re.fullmatch(r"<b>T\d\d</b>", header)
            assert utf16_len(part) <= LIMIT
            assert utf16_len(part) + 2 + utf16_len(f"{header}\n{first_event}") > LIMIT
        assert utf16_len(parts[-1]) <= LIMIT


def test_parts_after_the_first_do_not_repeat_the_title() -> None:
    events = [event(i, headline="z" * 300) for i in range(40)]
    parts = render_digest(events, **WINDOW)
    assert len(parts) > 1
    assert parts[0].startswith("<b>Digest</b> ")
    assert not any(part.startswith("<b>Digest</b>") for part in parts[1:])


def test_topic_header_moves_to_next_part_instead_of_ending_a_part() -> None:
    moved = 0
    for filler in range(1, 300, 7):
        events = [event(i, topic="first", headline="f" * 300, importance=0.9) for i in range(10)]
        events.append(event(10, topic="first", headline="g" * filler, importance=0.9))
        events.append(event(11, topic="second", headline="s" * 300, importance=0.1))
        parts = render_digest(events, **WINDOW)
        assert not any(part.split("\n")[-1] == "<b>Second</b>" for part in parts)
        header_would_have_fit = utf16_len(parts[0]) + len("\n\n<b>Second</b>") <= LIMIT
        if parts[1].startswith("<b>Second</b>\n") and header_would_have_fit:
            moved += 1
    assert moved > 0


def test_title_longer_than_a_message_is_cut_with_bold_closed() -> None:
    parts = render_digest([event()], title="T&" * 3000, window_start=T0, window_end=T0)
    title_line = parts[0].split("\n")[0]
    assert title_line.startswith("<b>T&amp;T&amp;")
    assert title_line.endswith("…</b>")
    assert utf16_len(parts[0]) <= LIMIT
    assert telegram_html_errors(parts[0]) == []


def test_line_cut_does_not_leave_a_space_before_the_ellipsis() -> None:
    for offset in range(5):
        title = "x" * offset + " word" * 2000
        parts = render_digest([event()], title=title, window_start=T0, window_end=T0)
        title_line = parts[0].split("\n")[0]
        assert title_line.endswith("…</b>")
        assert not title_line.endswith(" …</b>")


# --- render_alert ---------------------------------------------------------------------


def test_alert_is_one_message_with_siren_label_headline_and_links() -> None:
    parts = render_alert(event(headline="Central bank <cuts>", source_count=2))
    assert parts == [
        "🚨 <b>BREAKING</b> Central bank &lt;cuts&gt; — "
        '<a href="https://t.me/reuters_world/42">reuters_world</a> (2 sources)'
    ]


def test_alert_label_is_escaped() -> None:
    assert render_alert(event(headline="h"), label="A&B")[0].startswith("🚨 <b>A&amp;B</b> h")


def test_blank_alert_label_falls_back_to_breaking() -> None:
    assert render_alert(event(headline="h"), label="\n")[0].startswith("🚨 <b>BREAKING</b> h")


def test_alert_for_blank_headline_is_empty() -> None:
    assert render_alert(event(headline="\n")) == []


# --- render_text_preview --------------------------------------------------------------


def test_preview_labels_each_part_with_index_and_utf16_size() -> None:
    assert render_text_preview(["ab", "🚨"]) == (
        "----- part 1/2 (2 UTF-16 units) -----\nab\n----- part 2/2 (2 UTF-16 units) -----\n🚨"
    )


def test_preview_of_no_parts_is_empty() -> None:
    assert render_text_preview([]) == ""


# --- properties -----------------------------------------------------------------------

TRICKY = ["<", ">", "&", '"', "'", "&amp;", "&lt;", "&#60;", "</b>", '<a href="x">', "/start",
          "\n", "\r\n", "\t", "\x00", "\x85", "\u2028", "\u200d", "\U0001f468\u200d\U0001f469",
          "🚨", "𝔘", "é", " ", "a", "—", "…"]  # fmt: skip

headlines = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(TRICKY), max_size=60).map("".join),
    st.builds(operator.mul, st.text(min_size=1, max_size=8), st.integers(40, 1500)),
)
usernames = st.one_of(
    st.none(),
    st.sampled_from(["reuters_world", "abcde", "A" * 32, "Bloomberg_2"]),
    st.text(max_size=20),
)
source_links = st.builds(
    SourceLink,
    channel_id=st.integers(1, 10**13),
    channel_username=usernames,
    message_id=st.integers(1, 2**31 - 1),
)
topics = st.one_of(st.sampled_from(["markets", "central_banks", "", "<war & peace>"]),
                   st.text(max_size=12))  # fmt: skip
digest_events = st.builds(
    DigestEvent,
    event_id=st.integers(0, 10**9),
    topic=topics,
    headline=headlines,
    importance=st.floats(),
    first_seen_at=st.integers(0, 10**6).map(lambda minutes: T0 + timedelta(minutes=minutes)),
    sources=st.lists(source_links, max_size=6).map(tuple),
    source_count=st.integers(0, 500),
)
# Cheap to generate and long once escaped, so that digests often need several messages.
LONG_HEADLINES = ["&<>" * 120, '🚨"&' * 100, "x" * 1000, "&amp;" * 70]
long_events = st.builds(
    event,
    st.integers(0, 10**9),
    topic=topics,
    headline=st.sampled_from(LONG_HEADLINES),
    importance=st.sampled_from([0.1, 0.5, 0.9]),
    sources=st.lists(source_links, min_size=1, max_size=5).map(tuple),
    source_count=st.integers(0, 5),
)
digests = st.builds(operator.add, st.lists(digest_events, max_size=10),
                    st.lists(long_events, max_size=15))  # fmt: skip


def expected_headline(original: str) -> str:
    """The headline as a reader should see it, before any cut."""
    return " ".join(
        "".join(" " if unicodedata.category(c) == "Cc" else c for c in original).split()
    )


@settings(max_examples=200, deadline=None)
@given(digests, st.text(max_size=30))
def test_any_digest_renders_valid_html_parts_within_limit(
    events: list[DigestEvent], title: str
) -> None:
    parts = render_digest(events, title=title, window_start=T0, window_end=T0)
    for part in parts:
        assert 0 < utf16_len(part) <= LIMIT
        assert telegram_html_errors(part) == []
        assert part == part.strip("\n")
        assert not re.fullmatch(r"<b>.*</b>", part.split("\n")[-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(headlines | st.sampled_from(LONG_HEADLINES),
                          st.lists(source_links, min_size=1, max_size=5)),
                max_size=25))  # fmt: skip
def test_every_headline_appears_once_escaped_and_at_most_300_characters(
    items: list[tuple[str, list[SourceLink]]],
) -> None:
    events = [
        event(i, headline=f"[{i}] {text}", sources=tuple(sources), importance=i % 3)
        for i, (text, sources) in enumerate(items)
    ]
    parts = render_digest(events, **WINDOW)
    shown: Counter[int] = Counter()
    for line in event_lines(parts):
        marker = re.match(r"• \[(\d+)\] ", line)
        assert marker is not None
        index = int(marker.group(1))
        shown[index] += 1
        visible = html.unescape(line.removeprefix("• ").rsplit(" — ", 1)[0])
        full = expected_headline(events[index].headline)
        if len(full) <= 300:
            assert visible == full
        else:
            assert len(visible) == 300 or (len(visible) < 300 and full[len(visible) - 1] == " ")
            assert visible.endswith("…")
            assert full.startswith(visible[:-1])
    assert shown == Counter(range(len(events)))


@settings(max_examples=200, deadline=None)
@given(digest_events, st.text(max_size=20) | st.just("B" * 5000))
def test_any_alert_is_one_valid_message_within_limit(alert: DigestEvent, label: str) -> None:
    parts = render_alert(alert, label=label)
    assert len(parts) == (1 if expected_headline(alert.headline) else 0)
    for part in parts:
        assert utf16_len(part) <= LIMIT
        assert telegram_html_errors(part) == []
