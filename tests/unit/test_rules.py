"""The rule-based extractor: topics, breaking markers, entities, cleaning, determinism."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from civicquant.extract.rules import extract
from civicquant.extraction import (
    ENTITY_KINDS,
    HEADLINE_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    TOPICS,
    Extraction,
)


@dataclass(frozen=True)
class Case:
    """A post and what the rules must read from it; `entities` must all be present."""

    id: str
    text: str
    topic: str
    window: str | None = None
    entities: tuple[tuple[str, str], ...] = ()
    absent: tuple[tuple[str, str], ...] = field(default=())


CASES = [
    # English, wire style
    Case(
        "en-fed-cut-breaking",
        "BREAKING: Federal Reserve cuts interest rates by 25 bps to 4.50%-4.75%, "
        "first cut since 2020 https://reut.rs/3xYz",
        "macro",
        "1h",
        (("central_bank", "Federal Reserve"), ("figure", "25 bps"), ("figure", "4.50%")),
    ),
    Case(
        "en-cpi-just-in",
        "JUST IN: 🇺🇸 US CPI rises 3.2% YoY in October, above 3.1% forecast",
        "macro",
        "1h",
        (("country", "United States"), ("figure", "3.2%"), ("figure", "3.1%")),
    ),
    Case(
        "en-opec-flash",
        "FLASH: OPEC+ agrees to extend output cuts of 2.2 million bpd through March",
        "energy",
        "15m",
        (("institution", "OPEC+"), ("figure", "2.2 million")),
    ),
    Case(
        "en-siren-urgent-strikes",
        "🚨🚨 URGENT: Israel launches strikes on Iran, explosions reported in Tehran",
        "geopolitics",
        "15m",
        (("country", "Israel"), ("country", "Iran")),
    ),
    Case(
        "en-ecb-hold-no-marker",
        "ECB holds rates steady at 4%, Lagarde says decisions remain data-dependent. "
        "Markets price a June cut.",
        "macro",
        None,
        (("central_bank", "European Central Bank"), ("figure", "4%")),
    ),
    Case(
        "en-dateline-sec-bitcoin",
        "WASHINGTON (Reuters) - The U.S. Securities and Exchange Commission approved spot "
        "bitcoin ETFs on Wednesday.",
        "crypto",
        None,
        (("country", "United States"), ("institution", "SEC")),
    ),
    Case(
        "en-nvda-cashtag-earnings",
        "$NVDA shares jump 8% after Nvidia reports record quarterly revenue of $35.1 billion",
        "companies",
        None,
        (("ticker", "NVDA"), ("organisation", "Nvidia"), ("figure", "$35.1 billion")),
    ),
    Case(
        "en-bitcoin-hashtags",
        "Bitcoin tops $100,000 for the first time as crypto rally extends #BTC #crypto",
        "crypto",
        None,
        (("figure", "$100,000"),),
    ),
    Case(
        "en-brent-per-barrel",
        "Brent crude rises above $85/bbl as Houthi attacks disrupt Red Sea shipping",
        "energy",
        None,
        (("figure", "$85/bbl"),),
    ),
    Case(
        "en-developing-soft",
        "Developing: Explosions heard in Kyiv as air defence repels Russian drone attack",
        "geopolitics",
        "4h",
        (("country", "Russia"),),
    ),
    Case(
        "en-tesla-layoffs-person",
        "Tesla to cut 10% of global workforce, Elon Musk tells staff in memo",
        "companies",
        None,
        (("organisation", "Tesla"), ("figure", "10%"), ("person", "Elon Musk")),
    ),
    Case(
        "en-all-caps-is-not-a-marker",
        "FED HOLDS RATES STEADY, SIGNALS TWO CUTS THIS YEAR",
        "macro",
        None,
        (("central_bank", "Federal Reserve"),),
    ),
    Case(
        "en-election-person-after-semicolon",
        "Voters head to the polls in Germany's snap federal election; Friedrich Merz's CDU leads",
        "politics",
        None,
        (("country", "Germany"), ("person", "Friedrich Merz")),
    ),
    Case(
        "en-pboc-bp",
        "China's PBoC cuts one-year loan prime rate by 10 bp to 3.35%",
        "macro",
        None,
        (("country", "China"), ("central_bank", "People's Bank of China"), ("figure", "10 bp")),
    ),
    Case(
        "en-ceasefire-lightning-emoji",
        "⚡ Hamas says it accepted the ceasefire proposal from Egypt and Qatar",
        "geopolitics",
        "1h",
        (("organisation", "Hamas"), ("country", "Egypt"), ("country", "Qatar")),
    ),
    Case(
        "en-acquisition-bn",
        "Apple agrees to acquire AI startup for $1.2bn, sources say",
        "companies",
        None,
        (("organisation", "Apple"), ("figure", "$1.2bn")),
    ),
    Case(
        "en-euro-billion",
        "EU approves €3 billion aid package for Ukraine's energy grid",
        "energy",
        None,
        (("institution", "European Union"), ("figure", "€3 billion"), ("country", "Ukraine")),
    ),
    Case(
        "en-gold-per-ounce",
        "Gold hits record $2,700/oz as investors seek safe haven",
        "energy",
        None,
        (("figure", "$2,700/oz"),),
    ),
    Case(
        "en-title-case-has-no-people",
        "Powell Says Fed Will Keep Rates Higher For Longer As Inflation Lingers",
        "macro",
        None,
        (("central_bank", "Federal Reserve"),),
        (("person", "Keep Rates Higher"),),
    ),
    Case(
        "en-nothing-to-match",
        "The quick brown fox jumps over the lazy dog",
        "other",
    ),
    # Russian, Telegram-channel style
    Case(
        "ru-cbr-key-rate-urgent",
        "🔴 СРОЧНО: ЦБ РФ повысил ключевую ставку до 21% годовых\n\n"
        "Подробнее: https://t.me/rbc_news/12345",
        "macro",
        "1h",
        (("central_bank", "Bank of Russia"), ("figure", "21%")),
    ),
    Case(
        "ru-molniya-explosions",
        "⚡️МОЛНИЯ\nВ Москве прогремели взрывы, работает ПВО, сообщает мэр Сергей Собянин",
        "geopolitics",
        "15m",
        (("person", "Сергей Собянин"),),
    ),
    Case(
        "ru-ofz-billions",
        "Минфин России разместил ОФЗ на 1,5 млрд рублей. Доходность составила 16,5%.",
        "markets",
        None,
        (("country", "Russia"), ("figure", "1,5 млрд рублей"), ("figure", "16,5%")),
    ),
    Case(
        "ru-brent-dollars-opec",
        "Нефть Brent подорожала до 80 долларов за баррель на фоне решения ОПЕК+ #нефть",
        "energy",
        None,
        (("figure", "80 долларов"), ("institution", "OPEC+")),
    ),
    Case(
        "ru-bitcoin-link-footer",
        "Биткоин обновил исторический максимум, превысив $73 тыс.\n"
        "👉 Подробнее: https://t.me/crypto_channel/555",
        "crypto",
        None,
        (("figure", "$73 тыс."),),
    ),
    Case(
        "ru-duma-tax-law",
        "Госдума приняла закон о повышении налогов во втором чтении. Голосовали 310 депутатов.",
        "politics",
        None,
        (("institution", "State Duma"),),
    ),
    Case(
        "ru-sber-profit",
        "Сбербанк отчитался о рекордной чистой прибыли по МСФО в 1,5 трлн рублей за 2024 год",
        "companies",
        None,
        (("organisation", "Sberbank"), ("figure", "1,5 трлн рублей")),
    ),
    Case(
        "ru-imf-forecast",
        "МВФ ухудшил прогноз роста мировой экономики до 2,9%",
        "macro",
        None,
        (("institution", "IMF"), ("figure", "2,9%")),
    ),
    Case(
        "ru-lavrov-talks",
        "Глава МИД России Сергей Лавров заявил, что переговоры с США возможны.",
        "geopolitics",
        None,
        (("country", "Russia"), ("person", "Сергей Лавров"), ("country", "United States")),
    ),
    Case(
        "ru-weather-is-other",
        "Новости дня: погода в Москве будет теплой",
        "other",
    ),
    # Ukrainian, Telegram-channel style
    Case(
        "uk-air-raid-urgent",
        "ТЕРМІНОВО! Повітряна тривога по всій Україні через загрозу балістичних ракет 🚀",
        "geopolitics",
        "1h",
        (("country", "Ukraine"),),
    ),
    Case(
        "uk-nbu-rate",
        "НБУ зберіг облікову ставку на рівні 13%. Наступне засідання — 25 квітня.",
        "macro",
        None,
        (("central_bank", "National Bank of Ukraine"), ("figure", "13%")),
    ),
    Case(
        "uk-rada-budget",
        "Верховна Рада ухвалила бюджет на 2025 рік: дефіцит становитиме 1,64 трлн грн",
        "politics",
        None,
        (("institution", "Verkhovna Rada"), ("figure", "1,64 трлн грн")),
    ),
    Case(
        "uk-ukrenergo-outages",
        "Укренерго: через масовану атаку РФ на енергосистему запроваджено графіки "
        "відключень світла",
        "energy",
        None,
        (("organisation", "Ukrenergo"), ("country", "Russia")),
    ),
    Case(
        "uk-gas-prices",
        "Ціни на газ у Європі зросли на 5% після зупинки транзиту через Україну",
        "energy",
        None,
        (("figure", "5%"), ("country", "Ukraine")),
    ),
    Case(
        "uk-blyskavka-flash",
        "⚡️БЛИСКАВКА: Зеленський провів зустріч з Дональдом Трампом у Нью-Йорку",
        "politics",
        "15m",
        (("person", "Дональдом Трампом"),),
        (("person", "Нью-Йорку"),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_headline_table_topic_breaking_and_entities(case: Case) -> None:
    extraction = extract(case.text)
    entities = {(entity.kind, entity.text) for entity in extraction.entities}

    assert extraction.topic == case.topic
    assert extraction.is_breaking is (case.window is not None)
    assert extraction.breaking_window == case.window
    assert set(case.entities) <= entities, entities
    assert not set(case.absent) & entities


def test_table_is_large_enough_and_covers_three_languages() -> None:
    languages = {extract(case.text).language for case in CASES}

    assert len(CASES) >= 30
    assert {"en", "ru", "uk"} <= languages


# --- headline and summary ---------------------------------------------------------------


def test_headline_drops_marker_link_and_trailing_hashtags() -> None:
    extraction = extract(
        "🚨 BREAKING: Oil jumps 5% after OPEC surprise https://t.me/x/1 #oil #opec"
    )

    assert extraction.headline == "Oil jumps 5% after OPEC surprise"


def test_headline_keeps_a_hashtag_word_in_the_middle_without_the_hash() -> None:
    assert extract("The #Fed raised rates again").headline == "The Fed raised rates again"


def test_headline_is_the_first_sentence_only() -> None:
    extraction = extract("Oil rose 3%. Gas fell 2%. Coal was flat. Power rallied.")

    assert extraction.headline == "Oil rose 3%."


def test_headline_does_not_split_after_an_abbreviation() -> None:
    extraction = extract("The U.S. Treasury sold $50bn of bills. Yields rose.")

    assert extraction.headline == "The U.S. Treasury sold $50bn of bills."


def test_headline_skips_a_first_line_of_only_hashtags() -> None:
    assert extract("#новости #экономика\nЦБ сохранил ставку").headline == "ЦБ сохранил ставку"


def test_headline_is_trimmed_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "Markets " + " ".join(["rally"] * 80)

    headline = extract(text).headline

    assert len(headline) <= HEADLINE_MAX_CHARS
    assert headline.endswith("rally…")


def test_headline_of_unbroken_text_is_cut_hard_to_the_limit() -> None:
    headline = extract("美" * 500).headline

    assert len(headline) == HEADLINE_MAX_CHARS
    assert headline.endswith("…")


def test_summary_holds_at_most_three_sentences() -> None:
    extraction = extract("Oil rose 3%. Gas fell 2%. Coal was flat. Power rallied.")

    assert extraction.summary == "Oil rose 3%. Gas fell 2%. Coal was flat."


def test_summary_is_trimmed_to_its_limit() -> None:
    text = ". ".join(["Word " * 150] * 3)

    summary = extract(text).summary

    assert len(summary) <= SUMMARY_MAX_CHARS
    assert summary.endswith("…")


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", "🚨🚨", "🇺🇸🔥⚡️", "#tags #only", "https://t.me/channel/1", "\u200b\u200d"],
    ids=["empty", "blank", "sirens", "flag-and-emoji", "hashtags", "link", "zero-width"],
)
def test_text_without_content_gives_the_empty_extraction(text: str) -> None:
    extraction = extract(text)

    assert extraction.headline == ""
    assert extraction.summary == ""
    assert extraction.topic == "other"
    assert extraction.importance == 0
    assert extraction.is_breaking is False
    assert extraction.entities == []


# --- breaking markers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("Breaking: Fed cuts rates", "1h"),
        ("breaking news - Fed cuts rates", "1h"),
        ("Срочно: ЦБ снизил ставку", "1h"),
        ("ALERT: Tsunami warning for Japan coast", "1h"),
        ("🔴 Fed cuts rates", "1h"),
        ("FLASH Fed cuts rates", "15m"),
        ("🚨 СРОЧНО 🚨 Взрывы в Киеве", "15m"),
        ("DEVELOPING: Fed officials meet in emergency session", "4h"),
        ("UPDATE: Fed minutes show a split committee", "4h"),
        ("Update on the Fed: minutes show a split committee", None),
        ("Record-breaking heat hits Europe", None),
        ("Fed cuts rates, a flash decision", None),
    ],
)
def test_breaking_window_follows_the_strongest_lead_marker(text: str, window: str | None) -> None:
    extraction = extract(text)

    assert extraction.breaking_window == window
    assert extraction.is_breaking is (window is not None)


def test_marker_later_in_the_post_is_not_breaking() -> None:
    extraction = extract("Fed holds rates.\nBREAKING: none of this is news")

    assert extraction.is_breaking is False


def test_hard_marker_with_very_high_importance_is_fifteen_minutes() -> None:
    text = (
        "BREAKING: Federal Reserve and ECB cut rates by 50 bps as IMF and OPEC warn; US, "
        "China, Germany and Japan markets fall 5%, oil drops $10 to $70/bbl. "
        + "Inflation outlook worsens for the economy. "
        * 10
    )

    extraction = extract(text)

    assert extraction.importance >= 0.85
    assert extraction.breaking_window == "15m"


# --- entities ---------------------------------------------------------------------------


def test_aliases_of_one_central_bank_give_one_entity() -> None:
    extraction = extract(
        "Fed officials say the Federal Reserve and the FOMC will wait. ФРС молчит."
    )

    central_banks = [e.text for e in extraction.entities if e.kind == "central_bank"]
    assert central_banks == ["Federal Reserve"]


def test_entities_come_in_order_of_first_appearance() -> None:
    extraction = extract("Qatar and Egypt mediate as Israel weighs the offer; Qatar insists.")

    assert [e.text for e in extraction.entities] == ["Qatar", "Egypt", "Israel"]


def test_inflected_russian_and_ukrainian_names_map_to_one_country() -> None:
    extraction = extract("Россия и России, российские; Росії та російські; Russia's")

    assert [e.text for e in extraction.entities if e.kind == "country"] == ["Russia"]


def test_lower_case_english_word_is_not_a_country() -> None:
    extraction = extract("We ate turkey and polish the china")

    assert [e for e in extraction.entities if e.kind == "country"] == []


@pytest.mark.parametrize(
    ("text", "ticker"),
    [("Buy $AAPL now", "AAPL"), ("$tsla slides", "TSLA"), ("$BRK.B holds", "BRK.B")],
)
def test_cashtag_gives_an_upper_case_ticker(text: str, ticker: str) -> None:
    tickers = [e.text for e in extract(text).entities if e.kind == "ticker"]

    assert tickers == [ticker]


def test_dollar_amount_is_a_figure_not_a_ticker() -> None:
    entities = extract("Deal worth $1.2bn closes").entities

    assert [(e.kind, e.text) for e in entities] == [("figure", "$1.2bn")]


@pytest.mark.parametrize(
    "figure",
    [
        "2.5%",
        "$1.2bn",
        "25 bps",
        "50bp",
        "€3 billion",
        "1.5 млрд",
        "80 долларов",
        "$78/bbl",
        "0,25 п.п.",
        "-1.2%",
        "1 500 грн",
    ],
)
def test_figure_with_a_unit_is_found_as_written(figure: str) -> None:
    entities = extract(f"Officials said the number was {figure} on Monday").entities

    assert ("figure", figure) in [(e.kind, e.text) for e in entities]


@pytest.mark.parametrize("text", ["In 2024 there were 5 meetings", "Call 15m later"])
def test_bare_numbers_and_years_are_not_figures(text: str) -> None:
    assert [e for e in extract(text).entities if e.kind == "figure"] == []


def test_capitalised_nouns_in_german_are_not_people() -> None:
    extraction = extract(
        "Die Europäische Zentralbank hat die Zinsen gesenkt und die Inflation ist gefallen."
    )

    assert extraction.language == "de"
    assert [e for e in extraction.entities if e.kind == "person"] == []


def test_sentence_start_word_does_not_join_a_name_unless_a_given_name() -> None:
    people = [e.text for e in extract("Yesterday Smith said. Jerome Powell spoke.").entities]

    assert "Jerome Powell" in people
    assert not any("Yesterday" in name for name in people)


def test_run_ending_in_an_organisation_word_is_an_organisation() -> None:
    entities = extract("Shares of Acme Holdings fell sharply on the news").entities

    assert ("organisation", "Acme Holdings") in [(e.kind, e.text) for e in entities]


# --- topics, language, importance --------------------------------------------------------


def test_topic_tie_goes_to_the_fixed_priority_whatever_the_word_order() -> None:
    assert extract("Inflation and oil").topic == "macro"
    assert extract("Oil and inflation").topic == "macro"


@pytest.mark.parametrize(
    "text", ["НЕФТЬ ДОРОЖАЕТ", "Рынок следит за нефтью", "ВИДОБУТОК НАФТИ ЗРІС", "OIL SURGES"]
)
def test_topic_matching_ignores_case_and_inflection(text: str) -> None:
    assert extract(text).topic == "energy"


def test_headline_words_outweigh_the_body() -> None:
    text = "Bitcoin slides below $60,000.\nOil and gas traders watched."

    assert extract(text).topic == "crypto"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The central bank raised rates", "en"),
        ("Центральный банк повысил ставку", "ru"),
        ("Національний банк підвищив облікову ставку", "uk"),
        ("Die Zentralbank hat die Zinsen für das Jahr nicht gesenkt", "de"),
        ("Le président a annoncé une réforme pour les salariés", "fr"),
        ("El banco central subió los tipos para contener la inflación", "es"),
        ("美联储宣布降息", "zh"),
        ("日本銀行は金利を引き上げた", "ja"),
        ("بنك إنجلترا يرفع أسعار الفائدة", "ar"),
        ("2025 100% 5", "und"),
    ],
)
def test_language_comes_from_the_script_and_common_words(text: str, language: str) -> None:
    assert extract(text).language == language


def test_breaking_central_bank_news_outranks_a_plain_post() -> None:
    urgent = extract("BREAKING: Fed cuts rates by 50 bps to 4.5%")
    plain = extract("A quiet day at the office")

    assert urgent.importance > plain.importance
    assert plain.importance < 0.2


def test_importance_has_at_most_three_decimals() -> None:
    for case in CASES:
        importance = extract(case.text).importance
        assert round(importance, 3) == importance


# --- determinism ------------------------------------------------------------------------


def test_same_text_twice_gives_equal_extractions() -> None:
    for case in CASES:
        assert extract(case.text) == extract(case.text)


_DUMP_SCRIPT = """
import json, sys
from civicquant.extract.rules import extract
texts = json.load(sys.stdin)
print(json.dumps([extract(t).model_dump(mode="json") for t in texts], ensure_ascii=False))
"""


def _extract_in_fresh_interpreter(texts: list[str], hash_seed: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", _DUMP_SCRIPT],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONIOENCODING": "utf-8"},
    )
    return json.loads(result.stdout)


def test_fresh_interpreters_with_different_hash_seeds_give_identical_json() -> None:
    texts = [case.text for case in CASES]

    first = _extract_in_fresh_interpreter(texts, "0")
    second = _extract_in_fresh_interpreter(texts, "4242")

    assert first == second
    assert first == [extract(text).model_dump(mode="json") for text in texts]


# --- properties -------------------------------------------------------------------------

_URL_IN_TEXT = re.compile(r"https?://|www\.|t\.me/|telegram\.me/|tg://", re.IGNORECASE)
_MARKERS = ["BREAKING", "JUST IN", "FLASH", "URGENT", "ALERT", "СРОЧНО", "ТЕРМІНОВО", "МОЛНИЯ"]
# Arbitrary Unicode mixed with the pieces the rules react to: links, markers, tags, emoji.
_post_text = st.lists(
    st.text(max_size=20)
    | st.sampled_from(
        [
            " ",
            ".",
            "!",
            "?",
            ":",
            "#",
            "@",
            "$",
            "%",
            "\n",
            "🚨",
            "⚡️",
            "🔴",
            "https://",
            "t.me/",
            "www.",
            "BREAKING",
            "СРОЧНО",
            "Fed",
            "ЦБ",
            "2.5%",
            "$AAPL",
            "Jerome Powell",
        ]
    ),
    max_size=40,
).map("".join)


@settings(deadline=None)
@given(text=_post_text)
def test_any_text_gives_a_valid_extraction_that_round_trips(text: str) -> None:
    extraction = extract(text)

    assert Extraction.model_validate(extraction.model_dump()) == extraction
    assert Extraction.model_validate_json(extraction.model_dump_json()) == extraction


@settings(deadline=None)
@given(text=_post_text)
def test_headline_and_summary_never_contain_a_link(text: str) -> None:
    extraction = extract(text)

    assert not _URL_IN_TEXT.search(extraction.headline)
    assert not _URL_IN_TEXT.search(extraction.summary)


@settings(deadline=None)
@given(
    marker=st.sampled_from(_MARKERS),
    separator=st.sampled_from([": ", " ", " - ", "! ", " | ", "\n"]),
    rest=_post_text,
)
def test_headline_never_contains_the_lead_breaking_marker(
    marker: str, separator: str, rest: str
) -> None:
    assume(marker.casefold() not in rest.casefold())

    extraction = extract(f"{marker}{separator}{rest}")

    assert marker.casefold() not in extraction.headline.casefold()


@settings(deadline=None)
@given(text=_post_text)
def test_same_text_always_gives_the_same_extraction(text: str) -> None:
    assert extract(text) == extract(text)


# --- the model and the provider ----------------------------------------------------------


def test_json_schema_is_a_closed_object_with_every_field_required() -> None:
    schema = Extraction.model_json_schema()

    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"]) == set(Extraction.model_fields)
    entity = schema["$defs"]["Entity"]
    assert entity["additionalProperties"] is False
    assert entity["properties"]["kind"]["enum"] == list(ENTITY_KINDS)
    assert schema["properties"]["topic"]["enum"] == list(TOPICS)
    assert all(prop.get("description") for prop in schema["properties"].values())


_VALID: dict[str, Any] = {
    "topic": "macro",
    "headline": "Fed cuts rates",
    "summary": "Fed cuts rates.",
    "entities": [{"kind": "central_bank", "text": "Federal Reserve"}],
    "is_breaking": True,
    "breaking_window": "1h",
    "importance": 0.5,
    "language": "en",
}


def test_valid_payload_validates() -> None:
    assert Extraction.model_validate(_VALID).topic == "macro"


@pytest.mark.parametrize(
    "change",
    [
        {"breaking_window": None},
        {"is_breaking": False},
        {"importance": 1.5},
        {"importance": -0.1},
        {"topic": "weather"},
        {"headline": "two\nlines"},
        {"headline": "x" * (HEADLINE_MAX_CHARS + 1)},
        {"language": "english"},
        {"entities": [{"kind": "planet", "text": "Mars"}]},
        {"entities": [{"kind": "person", "text": ""}]},
        {"entities": [{"kind": "person", "text": "A", "score": 1}]},
        {"confidence": 0.9},
    ],
    ids=[
        "breaking-without-window",
        "window-without-breaking",
        "importance-above-one",
        "importance-below-zero",
        "unknown-topic",
        "multi-line-headline",
        "long-headline",
        "language-not-a-code",
        "unknown-entity-kind",
        "empty-entity-text",
        "extra-entity-key",
        "extra-key",
    ],
)
def test_invalid_payload_is_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Extraction.model_validate({**_VALID, **change})
