"""The rule-based extractor: an `Extraction` from a post's text, deterministically, offline.

`extract(text)` is pure: the same text always gives the same `Extraction`, with no network,
randomness, clock or hash-order dependence (sets are only ever used for membership). Bump
`RULES_VERSION` whenever a formula below or any word list or table in `lexicon.py` changes,
so stored extractions can be told apart from what the current rules would produce.

The data (topic lexicons, entity tables, marker and stop words) lives in
`civicquant.extract.rules.lexicon`; this module holds the regexes and the algorithm. Which
sentence is the headline is decided in `lead`, whether markers make a post breaking in
`breaking`, both with their word lists in `lead_lexicon`.

How a post is read:

1. Normalise: drop zero-width and control characters, cap the length, remember the first
   line's marker emoji (🚨 ⚡ 🔴), replace links and emoji runs with spaces.
2. Breaking markers are read off the headline's start (BREAKING, JUST IN, FLASH, URGENT,
   ALERT, DEVELOPING, UPDATE, СРОЧНО, ТЕРМІНОВО, МОЛНИЯ, БЛИСКАВКА: in capitals, or in any case when
   followed by ':', '!', '.', a dash, '|' or nothing) and removed, after a wire slug
   ("UPDATE 1-", "REFILE-"), which is removed and is no marker; marker emoji count on the
   first line. A marker flags the post only beside news content (`breaking`): a figure or
   an entity in the headline, or a word of an event; advert, invitation and chatter cues
   veto it. Capitals alone are no marker.
3. Sentences: lines, then sentence ends followed by a capital, digit or opening quote (not
   after abbreviations, inside parentheses closed on the line, or after a short
   abbreviation before a figure: "(exp. 3.0%)"). The headline is the first informative
   cleaned sentence (`lead`: greetings, salutations and religious formulas at its start
   are dropped; greeting-only lines, decorations and one-word labels are passed over), the
   summary the first three, each without links, edge hashtags and mentions, leading
   punctuation. Sign-offs are left out, and a post that opens with one has no headline.
4. One pass over word tokens matches, longest first, multi-word phrases, exact words and
   word stems (Russian and Ukrainian inflect) from the topic lexicons and the entity tables
   (countries, central banks, institutions, known organisations). Each hit is a cue for its
   topics; `topics.py` picks the topic from the lead's cues (two distinct cues and a
   minimum score, or one specific cue in the headline; generic words count only beside a
   specific one), else `other`.
5. People and organisations (English, Russian, Ukrainian only): runs of Capitalised words
   that are not a sentence start (unless a common given name), a title, a known place or
   entity; two or three words are a person, up to five ending in an organisation word
   (Bank, Holdings, ...) an organisation; runs in Title Case sentences are skipped.
6. Cashtags ($AAPL -> AAPL) and figures (2.5%, $1.2bn, 25 bps, 1,5 млрд, $78/bbl) by regex.

Importance, in thousandths so the sum is exact, capped at 1000:
    urgency          450 flash, 350 breaking, 150 soft only
    central banks    150 when any is named
    institutions      50 each, at most 100
    figures           50 each, at most 150
    countries         40 each, at most 120
    topic            macro/geopolitics 150, markets/energy 100, politics/companies 80,
                     crypto/society 60, technology 40, science 20, sports/entertainment/other 0
    length            50 at 100+ characters of cleaned text, 100 at 400+

Urgency counts only for a post that `breaking` lets be breaking (news content, no veto).
Breaking window: 15m for FLASH / МОЛНИЯ / БЛИСКАВКА, a siren with an urgent word, or a hard
marker with importance >= 0.85; 1h for any other hard marker (words or emoji); 4h for soft
markers alone (DEVELOPING, UPDATE).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from civicquant.extract.rules import breaking
from civicquant.extract.rules import lead as lead_rules
from civicquant.extract.rules.lexicon import (
    ABBREVIATIONS,
    CENTRAL_BANKS,
    COUNTRIES,
    COUNTRY_TOPICS,
    CRYPTO_TICKERS,
    FOOTER_LABELS,
    FOOTER_WORDS,
    GIVEN_NAMES,
    HARD_MARKER_EMOJI,
    INSTITUTIONS,
    LATIN_STOPWORDS,
    NAME_STOPWORDS,
    ORG_WORDS,
    ORGANISATIONS,
    PLACES,
    TOPIC_LEXICON,
    TOPIC_POINTS,
)
from civicquant.extract.rules.topics import TopicEvidence, pick_topic
from civicquant.extraction import (
    ENTITIES_MAX,
    ENTITY_TEXT_MAX_CHARS,
    HEADLINE_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    TOPICS,
    BreakingWindow,
    Entity,
    EntityKind,
    Extraction,
    Topic,
)

__all__ = ["RULES_VERSION", "extract"]

RULES_VERSION = "rules-v2"

# Only the beginning of a post is read; Telegram's own limit is 4096 characters.
_MAX_CHARS = 6000
_SUMMARY_SENTENCES = 3
_MAX_PHRASE_TOKENS = 5

# --------------------------------------------------------------------------------------
# Character classes and cleaning
# --------------------------------------------------------------------------------------


def _build_normalise_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)):
        table[code] = None
    for code in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029, 0x0D):
        table[code] = "\n"
    for code in (*range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF, 0x00AD):
        table[code] = None
    for code in range(0xD800, 0xE000):  # lone surrogates cannot be encoded as UTF-8
        table[code] = None
    return table


_NORMALISE_TABLE = _build_normalise_table()
# translate() with a big table is slow per character; most posts need none of it.
_NEEDS_NORMALISING_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u200b-\u200f\u2028\u2029\u2060-\u2064\ufeff\ud800-\udfff]"
)

_EMOJI_RE = re.compile(
    "["
    "\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa"
    "\u231a\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2"
    "\u25a0-\u25ff\u2600-\u27bf\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55"
    "\u3030\u303d\u3297\u3299\u20e3\ufe0e\ufe0f"
    "\U0001f000-\U0001faff\U000e0020-\U000e007f"
    "]+"
)
_URL_RE = re.compile(
    r"(?:https?://|tg://|www\.|(?:t|telegram)\.me/)\S*",
    re.IGNORECASE,
)
_CONTENT_RE = re.compile(r"[^\W_]")
_DIGIT_RE = re.compile(r"\d")

_MARKER_WORDS = (
    r"BREAKING(?:\s+NEWS)?|JUST\s+IN|FLASH|URGENT|ALERT|DEVELOPING|UPDATED?"
    r"|СРОЧНО|ТЕРМІНОВО|МОЛНИЯ|БЛИСКАВКА"
)
_LEAD_MARKER_RE = re.compile(
    r"^[^\w$€£¥₽₴«\"“]*?"
    rf"(?:(?P<upper>{_MARKER_WORDS})(?![^\W\d_])"
    rf"|(?P<any>(?i:{_MARKER_WORDS}))\s*(?=[:!|\-–—.]|$))"
    r"[\s:!|\-–—.,)\]]*"
)
_DATELINE_RE = re.compile(
    r"^(?:[A-ZÀ-Ý][\w.'\- ]{0,40},?\s*)?"
    r"\((?:Reuters|AP|AFP|Bloomberg|Dow Jones|Interfax|TASS|Xinhua)\)\s*[-–—:]+\s*"
)

_TAG_WORD_RE = re.compile(r"[,;|]*+(?:[#@][^\W_][\w.]*+[,;|]*+)++")
_LEADING_JUNK_RE = re.compile(r"^[^\w$€£¥₽₴«\"“„'(\[]+")
_TRAILING_JUNK = " ,;:|/-–—•·*"
_MAX_SENTENCE_CHARS = 2 * SUMMARY_MAX_CHARS

# A sentence ends at a line break, or at terminal punctuation followed by space (checked
# further in `_sentence_spans`), or after CJK terminal punctuation.
_SENTENCE_END_RE = re.compile(
    r"(?<![.!?…])(?:[.!?…]++[\"'»”’)\]]*+)? ?\n\s*"
    r"|(?<![.!?…])[.!?…]++[\"'»”’)\]]*+ "
    r"|(?<![。！？])[。！？]++"
)
# Runs of two or more blanks, or one blank that is not a plain space.
_HORIZONTAL_SPACE_RE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_SENTENCE_OPENERS = frozenset("«\"“„'(")

# --------------------------------------------------------------------------------------
# Tokens, lexicons and entity tables
# --------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W_]+(?:['’ʼ&][^\W_]+)*")
# Applied to the whole body before tokenising; keeps every offset where it was.
_KEY_TABLE = str.maketrans({"’": "'", "ʼ": "'", "ё": "е", "Ё": "Е"})
_NEEDS_KEY_TABLE_RE = re.compile("[’ʼёЁ]")

_TOPIC_INDEX: dict[str, int] = {topic: index for index, topic in enumerate(TOPICS)}
# A cashtag ($AAPL, $BTC) names a security: a specific cue for markets or crypto (see
# `topics.py`). Not measured: the labelled files of bench/topics.py carry no cashtags.
_CASHTAG_WEIGHT = 2

# Languages that capitalise names but not common nouns: the only ones where a run of
# Capitalised words is read as a person or an organisation.
_NAME_LANGUAGES = frozenset({"en", "ru", "uk"})


@dataclass(slots=True)
class _Term:
    """What one lexicon key means: topic weights and, gated by case, an entity."""

    topics: list[tuple[int, int]] = field(default_factory=list)
    entity_kind: EntityKind | None = None
    entity_text: str = ""
    entity_topics: list[tuple[int, int]] = field(default_factory=list)
    needs_capital: bool = True
    is_place: bool = False


@dataclass(slots=True)
class _Lexicon:
    phrases: dict[str, _Term] = field(default_factory=dict)
    phrase_heads: set[str] = field(default_factory=set)
    words: dict[str, _Term] = field(default_factory=dict)
    cased: dict[str, _Term] = field(default_factory=dict)
    cased_lower: set[str] = field(default_factory=set)
    stems: dict[str, _Term] = field(default_factory=dict)
    # stems by their first `_STEM_PREFIX` letters, longest first: one probe per token
    stems_by_prefix: dict[str, tuple[tuple[str, _Term], ...]] = field(default_factory=dict)


def _token_key(token: str) -> str:
    """The case-preserving key of a token: apostrophes unified, dots and 's dropped."""
    return _key_of_normalised(token.translate(_KEY_TABLE))


