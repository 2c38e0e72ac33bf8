"""A post's content terms: the distinctive words it is about, weighted by how rare they are.

The paraphrase stage of story matching (civicquant.events.merge) compares posts by these
terms, not by runs of words, so "Fed holds rates at 5.25%" and "Federal Reserve keeps rates
unchanged at 5.25%" share `fed`, `rate`, `5.25`. From the normalised text (see
civicquant.events.similarity.normalise):

- stop words are dropped (the stopwords-iso list of the post's language), and so are
  one-letter words;
- each word is reduced to its stem: Snowball (PyStemmer) where it has the language (English,
  Russian, German, French, ... ), the first six letters for Ukrainian (Snowball has no
  Ukrainian stemmer; six letters keep the root of most inflected forms: "вибухи"/"вибухів"),
  the word itself elsewhere; Chinese and Japanese, written without spaces, give character
  bigrams instead;
- a term weighs its inverse document frequency, -log10 of the word's frequency in the
  language (the `wordfreq` tables, small lists), capped at MAX_WEIGHT: "the" weighs about
  1.2, "rates" 4, a name absent from the table 6. Figures weigh FIGURE_WEIGHT (wordfreq
  folds every digit to 0, so it cannot tell 2% from 5%). A word written with a capital
  inside a sentence (a name: Brent, Kharkiv, Пегов) weighs NAME_BOOST times more.

Terms are 64-bit hashes of the stem (what event_sources.terms stores). The per-language
tables load on first use, so only `extract` pays for them, and only for the languages it
meets.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from civicquant.events.similarity import CJK_CHARACTERS

# The cap on a term's weight: -log10 of a frequency of one in a million, the floor of the
# wordfreq small lists (a word missing from them is at least that rare).
MAX_WEIGHT = 6.0
# A figure ("5.25", "2024", "12"): specific, but common enough that it should not outweigh
# a rare word. Not swept: set between a common word's weight (2-3) and a rare one's (6); the
# contradiction guard, not the score, is what keeps other figures apart.
FIGURE_WEIGHT = 4.0
# How much more a name (a capitalised word inside a sentence) weighs than its frequency
# says. Swept over 1.0, 1.5, 2.0 on uci_stories_dev.csv and the tgcontest pairs: 1.5 had the
# best B-cubed F1 on the stream with pairwise precision >= 0.90 (bench/RESULTS.md, quality).
NAME_BOOST = 1.5
# A name is a word at least this rare (-log10 frequency): "June", "Says", "Cuts" in a title
# are capitalised but common (3-4.5); "Kharkiv", "Powell", "Plosser" are not. Read off the
# wordfreq weights of such words, not swept: names only raise a weight (NAME_BOOST).
NAME_MIN_WEIGHT = 4.0
# A word in capitals is a name only as an acronym: ECB, OPEC, IMF (5.5-6), not a shouted
# "EXTENDS" or "CUTS" (4.6): at most this many letters, and at least ACRONYM_MIN_WEIGHT.
# Read off wordfreq's weights like NAME_MIN_WEIGHT; NATO (5.0) and FBI (4.6) miss out.
ACRONYM_LETTERS = 5
ACRONYM_MIN_WEIGHT = 5.0
# How many of a post's strongest terms index it for candidate lookup (event_sources.terms):
# 8 and 16 found the same candidates on the UCI stream; headlines have 5-10 content terms.
INDEX_TERMS = 8
# The stored centroid of an event keeps its strongest terms only (events.centroid_terms):
# not swept, it bounds the row; a headline-sized post has 5-10 terms, a story of 50 a few
# hundred, most of them carried by one or two sources.
CENTROID_TERMS = 64

_SNOWBALL = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "tr": "turkish",
}
# Ukrainian: no Snowball stemmer; a prefix of this many letters stands in for the stem.
_PREFIX_STEM = {"uk": 6}
_CJK_LANGUAGES = frozenset({"zh", "ja"})
_CJK_RUN_RE = re.compile(f"[{CJK_CHARACTERS}]+")
_DIGIT_RE = re.compile(r"\d")
# A word that starts with a capital (the scripts with letter case that channels write in).
_CAPITALISED_RE = re.compile(r"(?<![\w'’-])[A-ZÀ-ÖØ-ÞΑ-ΩА-ЯЁІЇЄҐ][\w'’-]*")
# Skipped when looking back for a sentence break: spaces and the decoration a line opens with.
_DECORATION = frozenset(" \t\u00a0*_-–—•#|")
# What may stand before a sentence's first word: a capital after these is not a name.
_SENTENCE_BREAKS = frozenset('.!?…:;\n»"“”')
_WORD_CACHE_SIZE = 200_000


@dataclass(frozen=True, slots=True)
class Terms:
    """A post's content terms: term hash -> weight, the strongest first."""

    weights: Mapping[int, float]

    @property
    def empty(self) -> bool:
        return not self.weights

    def strongest(self, count: int = INDEX_TERMS) -> list[int]:
        """The `count` heaviest terms (ties by hash, so every process picks the same)."""
        return sorted(self.weights, key=lambda key: (-self.weights[key], key))[:count]


