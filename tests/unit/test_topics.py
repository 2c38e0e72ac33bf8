"""Topic picking by the rules: evidence from the lead, generic words only beside specific ones."""

from __future__ import annotations

import pytest

from civicquant.extract.rules import extract
from civicquant.extract.rules.topics import LEAD_CHARS


def test_a_sports_transfer_deal_is_sports_not_companies() -> None:
    text = "Chelsea agree deal to sign striker from Juventus before the transfer window shuts"
    assert extract(text).topic == "sports"


def test_court_alone_does_not_make_politics() -> None:
    assert extract("The court will hear the case again on Monday").topic == "other"


@pytest.mark.parametrize(
    "text",
    [
        "Police arrest man after fatal stabbing in east London",
        "Полиция задержала подозреваемого в убийстве двух человек в Самаре",
        "Поліція затримала чоловіка, підозрюваного у вбивстві в Одесі",
        "В ДТП под Тверью погибли три человека, ещё пятеро пострадали",
    ],
    ids=["en-stabbing", "ru-murder", "uk-murder", "ru-road-crash"],
)
def test_crime_and_incidents_are_society(text: str) -> None:
    assert extract(text).topic == "society"


def test_the_gaza_strip_scores_geopolitics() -> None:
    assert extract("Air raids hit the Gaza Strip overnight").topic == "geopolitics"


@pytest.mark.parametrize("word", ["deal", "gold", "market", "killed", "index", "law", "euro"])
def test_a_single_generic_word_gives_other(word: str) -> None:
    assert extract(f"A {word} was mentioned today").topic == "other"


def test_the_lead_decides_over_a_long_body() -> None:
    lead = "Striker scores twice as United win the league title at the stadium"
    body = " ".join(["Shares of the club rose as investors cheered earnings and dividends."] * 20)
    assert len(body) > 2 * LEAD_CHARS
    assert extract(f"{lead}\n{body}").topic == "sports"


def test_generic_words_count_beside_a_specific_one() -> None:
    assert extract("Company agrees deal after merger talks").topic == "companies"


@pytest.mark.parametrize(
    "text",
    ["中国央行宣布降息25个基点", "البنك المركزي يرفع أسعار الفائدة"],
    ids=["zh", "ar"],
)
def test_languages_without_a_lexicon_give_other(text: str) -> None:
    assert extract(text).topic == "other"


def test_cues_in_latin_letters_still_count_in_a_chinese_post() -> None:
    assert extract("比特币 Bitcoin 价格 crypto 上涨").topic == "crypto"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Apple unveils new iPhone with faster chip and better camera", "technology"),
        ("NASA astronauts return from the space station", "science"),
        ("Actress wins Oscar for best film at Hollywood ceremony", "entertainment"),
        ("Сборная России по футболу проиграла в матче отборочного турнира", "sports"),
        ("Учёные обнаружили новый вид динозавров в Аргентине", "science"),
        ("Збірна України з футболу виграла матч у Празі", "sports"),
    ],
)
def test_out_of_scope_news_has_a_topic_of_its_own(text: str, topic: str) -> None:
    assert extract(text).topic == topic
