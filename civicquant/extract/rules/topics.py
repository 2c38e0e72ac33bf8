"""A post's topic from the lexicon cues found in its lead, with a minimum of evidence.

The scan (`extractor._scan`) reports every lexicon hit to a `TopicEvidence`: which cue (one
lexicon entry, or one cashtag), its topic weights and where it starts. `pick_topic` then
decides, reading only the lead (the headline and the text up to `LEAD_CHARS` after it: the
lead decides, not the whole body; a long article's later paragraphs wander):

- A cue of weight 1 for a topic is *generic* for it ("deal", "court", "market", "killed",
  "index", "law", a country-free "president"); weight 2 or more is *specific* ("earnings",
  "parliament", "football", "wildfire"). Generic cues count for a topic only beside one of
  its specific cues: "deal" alone is nothing, "deal" beside "acquisition" is companies.
- A cue inside the headline counts double.
- A topic qualifies with at least `MIN_CUES` distinct cues, `MIN_SPECIFIC` of them
  specific, and a score (sum of counted weights) of at least `MIN_SCORE`. The highest
  score among qualifying topics wins; ties go to the earlier topic in `TOPIC_PRIORITY`.
- No qualifying topic: `other`. So is any post in a language without a lexicon (Chinese,
  Arabic, Japanese, Korean, Hebrew, Greek, ...), unless it carries cues the lexicons know
  in Latin or Cyrillic letters (a cashtag, "Bitcoin", "NATO"): the rules do not guess a
  topic from text they cannot read.

The thresholds were chosen on `bench/topics.py` (its rows in `make bench-quality`), tuned
on the first half of each file and checked on the second half; see each constant.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from civicquant.extract.rules.lexicon import TOPIC_PRIORITY
from civicquant.extraction import TOPICS, Topic

__all__ = ["LEAD_CHARS", "MIN_CUES", "MIN_SCORE", "MIN_SPECIFIC", "TopicEvidence", "pick_topic"]

# How much text after the headline the lead holds. bench/topics.py, AG News whole text and
# tgcontest whole text: 300 and 400 score alike; whole-body scoring is 5-20 points worse (a
# long article drifts into other subjects), 150 loses cues a short lead still needs.
LEAD_CHARS = 400
# Two distinct cues, one specific, a score of 4 (two specific cues outside the headline, or
# one specific cue in it): on the first halves of AG News and tgcontest en/ru, a minimum
# score of 3 gave out-of-scope news a finance/politics topic 2-3 points more often for
# under a point of accuracy; 5 cost 2-4 points of accuracy (short posts with one strong
# headline cue became `other`). One cue alone (MIN_CUES = 1) lets a single word decide:
# that is how old main gave sport "companies" for "deal".
MIN_CUES = 2
MIN_SPECIFIC = 1
MIN_SCORE = 4
# Weights of 2 and more are specific; 1 is generic (the lexicons' own convention).
SPECIFIC_WEIGHT = 2
STRONG_WEIGHT = 2
HEADLINE_FACTOR = 2

_TOPIC_RANK = {TOPICS.index(topic): rank for rank, topic in enumerate(TOPIC_PRIORITY)}
_OTHER = TOPICS.index("other")


class TopicEvidence:
    """The cues of one post's lead, by topic: filled by the scan, read by `pick_topic`."""

    __slots__ = ("_headline_end", "_hits", "_lead_end")

    def __init__(self, headline_end: int) -> None:
        self._headline_end = headline_end
        self._lead_end = headline_end + LEAD_CHARS
        self._hits: list[tuple[Hashable, Sequence[tuple[int, int]], bool]] = []

    def add(self, cue: Hashable, weights: Sequence[tuple[int, int]], start: int) -> None:
        """Record one hit of `cue` (any hashable naming the lexicon entry) at `start`."""
        if weights and start < self._lead_end:
            self._hits.append((cue, weights, start < self._headline_end))

    def scores(self) -> list[int]:
        """Each topic's counted score: zero for a topic short of evidence."""
        specific: list[set[Hashable]] = [set() for _ in TOPICS]
        generic: list[set[Hashable]] = [set() for _ in TOPICS]
        strong_headline = [False] * len(TOPICS)
        specific_points = [0] * len(TOPICS)
        generic_points = [0] * len(TOPICS)
        for cue, weights, in_headline in self._hits:
            factor = HEADLINE_FACTOR if in_headline else 1
            for topic, weight in weights:
                if weight >= SPECIFIC_WEIGHT:
                    specific[topic].add(cue)
                    if in_headline and weight >= STRONG_WEIGHT:
                        strong_headline[topic] = True
                    specific_points[topic] += weight * factor
                else:
                    generic[topic].add(cue)
                    generic_points[topic] += weight * factor
        scores = [0] * len(TOPICS)
        for topic in range(len(TOPICS)):
            if not specific[topic]:
                continue
            cues = len(specific[topic]) + len(generic[topic] - specific[topic])
            score = specific_points[topic] + generic_points[topic]
            if (cues >= MIN_CUES and score >= MIN_SCORE) or strong_headline[topic]:
                scores[topic] = score
        return scores


def pick_topic(evidence: TopicEvidence) -> Topic:
    """The best-evidenced topic of the lead, or `other` when none has enough."""
    scores = evidence.scores()
    best = max(range(len(scores)), key=lambda i: (scores[i], -_TOPIC_RANK[i]))
    return TOPICS[best] if scores[best] > 0 else TOPICS[_OTHER]
