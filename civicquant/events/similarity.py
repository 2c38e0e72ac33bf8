"""Whether two posts tell the same story: normalised-text fingerprints and MinHash signatures.

An extraction joins an event of its time window or starts a new one. Two signals decide, both
computed from the *normalised* text: NFKC, casefold, without links, @mentions, #hashtags,
emoji, symbols, punctuation, leading breaking markers (BREAKING, JUST IN, СРОЧНО, ТЕРМІНОВО,
快讯, 🚨 ...) and closing "via @channel" / "Source: ..." / "Subscribe" trailers; numbers keep
their decimal point ("5,25%" and "5.25%" are both "5.25"), "ё" reads as "е", "U.S." as "us".

1. `fingerprint`: SHA-256 hex of the normalised text. Reposts and forwards that differ only in
   decoration are equal, so an indexed equality lookup catches them. A post with nothing
   left after normalising (only a link or emoji) never matches anything.
2. `minhash`: a signature of the text's 3-token shingles, estimating the Jaccard similarity
   of posts whose text differs a little (a sentence added, a word changed). Chinese and
   Japanese characters are one token each, so those texts shingle on characters.

Why these parameters (measured on the table in tests/unit/test_similarity.py):

- k = 3 tokens. With unigrams or bigrams two different stories on one topic look alike
  ("Fed holds rates" / "Fed cuts rates"); with 3-shingles each changed word or number breaks
  up to three shingles, so the same template with other numbers ("Brent rose 2% to $85.10"
  / "Brent fell 5% to $80.20") scores 0.24, while a wire story with a sentence added or a
  word dropped keeps 0.77-0.79. Larger k punishes small edits too hard in short posts. Texts
  shorter than k tokens fall back to unigrams.
- num_perm = 64. The standard error of the estimate is sqrt(J(1 - J) / 64), 0.0625 at
  J = 0.5, which keeps both table bands (different stories <= 0.30, edited copies >= 0.77)
  more than two standard errors from the threshold. 128 slots would halve the variance at
  twice the hashing time and column size. Each slot is its own hash function, mix64(a*x+b)
  with constants drawn from SHAKE-128 over a fixed seed (see `minhash`), so every slot is a
  signed 64-bit integer (PostgreSQL bigint) and a signature is the same in every process,
  run and platform.
- threshold = 0.5, in the middle of the gap. The price: in a post of about ten words, one
  word changed in the middle drops Jaccard to about 0.45, so such short edits stay apart.

Known non-matches, kept rather than lowering the threshold until different stories merge:
a rewording that shares few word runs ("Fed holds rates at 5.25%-5.5%" / "Federal Reserve
keeps rates unchanged at 5.25-5.5%", Jaccard 0.11); a headline-only repost of a long story
(containment, not Jaccard, would catch it); the same story in Russian and in Ukrainian (the
measure is lexical). They need a semantic signal, not this module.

`same_story` compares two texts with the exact Jaccard. civicquant.events.merge matches a post
against the stored signatures of recent events with the MinHash estimate, finding the
candidates through LSH bands of the signature.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from operator import eq
from typing import Any

import numpy as np

SIMILARITY_VERSION = "2"
"""Bump when normalise, shingles or minhash change: stored fingerprints and signatures change."""

SHINGLE_K = 3
NUM_PERM = 64
SAME_STORY_THRESHOLD = 0.5

_EMPTY_SLOT = (1 << 63) - 1
_UINT64 = (1 << 64) - 1
"""Every slot of an empty set's signature; a real set reaches it with probability ~2^-64."""

