"""Same-story matching: normalising, fingerprints, shingles, MinHash and the StoryMatcher."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicquant.events.similarity import (
    EMPTY_FINGERPRINT,
    NUM_PERM,
    SAME_STORY_THRESHOLD,
    SHINGLE_K,
    estimate_jaccard,
    fingerprint,
    jaccard,
    minhash,
    normalise,
    same_story,
    shingles,
    sketch,
)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Pair:
    """Two posts and why they belong (or not) to one story."""

    id: str
    a: str
    b: str
    decoration_only: bool = False  # normalised texts are equal: one fingerprint


ECB_STORY = (
    "The European Central Bank cut its deposit rate by 25 basis points to 3.5% on Thursday, "
    "its second cut this year, citing easing inflation in the euro zone."
)

# The same story from two channels: decoration differs, or the text was lightly edited.
SAME_STORY = [
    Pair(
        "wire_story_emoji_link_breaking_prefix_via_trailer",
        "🚨 BREAKING: Fed holds interest rates steady at 5.25%-5.5%, signals one more hike "
        "possible before year end https://t.me/wirenews/12345",
        "Fed holds interest rates steady at 5.25%-5.5%, signals one more hike possible before "
        "year end 📉\n\nvia @marketwatchers",
        decoration_only=True,
    ),
    Pair(
        "just_in_cashtag_hashtags_vs_source_trailer",
        "JUST IN — Apple $AAPL shares fall 4% after iPhone 16 sales miss estimates in China "
        "#stocks #breaking",
        "⚡️ Apple AAPL shares fall 4% after iPhone 16 sales miss estimates in China\n"
        "Source: Bloomberg",
        decoration_only=True,
    ),
    Pair(
        "forward_with_mention_and_subscribe_plug",
        "Ukraine's parliament approves 2025 budget with record defence spending of 2.2 trillion "
        "hryvnias, @kyivindependent reports.",
        "Ukraine’s parliament approves 2025 budget with record defence spending of 2.2 trillion "
        "hryvnias, reports.\n\n👉 Subscribe: t.me/ukrainenow",
        decoration_only=True,
    ),
    Pair(
        "copy_with_a_sentence_added",
        ECB_STORY,
        ECB_STORY + " Markets had fully priced in the move.",
    ),
    Pair(
        "copy_with_one_word_dropped",
        "Israeli strikes on southern Lebanon killed at least 12 people overnight, Lebanon's "
        "health ministry said on Tuesday, as cross-border fire intensified.",
        "Israeli strikes on southern Lebanon killed at least 12 people overnight, Lebanon's "
        "health ministry said Tuesday, as cross-border fire intensified.",
    ),
    Pair(
        "russian_srochno_prefix_vs_istochnik_trailer",
        "СРОЧНО: ЦБ РФ повысил ключевую ставку до 21% годовых — решение совета директоров 🔥",
        "⚡️ЦБ РФ повысил ключевую ставку до 21% годовых — решение совета директоров\n\n"
        "Источник: @rbc_news",
        decoration_only=True,
    ),
    Pair(
        "ukrainian_terminovo_prefix_vs_pidpysatysia_plug",
        "ТЕРМІНОВО! У Києві пролунали вибухи, працює ППО. Перебувайте в укриттях. #Київ",
        "🔴 У Києві пролунали вибухи, працює ППО. Перебувайте в укриттях.\n"
        "Підписатися | t.me/kyivoperativ",
        decoration_only=True,
    ),
    Pair(
        "russian_yo_and_decimal_comma_variants",
        "Нефть Brent подорожала на 1,5% — до $82,3 за баррель, ещё один рост за неделю",
        "Нефть Brent подорожала на 1.5% — до 82.3 за баррель, еще один рост за неделю",
        decoration_only=True,
    ),
    Pair(
        "chinese_flash_marker_and_link",
        "【快讯】美联储宣布维持联邦基金利率目标区间在5.25%至5.5%不变，符合市场预期。",
        "美联储宣布维持联邦基金利率目标区间在5.25%至5.5%不变，符合市场预期 https://t.me/cnfin/99",
        decoration_only=True,
    ),
    Pair(
        "chinese_copy_with_a_clause_added",
        "美联储宣布维持联邦基金利率目标区间在5.25%至5.5%不变，符合市场预期，美元指数小幅走高。",
        "美联储宣布维持联邦基金利率目标区间在5.25%至5.5%不变，符合市场预期。",
    ),
    Pair(
        "acronym_dots_and_thousands_separator",
        "U.S. jobless claims rise to 250,000 in the week ended June 1, highest since August",
        "US jobless claims rise to 250000 in the week ended June 1, highest since August",
        decoration_only=True,
    ),
]

# Different stories that look alike: same topic, same template with other numbers or places.
DIFFERENT_STORIES = [
    Pair(
        "two_fed_stories_same_day",
        "Fed holds interest rates steady at 5.25%-5.5%, signals one more hike possible before "
        "year end",
        "Fed's Powell says rates will stay higher for longer as inflation remains above the 2% "
        "target",
    ),
    Pair(
        "fed_hold_vs_fed_cut_same_template",
        "The Federal Reserve held its benchmark interest rate steady at 5.25%-5.5% on Wednesday, "
        "as expected by markets.",
        "The Federal Reserve cut its benchmark interest rate by 50 basis points to 4.75%-5% on "
        "Wednesday, more than expected by markets.",
    ),
    Pair("oil_up_vs_oil_down_short", "Oil up 2%", "Oil down 5%"),
    Pair(
        "oil_template_other_numbers",
        "Brent crude futures rose 2% to $85.10 a barrel on Monday after OPEC+ extended cuts",
        "Brent crude futures fell 5% to $80.20 a barrel on Monday after OPEC+ raised targets",
    ),
    Pair(
        "jobless_claims_other_week",
        "US jobless claims rise to 250,000 in the week ended June 1, highest since August",
        "US jobless claims fall to 221,000 in the week ended June 8, lowest since May",
    ),
    Pair(
        "strike_template_other_city_and_toll",
        "Russian missile strike on Kharkiv kills 3, injures 15, regional governor says",
        "Russian drone strike on Odesa kills 1, injures 8, regional governor says",
    ),
    Pair(
        "russian_rate_hike_vs_rate_hold",
        "ЦБ РФ повысил ключевую ставку до 21% годовых",
        "ЦБ РФ сохранил ключевую ставку на уровне 16% годовых",
    ),
    Pair(
        "russian_currency_template_other_numbers",
        "Курс доллара на Мосбирже превысил 100 рублей впервые с октября",
        "Курс евро на Мосбирже опустился ниже 95 рублей впервые с марта",
    ),
    Pair(
        "ukrainian_explosions_in_two_cities",
        "У Києві пролунали вибухи, працює ППО. Перебувайте в укриттях.",
        "У Харкові пролунали вибухи, зафіксовано влучання у житловий будинок.",
    ),
    Pair(
        "chinese_fed_hold_vs_fed_cut",
        "美联储宣布维持联邦基金利率目标区间在5.25%至5.5%不变，符合市场预期。",
        "美联储宣布将联邦基金利率目标区间下调50个基点至4.75%至5%，超出市场预期。",
    ),
]

# The same story that this lexical measure cannot join: documented, not papered over by
# lowering the threshold (see the module docstring).
KNOWN_NON_MATCHES = [
    Pair(
        "rewording_fed_holds_vs_keeps_unchanged",
        "Fed holds rates at 5.25%-5.5%",
        "Federal Reserve keeps rates unchanged at 5.25-5.5%",
    ),
    Pair(
        "russian_vs_ukrainian_translation",
        "В Киеве прогремели взрывы, работает ПВО. Оставайтесь в укрытиях.",
        "У Києві пролунали вибухи, працює ППО. Перебувайте в укриттях.",
    ),
    Pair("headline_only_vs_full_story", "ECB cuts deposit rate to 3.5%", ECB_STORY),
]

# How far every table pair must sit from the threshold: two MinHash standard errors at J=0.5.
MARGIN = 2 * (0.25 / NUM_PERM) ** 0.5


def _ids(pairs: list[Pair]) -> list[str]:
    return [pair.id for pair in pairs]


def _signature_match(a: str, b: str) -> bool:
    """True when a's signature is as close to b's stored signature as a same story is."""
    return estimate_jaccard(sketch(a).signature, sketch(b).signature) >= SAME_STORY_THRESHOLD


@pytest.mark.parametrize("pair", SAME_STORY, ids=_ids(SAME_STORY))
def test_same_story_pair_matches(pair: Pair) -> None:
    assert same_story(pair.a, pair.b)


@pytest.mark.parametrize("pair", SAME_STORY, ids=_ids(SAME_STORY))
def test_same_story_pair_matches_through_stored_signature(pair: Pair) -> None:
    assert _signature_match(pair.a, pair.b)


@pytest.mark.parametrize("pair", DIFFERENT_STORIES, ids=_ids(DIFFERENT_STORIES))
def test_different_story_pair_does_not_match(pair: Pair) -> None:
    assert not same_story(pair.a, pair.b)


@pytest.mark.parametrize("pair", DIFFERENT_STORIES, ids=_ids(DIFFERENT_STORIES))
def test_different_story_pair_does_not_match_through_stored_signature(pair: Pair) -> None:
    assert not _signature_match(pair.a, pair.b)


@pytest.mark.parametrize("pair", KNOWN_NON_MATCHES, ids=_ids(KNOWN_NON_MATCHES))
def test_known_limitation_pair_stays_unmatched(pair: Pair) -> None:
    assert not same_story(pair.a, pair.b)


@pytest.mark.parametrize(
    "pair",
    [p for p in SAME_STORY if p.decoration_only],
    ids=_ids([p for p in SAME_STORY if p.decoration_only]),
)
def test_decorated_repost_has_the_same_fingerprint(pair: Pair) -> None:
    assert fingerprint(pair.a) == fingerprint(pair.b)


def test_edited_same_story_pairs_clear_the_threshold_by_two_standard_errors() -> None:
    edited = [pair for pair in SAME_STORY if not pair.decoration_only]
    lowest = min(jaccard(shingles(pair.a), shingles(pair.b)) for pair in edited)
    assert len(edited) >= 3
    assert lowest >= SAME_STORY_THRESHOLD + MARGIN


def test_different_story_pairs_stay_below_the_threshold_by_two_standard_errors() -> None:
    highest = max(jaccard(shingles(pair.a), shingles(pair.b)) for pair in DIFFERENT_STORIES)
    assert highest <= SAME_STORY_THRESHOLD - MARGIN


# normalise


@pytest.mark.parametrize(
    "link",
    [
        "https://t.me/wirenews/12345",
        "http://example.org/a?b=c",
        "t.me/wirenews",
        "www.reuters.com/markets",
        "reuters.com/world/us/fed-holds-2024",
        "tg://resolve?domain=wirenews",
    ],
)
def test_normalise_removes_link(link: str) -> None:
    assert normalise(f"Fed holds rates {link} today") == "fed holds rates today"


def test_normalise_removes_mentions_and_hashtags() -> None:
    assert normalise("@wirenews Fed holds rates #Fed #rates") == "fed holds rates"


def test_normalise_keeps_cashtag_as_ticker_word() -> None:
    assert normalise("$AAPL falls 4%") == "aapl falls 4"


@pytest.mark.parametrize(
    "decorated",
    [
        "BREAKING: Fed holds rates",
        "Breaking news — Fed holds rates",
        "JUST IN: Fed holds rates",
        "⚡️FLASH⚡️ Fed holds rates",
        "URGENT | Fed holds rates",
        "🚨🚨 Fed holds rates 🚨",
        "🚨 BREAKING: JUST IN: Fed holds rates",
        "Fed holds rates\nvia @wirenews",
        "Fed holds rates (via Reuters)",
        "Fed holds rates.\n\nSource: Reuters",
        "Fed holds rates.\n👉 Subscribe: @wirenews",
    ],
)
def test_normalise_removes_decoration_around_the_story(decorated: str) -> None:
    assert normalise(decorated) == "fed holds rates"


@pytest.mark.parametrize(
    ("decorated", "expected"),
    [
        ("СРОЧНО: Путин подписал указ", "путин подписал указ"),
        ("МОЛНИЯ Путин подписал указ", "путин подписал указ"),
        ("ТЕРМІНОВО! Зеленський підписав указ", "зеленський підписав указ"),
        ("Зеленський підписав указ\nДжерело: Укрінформ", "зеленський підписав указ"),
        ("【快讯】美联储维持利率不变", "美联储维持利率不变"),
    ],
    ids=["srochno", "molniya", "terminovo", "dzherelo_trailer", "kuaixun"],
)
def test_normalise_removes_cyrillic_and_chinese_markers(decorated: str, expected: str) -> None:
    assert normalise(decorated) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Flash floods kill 10 in Spain", "flash floods kill 10 in spain"),
        ("Breaking Bad star dies at 70", "breaking bad star dies at 70"),
        ("Sources: Fed to hold rates in June", "sources fed to hold rates in june"),
    ],
)
def test_normalise_keeps_marker_words_that_are_the_story(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_folds_width_and_case() -> None:
    assert normalise("ＦＥＤ Holds RATES in Straße") == "fed holds rates in strasse"


def test_normalise_folds_yo_to_ye() -> None:
    assert normalise("Ещё Ёлка") == normalise("Еще Елка")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rate 5.25%-5.5%", "rate 5.25 5.5"),
        ("ставка 1,5%", "ставка 1.5"),
        ("claims 250,000 and 1,000,000", "claims 250000 and 1000000"),
        ("ends here. Next", "ends here next"),
    ],
    ids=["range", "decimal_comma", "thousands", "full_stop"],
)
def test_normalise_keeps_decimal_points_only_inside_numbers(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_keeps_combining_vowel_signs() -> None:
    assert normalise("नमस्ते दुनिया!") == "नमस्ते दुनिया"


@pytest.mark.parametrize("text", ["", "🚨🚨🚨", "https://t.me/wirenews/1", "@wirenews #news", "…"])
def test_normalise_of_decoration_only_is_empty(text: str) -> None:
    assert normalise(text) == ""


def test_normalise_survives_lone_surrogate_and_control_characters() -> None:
    assert normalise("Fed\x00 holds\ud800 rates\u200b") == "fed holds rates"


# fingerprint


def test_fingerprint_is_sha256_hex_of_normalised_text() -> None:
    expected = hashlib.sha256(b"fed holds rates at 5.25 5.5").hexdigest()
    assert fingerprint("🚨 Fed holds rates at 5.25%-5.5% https://t.me/x/1") == expected


def test_fingerprint_differs_when_a_number_differs() -> None:
    assert fingerprint("Oil up 2%") != fingerprint("Oil up 5%")


def test_fingerprint_of_decoration_only_is_the_empty_fingerprint() -> None:
    assert fingerprint("🔥 https://t.me/x/1") == EMPTY_FINGERPRINT


# shingles


def test_shingles_are_word_k_grams() -> None:
    assert len(shingles("one two three four five six")) == 6 - SHINGLE_K + 1


def test_shingles_of_text_shorter_than_k_fall_back_to_unigrams() -> None:
    assert shingles("Oil up") == shingles("oil") | shingles("up")


def test_shingles_of_chinese_text_are_character_k_grams() -> None:
    assert len(shingles("美联储维持利率不变")) == 9 - SHINGLE_K + 1


def test_shingles_of_empty_text_are_empty() -> None:
    assert shingles("🚨") == frozenset()


def test_shingles_reject_k_below_one() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        shingles("Fed holds rates", k=0)


# minhash


def test_minhash_has_num_perm_slots_in_signed_64_bit_range() -> None:
    signature = minhash(shingles(ECB_STORY), num_perm=128)
    assert len(signature) == 128
    assert all(INT64_MIN <= slot <= INT64_MAX for slot in signature)


def test_minhash_ignores_order_and_repeats() -> None:
    values = list(shingles(ECB_STORY))
    assert minhash(values) == minhash(reversed(values + values))


def test_shorter_signature_is_prefix_of_longer_one() -> None:
    values = shingles(ECB_STORY)
    assert minhash(values, num_perm=32) == minhash(values, num_perm=64)[:32]


def test_signature_of_reference_text_is_pinned() -> None:
    # Stored signatures are compared with new ones: a changed hash would split every event,
    # so it changes only with SIMILARITY_VERSION (2: mix64 slots) and a reparse.
    assert minhash(shingles("Fed holds rates at 5.25%-5.5%"))[:4] == (
        4473729733283768182,
        6913348377936343074,
        -8164481322431869930,
        2657278855671380261,
    )


def test_minhash_rejects_num_perm_below_one() -> None:
    with pytest.raises(ValueError, match="num_perm must be at least 1"):
        minhash({1, 2, 3}, num_perm=0)


def test_fingerprint_shingles_and_signature_are_identical_in_a_fresh_interpreter() -> None:
    texts = [pair.a for pair in SAME_STORY]
    script = (
        "import json, sys\n"
        "from civicquant.events.similarity import fingerprint, minhash, shingles\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps([[fingerprint(t), sorted(shingles(t)), list(minhash(shingles(t)))]"
        " for t in texts]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    here = [[fingerprint(t), sorted(shingles(t)), list(minhash(shingles(t)))] for t in texts]
    assert json.loads(result.stdout) == here


# estimate_jaccard and jaccard


def test_estimate_jaccard_of_equal_signatures_is_one() -> None:
    signature = minhash(shingles(ECB_STORY))
    assert estimate_jaccard(signature, list(signature)) == 1.0


def test_estimate_jaccard_with_an_empty_set_is_zero() -> None:
    empty = minhash(frozenset())
    assert estimate_jaccard(empty, empty) == 0.0


def test_estimate_jaccard_rejects_signatures_of_different_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        estimate_jaccard(minhash({1}, 32), minhash({1}, 64))


def test_jaccard_is_intersection_over_union() -> None:
    assert jaccard({1, 2, 3}, {2, 3, 4, 5}) == 2 / 5


def test_jaccard_of_two_empty_sets_is_zero() -> None:
    assert jaccard(frozenset(), frozenset()) == 0.0


def _overlapping_sets(rng: random.Random) -> tuple[set[int], set[int]]:
    """Two random 64-bit sets of 50-150 elements each, sharing a random fraction."""
    size = rng.randint(50, 150)
    shared = rng.randint(0, size)
    common = {rng.getrandbits(64) for _ in range(shared)}
    a = common | {rng.getrandbits(64) for _ in range(size - shared)}
    b = common | {rng.getrandbits(64) for _ in range(size - shared)}
    return a, b


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_estimate_jaccard_mean_absolute_error_is_small(seed: int) -> None:
    # The standard error at 64 slots is at most 0.0625; the mean over 200 pairs is ~0.04 and
    # its own spread ~0.003, so 0.1 fails only when the estimator is broken.
    rng = random.Random(seed)
    errors = []
    for _ in range(200):
        a, b = _overlapping_sets(rng)
        errors.append(abs(estimate_jaccard(minhash(a), minhash(b)) - jaccard(a, b)))
    assert sum(errors) / len(errors) < 0.1


DECORATION = st.sampled_from(
    [
        "🚨",
        "BREAKING:",
        "https://t.me/x/1",
        "@wire",
        "#tag",
        "$AAPL",
        "5,25%",
        "\n",
        "via",
        "СРОЧНО",
    ]
)
ANY_TEXT = st.lists(st.text(st.characters(exclude_categories=[])) | DECORATION, max_size=12).map(
    " ".join
)


@given(text=ANY_TEXT)
def test_any_text_gives_a_fingerprint_and_a_signature(text: str) -> None:
    post = sketch(text)
    assert len(post.fingerprint) == 64
    assert int(post.fingerprint, 16) >= 0
    assert len(post.signature) == NUM_PERM
    assert all(INT64_MIN <= slot <= INT64_MAX for slot in post.signature)


@given(text=ANY_TEXT)
def test_sketch_agrees_with_fingerprint_and_minhash(text: str) -> None:
    post = sketch(text)
    assert (post.fingerprint, post.signature) == (fingerprint(text), minhash(shingles(text)))


@given(text=ANY_TEXT)
def test_normalised_text_is_single_spaced_and_stripped(text: str) -> None:
    normal = normalise(text)
    assert normal == " ".join(normal.split())
