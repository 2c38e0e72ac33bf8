"""Whether a post's lead markers make it breaking: a marker counts only beside news.

A breaking marker (a word read off the headline's start, or 🚨 ⚡ 🔴 on the first line)
flags a post only when its headline carries news content: a figure or a named entity (the
extractor's entities, read from the headline alone), or a word of an event ("killed",
"resigns", "обстрел", "вибух"). Cues of an advert or an invitation anywhere in the lead
("opportunity", "webinar", "розыгрыш"), or of the channel talking to its readers in the
headline ("subscribe", "stay tuned", "подписывайтесь"), veto it whatever the marker.
Precision comes first: a false alert costs more than a late one, and a post that is not
flagged still reaches the digest. Capitals alone are never a marker, nor is a wire slug
("UPDATE 1-", stripped off the headline before markers are read).

Pure functions of their arguments; the word lists are in `lead_lexicon`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from civicquant.extract.rules.lead import phrase_pattern
from civicquant.extract.rules.lead_lexicon import ADVERT_CUES, CHATTER_CUES, EVENT_WORDS
from civicquant.extract.rules.lexicon import FLASH_WORDS, SIREN, SOFT_WORDS, URGENT_WORDS

__all__ = ["Urgency", "is_advert_or_chatter", "is_news", "urgency"]

# Searched in lower-cased text (the lists are lower case).
_EVENT_RE = re.compile(phrase_pattern(EVENT_WORDS))
_ADVERT_RE = re.compile(phrase_pattern(ADVERT_CUES))
_CHATTER_RE = re.compile(phrase_pattern(CHATTER_CUES))


@dataclass(frozen=True, slots=True)
class Urgency:
    """What a post's markers say once news content is checked; all False when not breaking."""

    flash: bool = False  # FLASH / МОЛНИЯ / БЛИСКАВКА
    hard: bool = False  # any marker word but a soft one, or a marker emoji
    soft: bool = False  # any marker word (DEVELOPING and UPDATE alone are only soft)
    siren_urgent: bool = False  # 🚨 with URGENT / СРОЧНО / ТЕРМІНОВО


_NOT_BREAKING = Urgency()


# A number with decimals is a reading even without a unit ("composite 48.9 vs 49.6
# expected"): the demo's flash PMI post has no other figure in its headline.
_DECIMAL_RE = re.compile(r"(?<![\w.,])\d+[.,]\d+(?![\w.,]*\d)")


def is_news(headline: str, headline_entities: int) -> bool:
    """True when the headline holds a figure or entity, a decimal reading, or a word of an
    event."""
    return (
        headline_entities > 0
        or _EVENT_RE.search(headline.lower()) is not None
        or _DECIMAL_RE.search(headline) is not None
    )


def is_advert_or_chatter(headline: str, lead: str) -> bool:
    """True for an advert or invitation in the lead, or channel chatter in the headline."""
    return (
        _ADVERT_RE.search(lead.lower()) is not None
        or _CHATTER_RE.search(headline.lower()) is not None
    )


def urgency(
    markers: Sequence[str],
    emoji_markers: Sequence[str],
    headline: str,
    lead: str,
    headline_entities: int,
) -> Urgency:
    """The urgency of a post from its lead markers, its headline and its lead's text.

    `markers` are the marker words read off the headline (lower case), `emoji_markers` the
    marker emoji of the first line, `headline_entities` how many entities and figures the
    extractor finds in the headline alone, `lead` the headline and summary sentences.
    """
    if not markers and not emoji_markers:
        return _NOT_BREAKING
    if not is_news(headline, headline_entities) or is_advert_or_chatter(headline, lead):
        return _NOT_BREAKING
    return Urgency(
        flash=any(word in FLASH_WORDS for word in markers),
        hard=bool(emoji_markers) or any(word not in SOFT_WORDS for word in markers),
        soft=bool(markers),
        siren_urgent=SIREN in emoji_markers and any(word in URGENT_WORDS for word in markers),
    )
