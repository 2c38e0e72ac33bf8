"""Whether two headlines that look alike tell different stories: the contradiction guard.

Content terms make "Brent rises 2% to $85" and "Brent falls 5% to $80" look alike: they
share Brent, the unit and the template. They are still two events, and so are two different
figures for one quantity ("rates raised to 4.75%" / "rates raised to 5%") and the same
template about two places ("strike on Kharkiv kills 3" / "strike on Odesa kills 1"). The
guard reads the two headlines (a post's, an event's) and says when they cannot be one story:

- opposite directions: one says a thing went up (UP_WORDS), the other down (DOWN_WORDS), and
  neither says both;
- different figures: both carry figures and share fewer than half of the fewer's;
- different names: both carry names (capitalised words inside a sentence) and share none,
  unless their content terms agree strongly anyway (cosine >= NAMES_OVERRIDE: a paraphrase
  that names the place differently, "Kyiv"/"the capital", still shares most of its words).

Measured on uci_stories_dev.csv (bench/RESULTS.md, quality): the directions and figures
cost 0.005 of B-cubed F1 and raise pairwise precision by 0.005; names cost 0.015 more and
raise it by another 0.005. Precision first: a digest that merges two stories hides one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from civicquant.events import lexicon

# A name clash is forgiven above this content-term cosine: on the UCI stream 0.4, 0.5 and
# 0.6 gave B-cubed F1 0.807, 0.806, 0.807; 0.5 leaves room both ways.
NAMES_OVERRIDE = 0.5

_FIGURE_RE = re.compile(r"\d+(?:\.\d+)?")
# Two names are one when they share this many first letters (inflections, plurals).
NAME_PREFIX = 5


@dataclass(frozen=True, slots=True)
class Headline:
    """What the guard reads of a headline, read once: directions, figures, names."""

    up: bool
    down: bool
    figures: frozenset[str]
    names: frozenset[str]


def read_headline(normalised: str, names: frozenset[str]) -> Headline:
    """The guard's reading of a normalised headline and the names it carries."""
    words = set(normalised.split())
    return Headline(
        up=not words.isdisjoint(lexicon.UP_WORDS),
        down=not words.isdisjoint(lexicon.DOWN_WORDS),
        figures=frozenset(_FIGURE_RE.findall(normalised)),
        names=names,
    )


def opposite_directions(a: Headline, b: Headline) -> bool:
    """True when one headline says up and the other down, neither both."""
    return a.up != a.down and b.up != b.down and a.up != b.up


def different_figures(a: Headline, b: Headline) -> bool:
    """True when both headlines carry figures and share fewer than half of the fewer's.

    A retelling picks its own figures ("$110bn buyback, dividend up 4% to $0.27" / "$110
    billion buyback, dividend up 4% to 27 cents") but keeps most; another story, or another
    reading of the same quantity ("raised to 4.75%" / "raised to 5%"), shares few or none.
    """
    if not a.figures or not b.figures:
        return False
    return 2 * len(a.figures & b.figures) < min(len(a.figures), len(b.figures))


def different_names(a: Headline, b: Headline) -> bool:
    """True when both headlines name someone or somewhere and no name is in both.

    Names are casefolded words; two are the same name when one starts with the other or they
    share their first NAME_PREFIX letters ("PMI"/"PMIs", "Kharkiv"/"Kharkiv's").
    """
    if not a.names or not b.names:
        return False
    return not any(_same_name(x, y) for x in a.names for y in b.names)


def _same_name(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a) or a[:NAME_PREFIX] == b[:NAME_PREFIX]


def contradicts(a: Headline, b: Headline, *, similarity: float) -> bool:
    """True when the two headlines cannot be one story (see the module docstring)."""
    if opposite_directions(a, b) or different_figures(a, b):
        return True
    return similarity < NAMES_OVERRIDE and different_names(a, b)


def is_update(normalised: str) -> bool:
    """True when a post opens as a follow-up: "UPDATE: ...", "UPD", "Обновлено: ..."."""
    first = normalised.split(" ", 1)[0]
    return first in lexicon.UPDATE_MARKERS