def _key_of_normalised(key: str) -> str:
    if "." in key:
        key = key.replace(".", "")
    if len(key) > 3 and key[-2] == "'" and key[-1] in "sS":
        key = key[:-2]
    return key


def _parse_weights(spec: str) -> list[tuple[int, int]]:
    weights: list[tuple[int, int]] = []
    for item in spec.split():
        name, _, weight = item.partition(":")
        weights.append((_TOPIC_INDEX[name], int(weight) if weight else 1))
    return weights


def _slot(lexicon: _Lexicon, alias: str) -> tuple[dict[str, _Term], str]:
    """Which table an alias belongs in, and its key there."""
    if alias.startswith("="):
        return lexicon.cased, _token_key(alias[1:])
    if "_" in alias:
        key = " ".join(_token_key(part).lower() for part in alias.split("_"))
        lexicon.phrase_heads.add(key.split(" ", 1)[0])
        return lexicon.phrases, key
    if alias.endswith("*"):
        return lexicon.stems, _token_key(alias[:-1]).lower()
    return lexicon.words, _token_key(alias).lower()


def _term_for(lexicon: _Lexicon, alias: str) -> _Term:
    table, key = _slot(lexicon, alias)
    term = table.get(key)
    if term is None:
        term = table[key] = _Term()
    return term