_VIA_MENTION_RE = re.compile(
    r"\bvia\s*(?:@\w+|(?:https?://)?(?:t|telegram)\.me/\S*)", re.IGNORECASE
)
_URL_RE = re.compile(
    r"(?:https?://|tg://|www\.|\b(?:t|telegram)\.me/"
    r"|\b(?:[\w-]+\.)+(?:com|org|net|io|ru|ua|by|kz|info|news|co|uk|de|fr|me|ly|gl|cc|tv)/)\S*",
    re.IGNORECASE,
)
_MENTION_RE = re.compile(r"(?<![\w@])@\w+")
# \w leaves out combining marks, which Indic, Thai and Arabic words carry
_WORD_CHARS = (
    r"\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
    r"\u06d6-\u06ed\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f"
)
_HASHTAG_RE = re.compile(rf"(?<![\w#&])#[{_WORD_CHARS}]+")
_KEYCAP_RE = re.compile("[0-9#*]\ufe0f?\u20e3")
_TRAILER_RE = re.compile(
    # "Source: Reuters" to the end, on the last line
    r"\b(?:sources?|src|источники?|джерел[оа])\s*[:：][^\n]{0,120}\Z"
    # a last line that is only "Source", its @channel or link gone
    r"|\n[^\w\n]*(?:sources?|src|источники?|джерел[оа])\Z"
    # a last line (not the only one) that is a channel plug
    r"|\n[^\w\n]*(?:via|subscribe|read\s+more|подписаться|подписывайтесь|подпишись|подробнее"
    r"|читать\s+далее|підписатися|підписуйтесь|підпишись|детальніше|читати\s+далі)"
    r"\b[^\n]{0,120}\Z"
    # "... | via Reuters", "(via Bloomberg)"
    r"|[|—–(\[]\s*via\s[^\n]{0,80}\Z"
    # "via" left dangling once its @channel or link went
    r"|\bvia\Z",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[^\W_]")
_MARKER_WORDS = (
    r"BREAKING(?:\s+NEWS)?|JUST\s+IN|FLASH|URGENT|ALERT|DEVELOPING"
    r"|СРОЧНО|ЭКСТРЕННО|МОЛНИЯ|ВНИМАНИЕ|ТЕРМІНОВО|БЛИСКАВКА|УВАГА"
    r"|快讯|快訊|突发|突發|速报|速報"
)
_MARKER_RE = re.compile(
    rf"^[^\w\n]*(?:(?:{_MARKER_WORDS})(?![^\W\d_])"
    rf"|(?i:{_MARKER_WORDS})(?=[^\S\n]*(?:[:!|\-–—.]|$)))[^\w\n]*",
    re.MULTILINE,
)
_STRAY_SEPARATOR_RE = re.compile(r"(?<!\d)[.,]|[.,](?!\d)")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_ACRONYM_RE = re.compile(r"\b(?:[^\W\d_]\.){2,}")
_DECIMAL_COMMA_RE = re.compile(r"(?<=\d),(?=\d)")
# Chinese and Japanese characters (kana and CJK ideographs): scripts written without spaces.
CJK_CHARACTERS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
CJK_CHARACTERS_RE = re.compile(f"[{CJK_CHARACTERS}]")
_TOKEN_RE = re.compile(f"[{CJK_CHARACTERS}]|[^\\s{CJK_CHARACTERS}]+")


class _KeptCharacters(dict[int, str]):
    """A str.translate table built on demand: letters, digits and marks stay, the rest is a space.

    '.' and ',' stay so numbers keep their decimal point; a later pass drops the ones that
    are not between digits. 'ё' folds to 'е', which Russian channels use interchangeably.
    """

    def __missing__(self, codepoint: int) -> str:
        char = chr(codepoint)
        category = unicodedata.category(char)
        variation_selector = 0xFE00 <= codepoint <= 0xFE0F or 0xE0100 <= codepoint <= 0xE01EF
        kept = category[0] in "LN" or (category[0] == "M" and not variation_selector)
        value = char if kept else " "
        self[codepoint] = value
        return value


_KEPT = _KeptCharacters({ord("."): ".", ord(","): ",", ord("ё"): "е", ord("_"): " "})


def normalise(text: str) -> str:
    """The text reduced to its story: casefolded words and numbers separated by single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _VIA_MENTION_RE.sub(" ", text)
    if "/" in text or "www." in text.lower():
        text = _URL_RE.sub(" ", text)
    if "@" in text:
        text = _MENTION_RE.sub(" ", text)
    if "#" in text:
        text = _HASHTAG_RE.sub(" ", text)
    text = _KEYCAP_RE.sub(" ", text)
    text = _strip_trailers(text)
    if "." in text:  # "U.S." and "US" are one word
        text = _ACRONYM_RE.sub(lambda match: match.group().replace(".", ""), text)
    for _ in range(3):  # "🚨 BREAKING: JUST IN:" carries several
        text, stripped = _MARKER_RE.subn(" ", text)
        if not stripped:
            break
    text = text.casefold().translate(_KEPT)
    if "," in text:
        text = _DECIMAL_COMMA_RE.sub(".", _THOUSANDS_RE.sub("", text))
    text = _STRAY_SEPARATOR_RE.sub(" ", text)
    return " ".join(text.split())


def _strip_trailers(text: str) -> str:
    """The text without its closing "Source: ...", "via ..." and "Subscribe ..." lines."""
    for _ in range(4):
        text = _strip_trailing_junk(text)
        match = _TRAILER_RE.search(text)
        if match is None or _WORD_RE.search(text, 0, match.start()) is None:
            break  # a trailer is never the whole post
        text = text[: match.start()]
    return text


def _strip_trailing_junk(text: str) -> str:
    """The text without the spaces, punctuation and emoji at its end."""
    end = len(text)
    while end and _KEPT[ord(text[end - 1])] in " .,":
        end -= 1
    return text[:end]


def fingerprint(text: str) -> str:
    """SHA-256 hex of the normalised text: equal for reposts that differ only in decoration."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


EMPTY_FINGERPRINT = hashlib.sha256(b"").hexdigest()
"""The fingerprint of a text with nothing left after normalising; it never matches."""


def _tokens(normalised: str) -> list[str]:
    """Words of a normalised text; each Chinese or Japanese character is a word of its own."""
    if CJK_CHARACTERS_RE.search(normalised) is None:
        return normalised.split()
    return _TOKEN_RE.findall(normalised)


def shingles(text: str, k: int = SHINGLE_K) -> frozenset[int]:
    """Hashes of the normalised text's k-token shingles (unigrams when it has fewer tokens)."""
    return _shingle_normalised(normalise(text), k)


def _shingle_normalised(normal: str, k: int) -> frozenset[int]:
    """Hashes of the k-token shingles of an already normalised text."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    words = _tokens(normal)
    if len(words) < k:
        grams = words
    else:
        grams = [" ".join(words[start : start + k]) for start in range(len(words) - k + 1)]
    return frozenset(_stable_hash(gram) for gram in grams)


def _stable_hash(gram: str) -> int:
    """A signed 64-bit hash of `gram`, the same in every process (unlike hash())."""
    digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _slot_constants(count: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per slot, an odd multiplier and an offset: 16 bytes of SHAKE-128 over a fixed seed each."""
    stream = hashlib.shake_128(b"civicquant-minhash-v2").digest(16 * count)
    words = np.frombuffer(stream, dtype=">u8").astype(np.uint64).reshape(count, 2)
    return words[:, 0] | np.uint64(1), words[:, 1]


MAX_PERM = 256
"""The most slots a signature may have; a shorter signature is a prefix of a longer one."""
_MULTIPLIERS, _OFFSETS = _slot_constants(MAX_PERM)
# splitmix64's finaliser: mixes the high bits of a*x+b (mod 2^64) into every bit.
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """splitmix64's finaliser over uint64 values, element-wise (arithmetic wraps mod 2^64)."""
    values = values ^ (values >> _S30)
    values = values * _MIX_1
    values = values ^ (values >> _S27)
    values = values * _MIX_2
    mixed: np.ndarray[Any, Any] = values ^ (values >> _S31)
    return mixed


def minhash_array(shingle_hashes: Iterable[int], num_perm: int = NUM_PERM) -> np.ndarray[Any, Any]:
    """The MinHash signature as a numpy int64 array of `num_perm` slots (see `minhash`)."""
    if not 1 <= num_perm <= MAX_PERM:
        bound = f"at least 1, not {num_perm}" if num_perm < 1 else f"at most {MAX_PERM}"
        raise ValueError(f"num_perm must be {bound}")
    values = np.fromiter((value & _UINT64 for value in shingle_hashes), dtype=np.uint64)
    if not values.size:
        return np.full(num_perm, _EMPTY_SLOT, dtype=np.int64)
    values = np.unique(values)
    hashed = mix64(values[:, None] * _MULTIPLIERS[:num_perm] + _OFFSETS[:num_perm])
    signature: np.ndarray[Any, Any] = hashed.min(axis=0).view(np.int64)
    return signature


def minhash(shingle_hashes: Iterable[int], num_perm: int = NUM_PERM) -> tuple[int, ...]:
    """The MinHash signature of a set of shingle hashes: `num_perm` signed 64-bit ints.

    Slot i hashes a shingle x as mix64(a_i * x + b_i) mod 2^64, a_i odd: a bijection of the
    64-bit values followed by a strong mix, so the minimum over a set is as good as a random
    permutation's for the Jaccard estimate (tests/unit/test_similarity.py measures its
    error). All slots of all shingles are one numpy expression: about 20 µs a post, where
    64 SHAKE-128 calls per post took 200. Shingles are taken modulo 2^64.
    """
    return tuple(minhash_array(shingle_hashes, num_perm).tolist())


def estimate_jaccard(sig_a: Sequence[int], sig_b: Sequence[int]) -> float:
    """The share of equal slots: the MinHash estimate of the Jaccard similarity (0.0 if empty)."""
    if len(sig_a) != len(sig_b):
        raise ValueError(f"signatures differ in length: {len(sig_a)} and {len(sig_b)}")
    if not sig_a or sig_a[0] == _EMPTY_SLOT or sig_b[0] == _EMPTY_SLOT:
        return 0.0
    equal_slots: int = sum(map(eq, sig_a, sig_b))
    return equal_slots / len(sig_a)


def jaccard(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty (no content is no story)."""
    if not a and not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def same_story(
    a_text: str, b_text: str, *, threshold: float = SAME_STORY_THRESHOLD, k: int = SHINGLE_K
) -> bool:
    """True when two posts tell the same story: equal normalised text or Jaccard >= threshold."""
    a_normal = normalise(a_text)
    b_normal = normalise(b_text)
    if not a_normal or not b_normal:
        return False
    if a_normal == b_normal:
        return True
    return jaccard(_shingle_normalised(a_normal, k), _shingle_normalised(b_normal, k)) >= threshold


@dataclass(frozen=True, slots=True)
class Sketch:
    """What matching needs to know about one post; `fingerprint` and `signature` get stored."""

    fingerprint: str
    shingles: frozenset[int]
    signature: tuple[int, ...]
    normalised: str = ""  # the text it was made from, for the content terms

    @property
    def empty(self) -> bool:
        """True when nothing was left of the text after normalising."""
        return self.fingerprint == EMPTY_FINGERPRINT


def sketch(text: str, *, k: int = SHINGLE_K, num_perm: int = NUM_PERM) -> Sketch:
    """The fingerprint, shingles and signature of a post, normalising it once."""
    normal = normalise(text)
    shingle_hashes = _shingle_normalised(normal, k)
    return Sketch(
        fingerprint=hashlib.sha256(normal.encode("utf-8")).hexdigest(),
        shingles=shingle_hashes,
        signature=minhash(shingle_hashes, num_perm),
        normalised=normal,
    )
