"""Whether two headlines that look alike tell different stories: the contradiction guard.

Content terms make "Brent rises 2% to $85" and "Brent falls 5% to $80" look alike: they
share Brent, the unit and the template. They are still two events, and so are two different
figures for one quantity ("rates raised to 4.75%" / "rates raised to 5%") and the same
template about two places ("strike on Kharkiv kills 3" / "strike on Odesa kills 1"). The
guard reads the two headlines (a post's, an event's) and says when they cannot be one story:

- opposite directions: one says a thing went up (UP_WORDS), the other down (DOWN_WORDS), and
  neither says both;
- different figures: both carry figures and neither's figures include the other's;
- different names: both carry names (capitalised words inside a sentence) and share none,
  unless their content terms agree strongly anyway (cosine >= NAMES_OVERRIDE: a paraphrase
  that names the place differently, "Kyiv"/"the capital", still shares most of its words).

Measured on uci_stories_dev.csv (bench/RESULTS.md, quality): the directions and figures
cost 0.005 of B-cubed F1 and raise pairwise precision by 0.005; names cost 0.015 more and
raise it by another 0.005. Precision first: a digest that merges two stories hides one.
"""

from __future__ import annotations

import re

from civicquant.events import lexicon

# A name clash is forgiven above this content-term cosine: on the UCI stream 0.4, 0.5 and
# 0.6 gave B-cubed F1 0.807, 0.806, 0.807; 0.5 leaves room both ways.
NAMES_OVERRIDE = 0.5

_FIGURE_RE = re.compile(r"\d+(?:\.\d+)?")


def opposite_directions(a_normalised: str, b_normalised: str) -> bool:
    """True when one headline says up and the other down (normalised texts)."""
    a_up, a_down = _directions(a_normalised)
    b_up, b_down = _directions(b_normalised)
    return (a_up != a_down) and (b_up != b_down) and a_up != b_up


def _directions(normalised: str) -> tuple[bool, bool]:
    """(says up, says down) of a normalised headline."""
    words = set(normalised.split())
    return (not words.isdisjoint(lexicon.UP_WORDS), not words.isdisjoint(lexicon.DOWN_WORDS))


def different_figures(a_normalised: str, b_normalised: str) -> bool:
    """True when both headlines carry figures and neither's figures include the other's.

    A retelling may drop a figure ("Fed hikes to 5.5%" / "Fed raises by 25 bps to 5.5%")
    but does not change one ("raised to 4.75%" / "raised to 5%").
    """
    a = set(_FIGURE_RE.findall(a_normalised))
    b = set(_FIGURE_RE.findall(b_normalised))
    return bool(a) and bool(b) and not (a <= b or b <= a)


def different_names(a_names: frozenset[int], b_names: frozenset[int]) -> bool:
    """True when both headlines name someone or somewhere and none of the names is shared."""
    return bool(a_names) and bool(b_names) and not (a_names & b_names)


def contradicts(
    a_normalised: str,
    b_normalised: str,
    a_names: frozenset[int],
    b_names: frozenset[int],
    *,
    similarity: float,
) -> bool:
    """True when the two headlines cannot be one story (see the module docstring)."""
    if opposite_directions(a_normalised, b_normalised):
        return True
    if different_figures(a_normalised, b_normalised):
        return True
    return similarity < NAMES_OVERRIDE and different_names(a_names, b_names)


def is_update(normalised: str) -> bool:
    """True when a post opens as a follow-up: "UPDATE: ...", "UPD", "Обновлено: ..."."""
    first = normalised.split(" ", 1)[0]
    return first in lexicon.UPDATE_MARKERS