def content_terms(normalised: str, raw: str, language: str) -> Terms:
    """The content terms of a post: its normalised text, its raw text (for names), language."""
    table = _language(language)
    weights: dict[int, float] = {}
    if table.cjk:
        for run in _CJK_RUN_RE.findall(normalised):
            for start in range(max(len(run) - 1, 1)):
                weights[_key(run[start : start + 2])] = MAX_WEIGHT / 2
        normalised = _CJK_RUN_RE.sub(" ", normalised)
    for word in normalised.split():
        term = table.term(word)
        if term is not None and term[1] > weights.get(term[0], 0.0):
            weights[term[0]] = term[1]
    for key in _names(raw, table):
        if key in weights:
            weights[key] *= NAME_BOOST
    return Terms(weights)


def text_weight(normalised: str, raw: str, language: str) -> float:
    """How informative a text is: the total weight of its content terms, names boosted.

    What chooses an event's headline (event_sources.headline_score). Scoring it without the
    name boost was tried: B-cubed F1 on the UCI stream fell from 0.813 to 0.797, since the
    headline an event leads with is also what the contradiction guard reads.
    """
    return float(sum(content_terms(normalised, raw, language).weights.values()))


def cosine(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """The cosine of two weighted term vectors (0.0 when either is empty)."""
    return cosine_with_norms(a, norm(a), b, norm(b))


def norm(weights: Mapping[int, float]) -> float:
    """The Euclidean length of a term vector."""
    return math.sqrt(sum(w * w for w in weights.values()))


def cosine_with_norms(
    a: Mapping[int, float], a_norm: float, b: Mapping[int, float], b_norm: float
) -> float:
    """`cosine` with the vectors' lengths known (an event's is kept between posts)."""
    if not a_norm or not b_norm:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(weight * b[key] for key, weight in a.items() if key in b)
    return dot / (a_norm * b_norm)


def add(total: dict[int, float], weights: Mapping[int, float]) -> None:
    """Add a post's weights into an event's centroid (a sum; cosine ignores its scale)."""
    for key, weight in weights.items():
        total[key] = total.get(key, 0.0) + weight


def strongest(centroid: Mapping[int, float], count: int = CENTROID_TERMS) -> dict[int, float]:
    """The centroid cut to its `count` heaviest terms, as it is stored."""
    if len(centroid) <= count:
        return dict(centroid)
    kept = sorted(centroid, key=lambda key: (-centroid[key], key))[:count]
    return {key: centroid[key] for key in kept}


def _names(raw: str, table: _Language) -> set[int]:
    """The terms of the names in the first 600 characters of `raw`.

    "... strike on Kharkiv kills 3": Kharkiv is a name; a sentence's first word is not, since
    every sentence starts with a capital, and neither is a common word in capitals ("OPEC+
    EXTENDS CUTS"): a name weighs at least NAME_MIN_WEIGHT, and a word in capitals counts
    only as an acronym (at most ACRONYM_LETTERS letters).
    """
    lead = raw[:600]
    names: set[int] = set()
    for match in _CAPITALISED_RE.finditer(lead):
        word = match.group()
        if (len(word) > ACRONYM_LETTERS and word.isupper()) or _DIGIT_RE.search(word):
            continue  # a shouted word, or a code ("Q2", "A320") rather than a name
        before = match.start() - 1
        while before >= 0 and lead[before] in _DECORATION:
            before -= 1
        if before < 0 or lead[before] in _SENTENCE_BREAKS:
            continue
        folded = word.casefold()
        term = table.term(folded)
        least = ACRONYM_MIN_WEIGHT if word.isupper() else NAME_MIN_WEIGHT
        if term is not None and term[1] >= least:
            names.add(term[0])
    return names


def _key(stem: str) -> int:
    """A signed 64-bit hash of a stem, the same in every process (a bigint)."""
    digest = hashlib.blake2b(stem.encode("utf-8"), digest_size=8, person=b"cq-term").digest()
    return int.from_bytes(digest, "big", signed=True)


class _Language:
    """One language's stop words, stemmer and frequencies, with a cache of words seen."""

    def __init__(self, language: str) -> None:
        import stopwordsiso
        import wordfreq

        self.cjk = language in _CJK_LANGUAGES
        self._stop: frozenset[str] = (
            frozenset(stopwordsiso.stopwords(language))
            if stopwordsiso.has_lang(language)
            else frozenset()
        )
        try:
            self._frequency: dict[str, float] = wordfreq.get_frequency_dict(language, "small")
        except LookupError:
            self._frequency = {}
        self._stem = _stemmer(language)
        self._cache: dict[str, tuple[int, float] | None] = {}

    def term(self, word: str) -> tuple[int, float] | None:
        """(term, weight) of a normalised word, or None for a stop word."""
        if word in self._cache:
            return self._cache[word]
        term = self._term(word)
        if len(self._cache) < _WORD_CACHE_SIZE:
            self._cache[word] = term
        return term

    def _term(self, word: str) -> tuple[int, float] | None:
        if _DIGIT_RE.search(word):
            return (_key(word), FIGURE_WEIGHT)
        if len(word) < 2 or word in self._stop:
            return None
        frequency = self._frequency.get(word)
        weight = MAX_WEIGHT if not frequency else min(MAX_WEIGHT, -math.log10(frequency))
        return (_key(self._stem(word)), weight)


def _stemmer(language: str) -> Any:
    """A function from a word to its stem in `language` (the word itself if none is known)."""
    algorithm = _SNOWBALL.get(language)
    if algorithm is not None:
        import Stemmer

        return Stemmer.Stemmer(algorithm, 0).stemWord
    prefix = _PREFIX_STEM.get(language)
    if prefix is not None:
        return lambda word: word[:prefix]
    return str


@cache
def _language(language: str) -> _Language:
    return _Language(language)