def _add_entity(
    lexicon: _Lexicon, kind: EntityKind | None, text: str, aliases: str, topics: str
) -> None:
    weights = _parse_weights(topics)
    for alias in aliases.split():
        any_case = alias.startswith("~")
        term = _term_for(lexicon, alias.lstrip("~"))
        if term.entity_kind is not None or term.is_place:
            raise ValueError(f"entity alias {alias!r} is defined twice")
        if kind is None:
            term.is_place = True
        else:
            term.entity_kind, term.entity_text = kind, text
            term.entity_topics = weights
            term.needs_capital = not any_case and not alias.startswith("=")


def _build_lexicon() -> _Lexicon:
    lexicon = _Lexicon()
    for topic, entries in TOPIC_LEXICON.items():
        index = _TOPIC_INDEX[topic]
        for entry in entries.split():
            alias, _, weight = entry.partition(":")
            term = _term_for(lexicon, alias)
            if any(existing == index for existing, _ in term.topics):
                raise ValueError(f"lexicon term {alias!r} is listed twice under {topic}")
            term.topics.append((index, int(weight) if weight else 1))
    for text, aliases in COUNTRIES:
        _add_entity(lexicon, "country", text, aliases, COUNTRY_TOPICS)
    for text, aliases in CENTRAL_BANKS:
        _add_entity(lexicon, "central_bank", text, aliases, "macro:3")
    for text, aliases, topics in INSTITUTIONS:
        _add_entity(lexicon, "institution", text, aliases, topics)
    for text, aliases, topics in ORGANISATIONS:
        _add_entity(lexicon, "organisation", text, aliases, topics)
    _add_entity(lexicon, None, "", PLACES, "")
    for key in lexicon.cased:
        if key.lower() in lexicon.words:
            raise ValueError(f"cased alias {key!r} shadows the lexicon word {key.lower()!r}")
        lexicon.cased_lower.add(key.lower())
    grouped: dict[str, list[tuple[str, _Term]]] = {}
    for stem, term in lexicon.stems.items():
        if len(stem) < _STEM_PREFIX:
            raise ValueError(f"stem {stem!r} is shorter than {_STEM_PREFIX} letters")
        grouped.setdefault(stem[:_STEM_PREFIX], []).append((stem, term))
    lexicon.stems_by_prefix = {
        prefix: tuple(sorted(entries, key=lambda entry: (-len(entry[0]), entry[0])))
        for prefix, entries in grouped.items()
    }
    return lexicon


