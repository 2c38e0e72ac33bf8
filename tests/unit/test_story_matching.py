"""The paraphrase stage's parts: content terms, their cosine, and the contradiction guard."""

from __future__ import annotations

import pytest

from civicquant.events import contradiction, terms
from civicquant.events.merge import JOIN_SIMILARITY
from civicquant.events.similarity import normalise
from civicquant.extract import rules


def vector(text: str) -> dict[int, float]:
    language = rules.extract(text).language
    return dict(terms.content_terms(normalise(text), text, language).weights)


def score(a: str, b: str) -> float:
    return terms.cosine(vector(a), vector(b))


def guard(a: str, b: str) -> bool:
    return contradiction.contradicts(
        contradiction.read_headline(normalise(a)), contradiction.read_headline(normalise(b))
    )


# Same story, other words: the MinHash stage cannot join these (too few shared word runs).
PARAPHRASES = [
    ("Fed holds rates at 5.25%-5.5%", "Federal Reserve keeps rates unchanged at 5.25-5.5%"),
    (
        "Fed official says weak data caused by weather, should not slow taper",
        "Fed's Plosser: weather to blame for weak data, taper should go on",
    ),
    # Russian inflection: "ставку"/"ставки", "повысил"/"повышении" share their stems.
    (
        "Банк России повысил ключевую ставку до 21% годовых",
        "Решение Банка России о повышении ключевой ставки до 21%: что это значит",
    ),
    # Ukrainian: prefix stems join "вибухи"/"вибухів", "Києві"/"Київ".
    (
        "У Києві пролунали вибухи, працює ППО",
        "Серія вибухів у Києві: працює ППО, перебувайте в укриттях",
    ),
]

# Same template, different story: the guard keeps them apart however alike they look.
CONTRADICTIONS = [
    ("Brent rises 2% to $85 a barrel", "Brent falls 5% to $80 a barrel"),
    ("Central bank raises rates to 4.75%", "Central bank raises rates to 5%"),
    (
        "Russian missile strike on Kharkiv kills 3, injures 15, regional governor says",
        "Russian drone strike on Odesa kills 1, injures 8, regional governor says",
    ),
    ("Курс доллара превысил 100 рублей", "Курс доллара опустился ниже 100 рублей"),
]


@pytest.mark.parametrize(("a", "b"), PARAPHRASES)
def test_paraphrase_pair_scores_above_the_join_threshold(a: str, b: str) -> None:
    assert score(a, b) >= JOIN_SIMILARITY


@pytest.mark.parametrize(("a", "b"), PARAPHRASES)
def test_paraphrase_pair_is_no_contradiction(a: str, b: str) -> None:
    assert not guard(a, b)


@pytest.mark.parametrize(("a", "b"), CONTRADICTIONS)
def test_contradicting_pair_is_caught_by_the_guard(a: str, b: str) -> None:
    assert guard(a, b)


def test_unrelated_stories_share_no_weight() -> None:
    assert score("ECB cuts deposit rate to 3.5%", "Apple unveils a new iPhone in Cupertino") == 0


def test_a_greeting_carries_far_less_weight_than_a_news_line() -> None:
    # What makes the news line, not the greeting, an event's headline (headline_score).
    greeting = sum(vector("Hello everyone, and good morning to all of you").values())
    news = sum(vector("ECB cuts deposit rate to 3.5% as inflation eases").values())
    assert greeting * 3 < news


def test_rare_words_weigh_more_than_common_ones() -> None:
    weights = vector("The deal was signed")
    rare = vector("The Plosser was signed")
    assert max(rare.values()) > max(weights.values())


def test_a_name_inside_a_sentence_weighs_more_than_the_same_word_in_lower_case() -> None:
    named = vector("Strikes hit Kharkiv overnight")
    plain = vector("Strikes hit kharkiv overnight")
    assert sum(named.values()) > sum(plain.values())


def test_chinese_text_gives_character_bigrams() -> None:
    chinese = terms.content_terms(normalise("美联储维持利率不变"), "美联储维持利率不变", "zh")
    assert len(chinese.weights) == len("美联储维持利率不变") - 1


def test_strongest_terms_are_deterministic_and_heaviest_first() -> None:
    found = terms.content_terms(normalise(PARAPHRASES[0][0]), PARAPHRASES[0][0], "en")
    strongest = found.strongest(3)
    assert strongest == found.strongest(3)
    weights = [found.weights[key] for key in strongest]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize(
    ("text", "update"),
    [("UPDATE: Fed holds rates", True), ("UPD 2 Блэкаут в Одессе", True), ("Updates soon", False)],
)
def test_follow_up_marker_is_read_from_the_first_word(text: str, update: bool) -> None:
    assert contradiction.is_update(normalise(text)) is update


def test_centroid_keeps_its_strongest_terms() -> None:
    centroid = {key: float(key) for key in range(100)}
    kept = terms.strongest(centroid, 10)
    assert sorted(kept) == list(range(90, 100))
