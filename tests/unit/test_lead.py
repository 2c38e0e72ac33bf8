"""Headlines and breaking flags of the rules extractor: the first informative sentence, and
a marker that counts only beside news content."""

from __future__ import annotations

import pytest

from civicquant.extract.rules import extract
from civicquant.extract.rules.lead import (
    is_decoration,
    is_sign_off,
    strip_greeting,
    strip_wire_slug,
)
from civicquant.extraction import HEADLINE_MAX_CHARS

# --- headline: the first informative sentence -------------------------------------------


@pytest.mark.parametrize(
    ("text", "headline"),
    [
        ("Hello everyone!\nIran fires missiles at Israel", "Iran fires missiles at Israel"),
        ("Salam everyone\nOil jumps 5% after OPEC cut", "Oil jumps 5% after OPEC cut"),
        ("Good morning, oil jumps 5% after OPEC cut", "Oil jumps 5% after OPEC cut"),
        ("Assalamu alaikum. Brent falls 2%", "Brent falls 2%"),
        (
            "Bismillahir Rahmanir Rahim\nSaudi Arabia raises oil prices for Asia",
            "Saudi Arabia raises oil prices for Asia",
        ),
        (
            "In the name of Allah, the Most Gracious, the Most Merciful.\nGold hits a record",
            "Gold hits a record",
        ),
        ("بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ\nالسعودية ترفع أسعار النفط", "السعودية ترفع أسعار النفط"),
        ("Доброе утро, друзья!\nЦБ повысил ставку до 21%", "ЦБ повысил ставку до 21%"),
        ("Слава Україні! Героям слава!\nВибухи у Києві", "Вибухи у Києві"),
        ("ˋˏ ༻━━━━━ 𝐈𝐍𝐃𝐄𝐗 ━━━━━༺ ˎˊ\nFed holds rates at 4.5%", "Fed holds rates at 4.5%"),
        ("═══════════\n• • •\nECB cuts rates", "ECB cuts rates"),
        ("Markets\nOil rose 3% on supply fears", "Oil rose 3% on supply fears"),
    ],
    ids=[
        "hello-everyone",
        "salam-everyone",
        "greeting-then-news-in-one-sentence",
        "assalamu-alaikum",
        "basmala-transliterated",
        "basmala-in-english",
        "basmala-in-arabic-with-vowel-marks",
        "russian-greeting",
        "ukrainian-salutation-and-reply",
        "decoration-line",
        "lines-without-words",
        "one-word-label",
    ],
)
def test_headline_skips_what_is_not_news_to_the_first_informative_sentence(
    text: str, headline: str
) -> None:
    assert extract(text).headline == headline


@pytest.mark.parametrize(
    "text",
    [
        "Morning brief: Asian shares mixed, Nikkei -0.6%",
        "Hi-tech stocks rally as chip demand surges",
        "Welcome to the new normal: rates stay high for longer",
        "Друзья Зеленского встретились в Киеве",
    ],
)
def test_a_greeting_word_that_is_not_a_greeting_stays_in_the_headline(text: str) -> None:
    assert extract(text).headline == text


def test_a_post_that_is_only_a_greeting_has_no_headline() -> None:
    extraction = extract("Hello everyone! 👋")

    assert extraction.headline == ""
    assert extraction.is_breaking is False


def test_a_one_word_post_keeps_its_word_as_the_headline() -> None:
    assert extract("Bitcoin").headline == "Bitcoin"


def test_a_one_word_line_that_goes_on_in_lower_case_is_the_headline() -> None:
    extraction = extract("Двоечницы\n\nпо физике")

    assert extraction.headline == "Двоечницы"
    assert extraction.summary == "Двоечницы по физике"


def test_a_word_and_a_dot_inside_a_line_is_not_passed_over_as_a_label() -> None:
    # an abbreviation the splitter cut at: passing it over would give "A. Bank sold ..."
    assert extract("Jos. A. Bank sold to Men's Wearhouse").headline.startswith("Jos.")


# --- sign-offs --------------------------------------------------------------------------