_STEM_PREFIX = 3
_LEXICON = _build_lexicon()

# Resolved single tokens (lexicon terms are immutable after import, so caching a lookup
# never changes a result); cleared when full so memory stays bounded.
_UNSEEN = _Term()
_WORD_CACHE: dict[str, _Term | None] = {}
_WORD_CACHE_SIZE = 100_000

# --------------------------------------------------------------------------------------
# Cashtags and figures
# --------------------------------------------------------------------------------------

_CASHTAG_RE = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,5}(?:\.[A-Za-z]{1,2})?)(?!\w)")
_FIGURE_RE = re.compile(
    r"""
    (?<![\w.,/%])
    (?:[+\-−±](?=[\d$€£¥₽₴₹]))?
    (?P<cur>(?:US|C|A|HK|NZ)?\$|€|£|¥|₽|₴|₹)?\s?
    (?P<num>\d{1,3}(?:(?:,\d{3})+|(?:[\u00a0\u202f\ ]\d{3})+)(?:\.\d+)?(?!\d)|\d+(?:[.,]\d+)?)
    (?:[\s\-]?(?P<scale>trillions?|billions?|millions?|thousands?|трлн|млрд|млн|тыс|тис
        |триллион\w*|миллиард\w*|миллион\w*|тысяч\w*|трильйон\w*|мільярд\w*|мільйон\w*
        |тисяч\w*|tn|trn|bn|mln|mn|(?(cur)[kmbKMB]|(?!)))\.?(?![^\W\d_]))?
    (?:[\s\-]?(?P<unit>%|percent|per\s?cent|pct|bps|bp|basis\s+points?|pp|p\.p\.
        |п\.\s?п\.|б\.\s?п\.|бп|процент(?:а|ов|ных\s+пункт(?:а|ов))?
        |відсот(?:ок|ки|ків|кових\s+пункт(?:и|ів))
        |dollars?|euros?|pounds?|yen|yuan|roubles?|rubles?|hryvnias?
        |долл(?:ар(?:а|ов|ы)?|\.)|долар(?:а|ів|и)?|рубл(?:ь|я|ей|и)|руб\.|евро|євро
        |гривн(?:а|ы|ю|і)|гривень|грн\.?|юан(?:ь|я|ей|і|ів)
        |barrels?|bbl|баррел(?:ь|я|ей|и)|барел(?:ь|я|ів|і)|тонн\w*|tonnes?|tons?|oz|ounces?)
        (?![^\W\d_]))?
    (?P<per>/(?:bbl|barrel|oz|t|MWh|mwh|MMBtu|mmbtu|тонну|т|баррель)(?![^\W\d_]))?
    """,
    re.VERBOSE,
)
_MAX_FIGURE_CHARS = 60

# --------------------------------------------------------------------------------------
# Language
# --------------------------------------------------------------------------------------

