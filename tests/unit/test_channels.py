"""Parsing TG_SOURCE_CHANNELS into channel specs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicquant.errors import UsageError
from civicquant.ingest.channels import ChannelSpec, parse_channel_spec, parse_channel_specs


@pytest.mark.parametrize(
    "item",
    [
        "@durov_news",
        "durov_news",
        "t.me/durov_news",
        "https://t.me/durov_news",
        "http://t.me/durov_news",
        "https://t.me/durov_news/",
        "https://t.me/s/durov_news",
        "t.me/s/durov_news/",
        "https://www.telegram.me/durov_news",
        "  @durov_news  ",
    ],
)
def test_username_forms_name_the_same_channel(item: str) -> None:
    assert parse_channel_spec(item) == ChannelSpec(username="durov_news")


def test_usernames_are_lowercased_because_telegram_ignores_case() -> None:
    assert parse_channel_spec("@Durov_News") == ChannelSpec(username="durov_news")


def test_bare_numeric_id_is_a_channel_id() -> None:
    assert parse_channel_spec("1878264527") == ChannelSpec(channel_id=1878264527)


def test_bot_api_id_is_normalised_to_the_bare_id() -> None:
    assert parse_channel_spec("-1001878264527") == ChannelSpec(channel_id=1878264527)


def test_bot_api_id_of_a_small_channel_keeps_its_zero_padding_meaning() -> None:
    # -(10**12 + 5): the text after "-100" is zero padded.
    assert parse_channel_spec("-1000000000005") == ChannelSpec(channel_id=5)


def test_private_post_link_prefix_gives_the_channel_id() -> None:
    assert parse_channel_spec("https://t.me/c/1878264527") == ChannelSpec(channel_id=1878264527)


def test_comma_separated_list_keeps_order() -> None:
    assert parse_channel_specs("@alpha_news, t.me/beta_news ,-1001878264527") == [
        ChannelSpec(username="alpha_news"),
        ChannelSpec(username="beta_news"),
        ChannelSpec(channel_id=1878264527),
    ]


def test_json_array_accepts_strings_and_numeric_ids() -> None:
    assert parse_channel_specs('["@alpha_news", -1001878264527, "1878264528"]') == [
        ChannelSpec(username="alpha_news"),
        ChannelSpec(channel_id=1878264527),
        ChannelSpec(channel_id=1878264528),
    ]


def test_duplicates_are_dropped_keeping_the_first_position() -> None:
    specs = parse_channel_specs(
        "@alpha_news,beta_news,https://t.me/Alpha_News,1878264527,-1001878264527"
    )
    assert specs == [
        ChannelSpec(username="alpha_news"),
        ChannelSpec(username="beta_news"),
        ChannelSpec(channel_id=1878264527),
    ]


@pytest.mark.parametrize("value", ["", "   ", "[]"])
def test_blank_value_gives_no_channels(value: str) -> None:
    assert parse_channel_specs(value) == []


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("@alpha_news,,@beta_news", "''"),
        ("@alpha_news,", "''"),
        ("https://t.me/+AbCdEf123", "t.me/+AbCdEf123"),
        ("https://t.me/joinchat/AbCdEf123", "joinchat/AbCdEf123"),
        ("T.ME/JoinChat/AbCdEf123", "JoinChat"),
        ("tg://join?invite=AbCdEf123", "tg://join"),
        ("@abcd", "@abcd"),  # four characters: too short
        ("@" + "a" * 33, "aaaa"),  # 33 characters: too long
        ("@1abcde", "@1abcde"),  # must start with a letter
        ("_abcde", "_abcde"),
        ("@alpha-news", "@alpha-news"),  # bad character
        ("@alpha news", "@alpha news"),
        ("@álpha_news", "@álpha_news"),  # Telegram usernames are ASCII
        ("@alpha٣news", "@alpha٣news"),  # Arabic-Indic digit
        ("https://t.me/alpha_news/123", "alpha_news/123"),  # a post, not a channel
        ("https://example.com/alpha_news", "example.com"),
        ("-12345", "-12345"),  # a basic group, not a channel
        ("0", "'0'"),
        ("9" * 30, "999"),
        ('["@alpha_news", true]', "item 2"),
        ('["@alpha_news", 1.5]', "item 2"),
        ('["@alpha_news", {"a": 1}]', "item 2"),
        ('{"a": 1}', '{"a": 1}'),
        ("[not json", "JSON"),
    ],
)
def test_invalid_item_raises_one_line_usage_error_naming_it(value: str, named: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_channel_specs(value)
    message = str(raised.value)
    assert named in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "link",
    [
        "https://t.me/+AbCdEf123",
        "t.me/joinchat/AbCdEf123",
        "T.ME/JoinChat/AbCdEf123",
        "https://telegram.me/+AbCdEf123",
    ],
)
def test_invite_links_are_refused_with_advice_to_join_and_give_the_name(link: str) -> None:
    with pytest.raises(UsageError, match="invite links cannot be read; join the channel"):
        parse_channel_spec(link)


def test_number_too_long_for_python_to_convert_is_a_usage_error() -> None:
    # int() refuses strings of more than 4300 digits with a ValueError.
    with pytest.raises(UsageError, match="too large"):
        parse_channel_spec("9" * 5000)


def test_error_for_a_huge_item_is_cut_short() -> None:
    with pytest.raises(UsageError) as raised:
        parse_channel_specs("@" + "x" * 5000)
    assert len(str(raised.value)) < 300


def test_spec_prints_as_at_name_or_channel_id_for_logs() -> None:
    assert str(ChannelSpec(username="alpha_news")) == "@alpha_news"
    assert str(ChannelSpec(channel_id=1878264527)) == "channel 1878264527"


def test_spec_must_name_exactly_one_of_username_and_id() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ChannelSpec()
    with pytest.raises(ValueError, match="exactly one"):
        ChannelSpec(username="alpha_news", channel_id=1)


_prefixes = st.sampled_from(
    ["", "@", "t.me/", "https://t.me/s/", "http://www.t.me/", "t.me/c/", "-100", "[", '["', ","]
)


@given(st.text() | st.builds(lambda p, t: p + t, _prefixes, st.text()))
def test_any_string_gives_a_list_or_usage_error(value: str) -> None:
    outcome: list[ChannelSpec] | UsageError
    try:
        outcome = parse_channel_specs(value)
    except UsageError as exc:
        outcome = exc
    if isinstance(outcome, UsageError):
        assert "\n" not in str(outcome)
    else:
        specs = outcome
        assert isinstance(specs, list)
        assert all(isinstance(spec, ChannelSpec) for spec in specs)
        assert len(set(specs)) == len(specs)


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True))
def test_every_valid_username_survives_a_round_trip_through_its_log_form(name: str) -> None:
    (spec,) = parse_channel_specs(f"https://t.me/{name}")
    assert spec == ChannelSpec(username=name.lower())
    assert parse_channel_specs(str(spec)) == [spec]


@pytest.mark.parametrize(
    ("item", "spec"),
    [
        ("@reuters:2", ChannelSpec(username="reuters", weight=2.0)),
        ("reuters:0.5", ChannelSpec(username="reuters", weight=0.5)),
        ("https://t.me/reuters:3", ChannelSpec(username="reuters", weight=3.0)),
        ("1878264527:2", ChannelSpec(channel_id=1878264527, weight=2.0)),
        ("-1001878264527:1.5", ChannelSpec(channel_id=1878264527, weight=1.5)),
        (" @reuters : 2 ", ChannelSpec(username="reuters", weight=2.0)),
        ("@reuters:0", ChannelSpec(username="reuters", weight=0.0)),
    ],
)
def test_a_weight_after_a_colon_is_parsed(item: str, spec: ChannelSpec) -> None:
    assert parse_channel_spec(item) == spec


def test_a_link_without_a_weight_is_not_read_as_one() -> None:
    assert parse_channel_spec("https://t.me/reuters") == ChannelSpec(username="reuters")


def test_channels_without_a_weight_get_the_default_weight() -> None:
    specs = parse_channel_specs("@reuters:2,@bloomberg", default_weight=1.0)
    assert [s.weight for s in specs] == [2.0, 1.0]
    assert [s.weight for s in parse_channel_specs("@bloomberg")] == [None]


@pytest.mark.parametrize("weight", ["x", "", "11", "-1", "2e3", "1.2.3", "nan", "10.5"])
def test_a_bad_weight_is_one_line_naming_the_item_and_the_range(weight: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_channel_specs(f"@bloomberg,@reuters:{weight}")
    message = str(caught.value)
    assert "\n" not in message
    assert f"'@reuters:{weight}'" in message
    assert "from 0 to 10" in message


def test_a_channel_listed_twice_with_two_weights_is_refused() -> None:
    with pytest.raises(UsageError, match="listed twice with different weights"):
        parse_channel_specs("@reuters:2,@Reuters:3")


def test_a_channel_listed_twice_with_one_weight_is_kept_once() -> None:
    assert parse_channel_specs("@reuters:2,t.me/reuters:2") == [
        ChannelSpec(username="reuters", weight=2.0)
    ]
