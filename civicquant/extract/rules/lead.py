"""Which sentence of a post is its headline: the first informative one.

`civicquant.extract.rules.extractor` cuts a post into cleaned sentences and asks this module
what each one is worth. A sentence is passed over when it is only a greeting, a salutation
or a religious formula (one at the start is dropped, with the words of address after it:
"Hello everyone, ..."), a decoration line (box-drawing runs, styled letters, fewer letters
than other marks), a one-word label above the news, or a line without a word. A sign-off
("That's the morning desk signing off.") is never a headline or part of a summary, and a
post that opens with one gets no headline. Wire slugs ("UPDATE 1-", "REFILE-") come off
the headline. A sentence never ends inside parentheses on its line, nor after a short
abbreviation followed by a figure ("(exp. 3.0%, prior 3.1%)").

Pure functions of their arguments; the word lists are in `lead_lexicon`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from civicquant.extract.rules.lead_lexicon import (
    FIGURE_ABBREVIATIONS,
    GREETINGS,
    NAME_ABBREVIATIONS,
    NUMBERED_WIRE_SLUGS,
    RELIGIOUS_FORMULAS,
    SIGN_OFFS,
    VOCATIVES,
    WIRE_SLUGS,
)

__all__ = [
    "before_open_parenthesis",
    "is_decoration",
    "is_figure",
    "is_label",
    "is_sign_off",
    "may_end_sentence",
    "phrase_pattern",
    "strip_greeting",
    "strip_wire_slug",
]


def phrase_pattern(phrases: Iterable[str]) -> str:
    """One regex matching any of `phrases` as whole words, the longest where several do.

    Words of a phrase may be separated by any run of non-word characters ("In the name of
    Allah, the Most Gracious"); a trailing `*` makes the last word a stem. The phrases are
    merged into a trie of characters, so a search tries one branch per position instead of
    every phrase (the sign-off list scanned as a plain alternation halved the extractor's
    speed).
    """
    trie: dict[str, Any] = {}
    for phrase in phrases:
        node = trie
        for char in " ".join(phrase.split()):
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_pattern(trie, "")


def _trie_pattern(node: dict[str, Any], previous: str) -> str:
    """The regex of a trie node: its branches, longest first, then its end if it has one."""
    branches: list[str] = []
    for char in sorted(key for key in node if key):
        if char == " ":
            piece = r"[\W_]+"
        elif char == "*":
            piece = r"\w*"
        else:
            piece = re.escape(char)
        if not previous and re.match(r"\w", char):
            # a phrase starts at the start of a word; asserted after its first character,
            # so that `re` can skip ahead to the characters that may start a phrase
            piece += r"(?<!\w.)"
        branches.append(piece + _trie_pattern(node[char], char))
    if "" in node:
        # a phrase ends at the end of a word (a stem's `\w*` already took the rest)
        branches.append(r"(?!\w)" if re.match(r"\w", previous) else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


# Arabic short vowels and other marks, which the formulas are written with or without.
_ARABIC_MARKS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_GREETING_RE = re.compile(
    rf"(?:{phrase_pattern((*GREETINGS, *RELIGIOUS_FORMULAS))})"
    rf"(?:[\W_]*(?:{phrase_pattern(VOCATIVES)}))*"
    # a greeting is one only when punctuation or the end follows ("Morning brief:" and
    # "Hi-tech" are not)
    r"(?:\s*[,!.:;…–—)]|\s+-\s|\s*$)[\s,!.:;…\-–—)]*",
    re.IGNORECASE,
)
# Searched in lower-cased text: four times faster than a case-blind search.
_SIGN_OFF_RE = re.compile(rf"(?:{phrase_pattern(SIGN_OFFS)})\s*(?:[,!.:;…)\-–—]|$)")
_WIRE_SLUG_RE = re.compile(
    rf"^(?:(?:{'|'.join(WIRE_SLUGS)})-)*"
    rf"(?:(?:{'|'.join(NUMBERED_WIRE_SLUGS)})\s?\d{{1,2}}\s?[-–—]\s?|(?<=-))"
)

# Marks: what is neither a letter or digit of a word nor a space. Modifier letters (ˋ ˏ)
# and styled mathematical letters (𝐈𝐍𝐃𝐄𝐗) are `\w` to `re` but are what decoration lines
# are made of. Counting marks, few in a plain sentence, is faster than counting letters.
_MARK_RE = re.compile(r"[^\w ]|[_\u02b0-\u02ff\U0001d400-\U0001d7ff]")
# A word: two letters in a row, or one letter of a script written without spaces.
_WORD_RE = re.compile(
    r"[^\W\d_\u02b0-\u02ff\U0001d400-\U0001d7ff]{2}"
    "|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
)
# A one-word label above the news ("Markets", "INDEX"): letters of an alphabet written with
# spaces, nothing else.
_LABEL_RE = re.compile(r"[A-Za-z\u00c0-\u024f\u0400-\u04ff'’\-]{1,24}[:.!]?")
_FIGURE_AFTER_RE = re.compile(r"[+\-−±]?[$€£¥₽₴]?\d")
_FIGURE_WORD_RE = re.compile(r"[(\[]?[+\-−±]?[$€£¥₽₴]?\d[\d.,]*(?:%|bn|m|k|bp|bps)?[)\]]?")


def strip_wire_slug(sentence: str) -> str:
    """The sentence without a wire service's slug ("UPDATE 1-", "REFILE-") at its start."""
    match = _WIRE_SLUG_RE.match(sentence)
    return sentence[match.end() :] if match and match.end() else sentence


def strip_greeting(sentence: str) -> str:
    """The sentence without the greetings or formulas it opens with ('' if nothing else)."""
    text = sentence
    if _ARABIC_MARKS_RE.search(text):
        text = _ARABIC_MARKS_RE.sub("", text)
    stripped = False
    for _ in range(3):
        match = _GREETING_RE.match(text)
        if match is None or not match.end():
            break
        text, stripped = text[match.end() :], True
    if not stripped:
        return sentence
    if text[:1].islower():
        text = text[0].upper() + text[1:]
    return text


def is_sign_off(sentence: str) -> bool:
    """True when the sentence holds a sign-off ("That's the morning desk signing off.")."""
    return _SIGN_OFF_RE.search(sentence.lower()) is not None


def is_decoration(sentence: str) -> bool:
    """True for a line without a word, or one made mostly of marks or styled letters."""
    if _WORD_RE.search(sentence) is None:
        return True
    # Cleaned sentences hold single spaces only. Fewer letters than marks: chosen on the
    # decoration lines of the English/Arabic channel ("ˋˏ ༻━━━━━ 𝐈𝐍𝐃𝐄𝐗 ━━━━━༺ ˎˊ": 0 letters,
    # 21 marks) against the demo's figure lines ("$COIN -5.6%, $MSTR -7.9%": 12 letters, 9).
    marks = len(_MARK_RE.findall(sentence))
    letters = len(sentence) - sentence.count(" ") - marks
    return letters < marks


def is_label(sentence: str) -> bool:
    """True for a single word of an alphabet written with spaces ("Markets", "INDEX:")."""
    return _LABEL_RE.fullmatch(sentence) is not None


def is_figure(word: str) -> bool:
    """True for a word that is a number with its sign, currency or unit ("3.1%)", "$2.5bn")."""
    return _FIGURE_WORD_RE.fullmatch(word) is not None


def before_open_parenthesis(cut: str, minimum: int) -> str:
    """`cut` ending before its last parenthesis left open, if `minimum` characters remain."""
    if cut.count("(") > cut.count(")"):
        opening = cut.rfind("(")
        if opening >= minimum:
            return cut[:opening]
    return cut


def may_end_sentence(body: str, start: int, end: int) -> bool:
    """False when the sentence end at `body[end]` lies inside parentheses closed later on
    its line, follows a title or place abbreviation ("Mt."), or a short abbreviation
    before a figure ("exp. 3.0%", "Ch. 11")."""
    before = body[start:end]
    if before.count("(") > before.count(")"):
        line_end = body.find("\n", end)
        if body.find(")", end, len(body) if line_end < 0 else line_end) >= 0:
            return False
    if body[end : end + 1] == ".":
        words = before.rsplit(None, 1)
        word = words[-1].lstrip('([«"“').lower() if words else ""
        if word in NAME_ABBREVIATIONS:
            return False
        following = body[end:].lstrip(".").lstrip()
        if word in FIGURE_ABBREVIATIONS and _FIGURE_AFTER_RE.match(following):
            return False
    return True