_SCRIPT_RE = re.compile(
    r"(?P<latin>[A-Za-z\u00c0-\u024f]+)"
    r"|(?P<cyrillic>[\u0400-\u04ff]+)"
    r"|(?P<kana>[\u3040-\u30ff]+)"
    r"|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff]+)"
    r"|(?P<hangul>[\uac00-\ud7af\u1100-\u11ff]+)"
    r"|(?P<arabic>[\u0600-\u06ff\u0750-\u077f]+)"
    r"|(?P<hebrew>[\u0590-\u05ff]+)"
    r"|(?P<greek>[\u0370-\u03ff]+)"
)
_LATIN_RUN_RE = re.compile("[A-Za-z\u00c0-\u024f]+")
_CYRILLIC_RUN_RE = re.compile("[\u0400-\u04ff]+")
_OTHER_SCRIPT_RE = re.compile(
    "[\u0370-\u03ff\u0590-\u06ff\u0750-\u077f\u1100-\u11ff\u3040-\u30ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
_UKRAINIAN_LETTERS_RE = re.compile("[іїєґІЇЄҐ]")
_RUSSIAN_LETTERS_RE = re.compile("[ыэъёЫЭЪЁ]")
_LATIN_WORD_RE = re.compile(r"[a-zà-ÿß]+")
_LANGUAGE_SAMPLE_CHARS = 800

_FIFTEEN_MINUTE_IMPORTANCE = 850


# --------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------


def extract(text: str) -> Extraction:
    """Read a post's text into an `Extraction`; never raises for any string."""
    raw = text[:_MAX_CHARS]
    if _NEEDS_NORMALISING_RE.search(raw):
        raw = raw.translate(_NORMALISE_TABLE)
    first_line = raw.lstrip()[:200].split("\n", 1)[0]
    emoji_markers = [mark for mark in HARD_MARKER_EMOJI if mark in first_line]
    body = _EMOJI_RE.sub(" ", _remove_links(raw))
    body = _HORIZONTAL_SPACE_RE.sub(" ", body).strip()

    lead = _read_lead(body)
    if not lead.sentences:
        return _empty_extraction()
    headline = _trim(lead.sentences[0], HEADLINE_MAX_CHARS)
    summary = _trim(" ".join(lead.sentences), SUMMARY_MAX_CHARS)

    language = _detect_language(body)
    scan = _scan(body, lead.headline_end, find_names=language in _NAME_LANGUAGES)
    topic = pick_topic(scan.topics)

    # Entities of the headline alone, read only when a marker asks whether it is news.
    headline_entities = 0
    if lead.markers or emoji_markers:
        headline_scan = _scan(lead.sentences[0], 0, find_names=language in _NAME_LANGUAGES)
        headline_entities = len(headline_scan.entities)
    urgency = breaking.urgency(
        lead.markers, emoji_markers, lead.sentences[0], " ".join(lead.sentences), headline_entities
    )
    flash, hard, soft = urgency.flash, urgency.hard, urgency.soft
    points = _importance_points(scan, topic, len(body), flash=flash, hard=hard, soft=soft)

    window: BreakingWindow | None = None
    if flash or urgency.siren_urgent or (hard and points >= _FIFTEEN_MINUTE_IMPORTANCE):
        window = "15m"
    elif hard:
        window = "1h"
    elif soft:
        window = "4h"

    return Extraction(
        topic=topic,
        headline=headline,
        summary=summary,
        entities=[Entity(kind=kind, text=value) for kind, value in scan.entities],
        is_breaking=window is not None,
        breaking_window=window,
        importance=points / 1000,
        language=language,
    )


def _remove_links(text: str) -> str:
    """`text` with every link replaced by a space (a substring check skips most posts)."""
    lowered = text.lower()
    if "://" in lowered or "www." in lowered or ".me/" in lowered:
        return _URL_RE.sub(" ", text)
    return text


def _empty_extraction() -> Extraction:
    return Extraction(
        topic="other",
        headline="",
        summary="",
        entities=[],
        is_breaking=False,
        breaking_window=None,
        importance=0.0,
        language="und",
    )


@dataclass(slots=True)
class _Lead:
    """The opening of a post: cleaned sentences (headline first), markers, headline end."""

    sentences: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)
    headline_end: int = 0


def _read_lead(body: str) -> _Lead:
    """The first three informative cleaned sentences; markers come off the headline.

    What is informative is `lead_rules`' call: greetings, formulas, decorations and labels
    are passed over, sign-offs left out, and a post opening with a sign-off has no lead.
    """
    lead = _Lead()
    label: tuple[str, int] | None = None  # a one-word label: the headline if nothing else
    for start, end in _sentence_spans(body):
        sentence = _clean_sentence(body[start : min(end, start + _MAX_SENTENCE_CHARS)])
        if sentence and not lead.sentences:
            sentence, markers = _strip_lead_markers(lead_rules.strip_wire_slug(sentence))
            lead.markers.extend(markers)
            sentence = _LEADING_JUNK_RE.sub("", _DATELINE_RE.sub("", sentence, count=1))
            sentence = lead_rules.strip_greeting(sentence)
            if not _CONTENT_RE.search(sentence) or lead_rules.is_decoration(sentence):
                continue
            if lead_rules.is_sign_off(sentence):
                return _Lead()
            # a word and a dot inside a line is an abbreviation cut off ("Jos. A. Bank")
            if lead_rules.is_label(sentence) and (sentence[-1] != "." or "\n" in body[start:end]):
                label = label or (sentence, end)
                continue
            if label is not None and sentence[0].islower():
                # the "label" was the start of a title that goes on: "Двоечницы\nпо физике"
                lead.sentences.append(label[0])
                lead.headline_end = label[1]
                label = None
            else:
                lead.headline_end = end
        elif not sentence or lead_rules.is_decoration(sentence) or lead_rules.is_sign_off(sentence):
            continue
        lead.sentences.append(sentence)
        if len(lead.sentences) == _SUMMARY_SENTENCES:
            break
    if not lead.sentences and label is not None:
        lead.sentences.append(label[0])
        lead.headline_end = label[1]
    return lead