def test_a_post_opening_with_a_sign_off_has_no_headline() -> None:
    # the demo's last post: a headline would put it in the digest under Macro
    extraction = extract(
        "That's the morning desk signing off. Afternoon highlights: Fed speakers from "
        "15:00 UTC, Baker Hughes rig count 18:00 UTC. Full calendar: https://example.org/cal"
    )

    assert extraction.headline == ""
    assert extraction.summary == ""
    assert extraction.is_breaking is False


def test_a_sign_off_after_the_news_is_left_out_of_the_summary() -> None:
    extraction = extract("Oil rose 3% on Friday. That's all for today, see you tomorrow!")

    assert extraction.headline == "Oil rose 3% on Friday."
    assert extraction.summary == "Oil rose 3% on Friday."


@pytest.mark.parametrize(
    "sentence",
    [
        "That's the morning desk signing off.",
        "Thanks for reading!",
        "На этом всё, до завтра!",
        "На сьогодні все.",
    ],
)
def test_sign_offs_are_recognised(sentence: str) -> None:
    assert is_sign_off(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Senate signing off on the budget deal is expected on Friday",
        "Переговоры отложены до встречи Путина и Трампа",
    ],
)
def test_news_using_sign_off_words_is_no_sign_off(sentence: str) -> None:
    assert not is_sign_off(sentence)


# --- parentheses and figures ------------------------------------------------------------


def test_a_forecast_in_parentheses_is_kept_whole() -> None:
    extraction = extract(
        "Japan core CPI +2.9% y/y (exp. 3.0%, prior 3.1%). USD/JPY -0.3% at 151.20. #JPY"
    )

    assert extraction.headline == "Japan core CPI +2.9% y/y (exp. 3.0%, prior 3.1%)."


@pytest.mark.parametrize(
    ("text", "headline"),
    [
        ("Sbarro files for Ch. 11 bankruptcy protection", None),
        ("Mt. Gox files for bankruptcy in Tokyo", None),
        ("Oil rose 3.5. Brent is at $80", "Oil rose 3.5."),
        ("Brent rises (a rare move. Analysts doubt it) after the OPEC call", None),
    ],
)
def test_sentences_end_only_outside_figures_and_parentheses(
    text: str, headline: str | None
) -> None:
    assert extract(text).headline == (headline or text)


def test_a_headline_trimmed_to_length_is_not_cut_inside_parentheses() -> None:
    text = "Japan core CPI rises " + "and rises " * 16 + "(exp. 3.0%, prior 3.1%, range 2.8-3.3%)"

    headline = extract(text).headline

    assert len(text) > HEADLINE_MAX_CHARS
    assert headline.endswith("rises…")
    assert "(" not in headline


def test_an_unclosed_parenthesis_does_not_hold_a_sentence_open() -> None:
    assert extract("Oil rose (see chart. Brent is at $80").headline == "Oil rose (see chart."


# --- wire slugs -------------------------------------------------------------------------


def test_a_numbered_update_slug_is_stripped_and_is_no_marker() -> None:
    extraction = extract("UPDATE 1-Fed holds rates")

    assert extraction.headline == "Fed holds rates"
    assert extraction.is_breaking is False


@pytest.mark.parametrize(
    ("headline", "stripped"),
    [
        ("UPDATE 2-Oil falls 3%", "Oil falls 3%"),
        ("REFILE-UPDATE 1-Oil falls 3%", "Oil falls 3%"),
        ("EXCLUSIVE-Apple in talks to buy a startup", "Apple in talks to buy a startup"),
        (
            "UPDATE: Fed minutes show a split committee",
            "UPDATE: Fed minutes show a split committee",
        ),
        ("Update 1-0 win for Arsenal", "Update 1-0 win for Arsenal"),
    ],
)
def test_wire_slugs_come_off_the_start(headline: str, stripped: str) -> None:
    assert strip_wire_slug(headline) == stripped