def _strip_lead_markers(sentence: str) -> tuple[str, list[str]]:
    """The sentence without its leading breaking markers, and the markers (lower case)."""
    markers: list[str] = []
    for _ in range(4):
        match = _LEAD_MARKER_RE.match(sentence)
        if match is None:
            break
        word = match.group("upper") or match.group("any")
        markers.append(" ".join(word.lower().split()))
        sentence = sentence[match.end() :]
    return sentence, markers


def _sentence_spans(body: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence: line breaks, or ends followed by a capital or digit."""
    start = 0
    for match in _SENTENCE_END_RE.finditer(body):
        end_text = match.group()
        if "\n" not in end_text and end_text[0] not in "。！？":
            following = body[match.end() : match.end() + 1]
            if not (following.isupper() or following.isdigit() or following in _SENTENCE_OPENERS):
                continue
            if not lead_rules.may_end_sentence(body, start, match.start()):
                continue
            if end_text[0] == ".":
                before = body[max(start, match.start() - 40) : match.start()].rsplit(None, 1)
                word = before[-1] if before else ""
                if (
                    ("." in word and not lead_rules.is_figure(word))
                    or len(word) == 1
                    or word.lower() in ABBREVIATIONS
                ):
                    continue
        yield start, match.end()
        start = match.end()
    if start < len(body):
        yield start, len(body)


def _clean_sentence(sentence: str) -> str:
    """One line without links, edge hashtags and mentions, or edge punctuation; '' if empty."""
    words = _remove_links(sentence).split()
    while words and (_TAG_WORD_RE.fullmatch(words[-1]) or _is_footer(words[-1])):
        words.pop()
    first = 0
    while first < len(words) and _TAG_WORD_RE.fullmatch(words[first]):
        first += 1
    text = " ".join(
        word[1:] if word[0] == "#" and word[1:2].isalnum() else word for word in words[first:]
    )
    text = _LEADING_JUNK_RE.sub("", text).rstrip(_TRAILING_JUNK)
    return text if _CONTENT_RE.search(text) else ""


def _is_footer(word: str) -> bool:
    """A trailing "Подробнее" / "Source:" whose link has been removed."""
    bare = word.rstrip(":→>»-–—.").lower()
    return bare in FOOTER_WORDS or (word.endswith(":") and bare in FOOTER_LABELS)


def _trim(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters, ending in '…'; not
    inside parentheses when what comes before them is at least half the limit."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    cut = lead_rules.before_open_parenthesis(cut, limit // 2)
    return cut.rstrip(" ,;:|/-–—") + "…"


@dataclass(slots=True)
class _Scan:
    topics: TopicEvidence
    entities: list[tuple[EntityKind, str]]
    central_banks: int = 0
    institutions: int = 0
    figures: int = 0
    countries: int = 0


_SKIP_BACK = frozenset(" \t\u00a0\"'«»“”„‘’([—–-*•·")
_SENTENCE_BREAKS = frozenset(".!?…\n:|。！？")


def _is_sentence_start(body: str, position: int) -> bool:
    index = position - 1
    while index >= 0 and body[index] in _SKIP_BACK:
        index -= 1
    return index < 0 or body[index] in _SENTENCE_BREAKS


def _is_name_word(token: str, key: str) -> bool:
    return (
        len(token) >= 2
        and token[0].isupper()
        and not token.isupper()
        and token.replace("'", "").isalpha()
        and key not in NAME_STOPWORDS
    )


def _scan(body: str, lead_end: int, *, find_names: bool) -> _Scan:
    """Topic scores and entities (in order of first appearance) from one pass over tokens.

    `find_names` turns on the Capitalised-run heuristic for people and organisations,
    which only holds in languages that do not capitalise common nouns.
    """
    lexicon = _LEXICON
    word_cache = _WORD_CACHE
    normalised = body  # same length after translate: offsets stay valid in `body`
    if _NEEDS_KEY_TABLE_RE.search(body):
        normalised = body.translate(_KEY_TABLE)
    spans = [match.span() for match in _TOKEN_RE.finditer(normalised)]
    tokens = [normalised[start:end] for start, end in spans]
    lowered = [
        (_key_of_normalised(token) if "." in token or "'" in token else token).lower()
        for token in tokens
    ]
    breakers = [False] * len(tokens) if find_names else None
    topics = TopicEvidence(lead_end)
    found: list[tuple[int, EntityKind, str]] = []

    count = len(tokens)
    index = 0
    while index < count:
        key = lowered[index]
        term: _Term | None = None
        size = 1
        if key in lexicon.phrase_heads:
            term, size = _match_phrase(normalised, spans, lowered, index)
        if term is None:
            term = word_cache.get(key, _UNSEEN)
            if term is _UNSEEN:
                term = _lookup_word(key)
                if len(word_cache) >= _WORD_CACHE_SIZE:
                    word_cache.clear()
                word_cache[key] = term
            if term is None and key in lexicon.cased_lower:
                term = lexicon.cased.get(_key_of_normalised(tokens[index]))
        if term is not None:
            start = spans[index][0]
            topics.add(id(term), term.topics, start)  # one cue per lexicon entry
            is_entity = term.entity_kind is not None and (
                tokens[index][0].isupper() or not term.needs_capital
            )
            if is_entity and term.entity_kind is not None:
                topics.add(term.entity_text, term.entity_topics, start)
                text = term.entity_text
                last_end = spans[index + size - 1][1]
                if text == "OPEC" and normalised[last_end : last_end + 1] == "+":
                    text = "OPEC+"
                found.append((start, term.entity_kind, text))
            if breakers is not None and (is_entity or term.is_place or size > 1):
                for covered in range(index, index + size):
                    breakers[covered] = True
        index += size

    if breakers is not None:
        found.extend(_name_runs(body, spans, tokens, lowered, breakers))
    for match in _CASHTAG_RE.finditer(body) if "$" in body else ():
        ticker = match.group(1).upper()
        found.append((match.start(), "ticker", ticker))
        topic_index = _TOPIC_INDEX["crypto" if ticker in CRYPTO_TICKERS else "markets"]
        topics.add(ticker, ((topic_index, _CASHTAG_WEIGHT),), match.start())
    if _DIGIT_RE.search(body):
        for match in _FIGURE_RE.finditer(body):
            if match.group("cur") or match.group("scale") or match.group("unit"):
                figure = " ".join(match.group().split())
                if len(figure) <= _MAX_FIGURE_CHARS:
                    found.append((match.start(), "figure", figure))
            elif match.group("per"):
                found.append((match.start(), "figure", match.group()))

    return _collect(topics, found)


def _lookup_word(key: str) -> _Term | None:
    """The lexicon term for one lower-case token: an exact word, else its longest stem."""
    term = _LEXICON.words.get(key)
    if term is None:
        for stem, candidate in _LEXICON.stems_by_prefix.get(key[:_STEM_PREFIX], ()):
            if key.startswith(stem):
                return candidate
    return term


def _match_phrase(
    normalised: str, spans: list[tuple[int, int]], lowered: list[str], index: int
) -> tuple[_Term | None, int]:
    """The longest lexicon phrase starting at token `index` on one line, and its length."""
    for size in range(min(_MAX_PHRASE_TOKENS, len(lowered) - index), 1, -1):
        if "\n" in normalised[spans[index][0] : spans[index + size - 1][0]]:
            continue
        term = _LEXICON.phrases.get(" ".join(lowered[index : index + size]))
        if term is not None:
            return term, size
    return None, 1


def _name_runs(
    body: str,
    spans: list[tuple[int, int]],
    tokens: list[str],
    lowered: list[str],
    breakers: list[bool],
) -> list[tuple[int, EntityKind, str]]:
    """People and organisations: runs of 2-5 Capitalised words, conservatively.

    A run is broken by anything else: a lower-case word, punctuation other than a space or
    hyphen, a sentence start, a title or function word, a known entity or place. A run's
    first word is dropped when it starts a sentence, unless it is a common given name. Runs
    inside Title Case sentences are ignored: there, capitals say nothing.
    """
    runs: list[list[int]] = []
    run: list[int] = []
    for index, token in enumerate(tokens):
        if not token[0].isupper() or breakers[index] or not _is_name_word(token, lowered[index]):
            continue
        if run and run[-1] == index - 1 and _joins(body[spans[run[-1]][1] : spans[index][0]]):
            run.append(index)
            continue
        if len(run) >= 2:
            runs.append(run)
        run = [index]
    if len(run) >= 2:
        runs.append(run)
    if not runs:
        return []

    starts = [_is_sentence_start(body, start) for start, _ in spans]
    title_case = _title_case_flags(tokens, starts)
    names: list[tuple[int, EntityKind, str]] = []
    for candidate in runs:
        # a sentence start inside a run splits it; its first word needs to be a given name
        pieces: list[list[int]] = [[]]
        for index in candidate:
            if starts[index] and pieces[-1]:
                pieces.append([])
            pieces[-1].append(index)
        for piece in pieces:
            if starts[piece[0]] and lowered[piece[0]] not in GIVEN_NAMES:
                piece = piece[1:]
            if not 2 <= len(piece) <= 5 or title_case[piece[0]]:
                continue
            kind = _name_kind([lowered[index] for index in piece])
            if kind is None:
                continue
            start, end = spans[piece[0]][0], spans[piece[-1]][1]
            text = body[start:end]
            if text[-2:] in ("'s", "’s"):
                text = text[:-2]
            names.append((start, kind, text))
    return names


def _title_case_flags(tokens: list[str], starts: list[bool]) -> list[bool]:
    """Per token: does it sit in a sentence of four or more words, mostly Capitalised?"""
    flags = [False] * len(tokens)
    first = 0
    for boundary in [*(i for i in range(1, len(tokens)) if starts[i]), len(tokens)]:
        words = [token for token in tokens[first:boundary] if token[0].isalpha()]
        capitals = sum(1 for word in words if word[0].isupper())
        if len(words) >= 4 and capitals * 10 >= len(words) * 6:
            flags[first:boundary] = [True] * (boundary - first)
        first = boundary
    return flags


def _joins(gap: str) -> bool:
    """True when two capitalised words separated by `gap` can belong to one name."""
    return gap == " " or gap == "-" or (gap != "" and gap.strip(" \t\u00a0") == "")


def _name_kind(words: list[str]) -> EntityKind | None:
    """organisation if a word says so, person for two or three words, else nothing."""
    if any(word in ORG_WORDS for word in words):
        return "organisation"
    if len(words) <= 3:
        return "person"
    return None


def _collect(topics: TopicEvidence, found: list[tuple[int, EntityKind, str]]) -> _Scan:
    found.sort(key=lambda item: item[0])
    seen: set[tuple[EntityKind, str]] = set()
    scan = _Scan(topics=topics, entities=[])
    for _, kind, text in found:
        text = text[:ENTITY_TEXT_MAX_CHARS]
        if (kind, text) in seen or not text:
            continue
        seen.add((kind, text))
        if len(scan.entities) < ENTITIES_MAX:
            scan.entities.append((kind, text))
        if kind == "central_bank":
            scan.central_banks += 1
        elif kind == "institution":
            scan.institutions += 1
        elif kind == "figure":
            scan.figures += 1
        elif kind == "country":
            scan.countries += 1
    return scan


def _importance_points(
    scan: _Scan, topic: Topic, length: int, *, flash: bool, hard: bool, soft: bool
) -> int:
    """Importance in thousandths; the table is in the module docstring."""
    points = 450 if flash else 350 if hard else 150 if soft else 0
    points += 150 if scan.central_banks else 0
    points += min(scan.institutions * 50, 100)
    points += min(scan.figures * 50, 150)
    points += min(scan.countries * 40, 120)
    points += TOPIC_POINTS[topic]
    points += 100 if length >= 400 else 50 if length >= 100 else 0
    return min(points, 1000)


def _detect_language(body: str) -> str:
    """ISO 639-1 code from the dominant script (and Latin stopwords), or 'und'."""
    sample = body[:_LANGUAGE_SAMPLE_CHARS]
    counts: dict[str, int] = {}
    if _OTHER_SCRIPT_RE.search(sample) is None:  # the common case: Latin and Cyrillic only
        counts["latin"] = sum(map(len, _LATIN_RUN_RE.findall(sample)))
        counts["cyrillic"] = sum(map(len, _CYRILLIC_RUN_RE.findall(sample)))
    else:
        for match in _SCRIPT_RE.finditer(sample):
            script = match.lastgroup or ""
            counts[script] = counts.get(script, 0) + match.end() - match.start()
    script = max(counts, key=lambda name: (counts[name], name))
    if counts[script] < 2:
        return "und"
    if script == "cyrillic":
        ukrainian = len(_UKRAINIAN_LETTERS_RE.findall(sample))
        russian = len(_RUSSIAN_LETTERS_RE.findall(sample))
        return "uk" if ukrainian > russian else "ru"
    if script in ("han", "kana"):
        return "ja" if counts.get("kana", 0) else "zh"
    if script == "latin":
        return _latin_language(sample)
    return {"hangul": "ko", "arabic": "ar", "hebrew": "he", "greek": "el"}[script]


def _latin_language(sample: str) -> str:
    votes = {"en": 0, "de": 0, "fr": 0, "es": 0}
    for word in _LATIN_WORD_RE.findall(sample.lower()):
        language = LATIN_STOPWORDS.get(word)
        if language is not None:
            votes[language] += 1
    best = max(("de", "fr", "es"), key=lambda language: (votes[language], language))
    if votes[best] >= 2 and votes[best] > votes["en"]:
        return best
    return "en"