# --- breaking: a marker beside news content ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("🚨 Explosion hits port of Hodeidah, 3 killed", "1h"),
        ("🚨 Opportunity for Future Graduates", None),
        ("🚨 Big announcement coming soon!", None),
        ("🚨 Explosions heard downtown", "1h"),
        ("СРОЧНО: обстрел Харькова", "1h"),
        ("ТЕРМІНОВО: вибухи у Києві", "1h"),
        ("JUST IN: composite PMI 48.9 vs 49.6 expected", "1h"),
        ("BREAKING: Something big is happening", None),
        ("🚨 Hello everyone!", None),
    ],
)
def test_a_marker_flags_breaking_only_beside_news(text: str, window: str | None) -> None:
    extraction = extract(text)

    assert extraction.breaking_window == window
    assert extraction.is_breaking is (window is not None)


@pytest.mark.parametrize(
    "text",
    ["MARKETS WRAP STOCKS EDGE HIGHER", "ON THE CAMPAIGN TRAIL: Boris Johnson's odd rivals"],
)
def test_capitals_alone_are_not_breaking(text: str) -> None:
    assert extract(text).is_breaking is False


@pytest.mark.parametrize(
    ("advert", "news"),
    [
        ("🚨 Opportunity: Google launches a $10m fund", "🚨 Google launches a $10m fund"),
        ("BREAKING: Join our webinar on Iran tomorrow", "BREAKING: Iran tomorrow"),
        ("BREAKING: Subscribe to our channel for Fed news", "BREAKING: Fed news"),
        ("🚨 Розыгрыш 10 000 рублей от Сбербанка", "🚨 10 000 рублей от Сбербанка"),
        ("⚡ Вакансия: Сбербанк ищет аналитика", "⚡ Сбербанк ищет аналитика"),
        ("🔴 Подписывайтесь на наш канал о ЦБ", "🔴 Новости о ЦБ"),
        ("🔴 Розіграш 5 000 грн від ПриватБанку", "🔴 5 000 грн від ПриватБанку"),
        ("⚡ Итоги дня: нефть Brent +2%", "⚡ Нефть Brent +2%"),
        ("🔴 LIVE: Biden speaks on Iran", "🔴 Biden speaks on Iran"),
    ],
)
def test_advert_and_chatter_cues_veto_breaking_news(advert: str, news: str) -> None:
    assert extract(news).is_breaking is True
    assert extract(advert).is_breaking is False


def test_an_advert_in_the_body_vetoes_a_marked_headline() -> None:
    headline = "🚨 Google launches a $10m fund for graduates"

    assert extract(headline).is_breaking is True
    assert extract(f"{headline}\nApply now: the first round closes on Friday.").is_breaking is False


def test_a_subscribe_footer_under_real_news_does_not_veto_it() -> None:
    extraction = extract("🚨 Explosion hits port of Hodeidah, 3 killed\nSubscribe to @newsdesk")

    assert extraction.is_breaking is True


def test_a_marker_after_a_greeting_line_is_read_off_the_headline() -> None:
    extraction = extract("Salam everyone\nBREAKING: Israel strikes Beirut, 5 killed")

    assert extraction.headline == "Israel strikes Beirut, 5 killed"
    assert extraction.breaking_window == "1h"


def test_unflagged_marked_posts_get_no_urgency_points() -> None:
    flagged = extract("🚨 Opportunity for Future Graduates")
    plain = extract("Opportunity for Future Graduates")

    assert flagged.importance == plain.importance


# --- the pieces -------------------------------------------------------------------------


def test_strip_greeting_gives_nothing_for_a_greeting_alone() -> None:
    assert strip_greeting("Hello everyone!") == ""
    assert strip_greeting("Oil rose") == "Oil rose"


@pytest.mark.parametrize(
    ("sentence", "decoration"),
    [
        ("ˋˏ ༻━━━━━ 𝐈𝐍𝐃𝐄𝐗 ━━━━━༺ ˎˊ", True),
        ("━━━ Markets ━━━━━━", True),
        ("1/3", True),
        ("$COIN -5.6%, $MSTR -7.9%, $HOOD -3.1%", False),
        ("比特币突破十万美元", False),
    ],
)
def test_decoration_lines_are_told_from_figure_lines(sentence: str, decoration: bool) -> None:
    assert is_decoration(sentence) is decoration
