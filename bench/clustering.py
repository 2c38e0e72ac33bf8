"""Scores of a clustering against gold labels: pairwise, B-cubed, and same-event pairs.

A clustering is a mapping from item to cluster label (any hashable); the gold standard is
another mapping over the same items. Three measures:

- **pairwise**: over all unordered pairs of items, a pair is claimed when both items share a
  predicted cluster and true when they share a gold one; precision = true claimed pairs /
  claimed pairs, recall = true claimed pairs / true pairs.
- **B-cubed** (Bagga & Baldwin 1998): per item, precision = |its cluster ∩ its gold class| /
  |its cluster| and recall = the same over |its gold class|, each averaged over the items;
  F1 is the harmonic mean of the two averages.
- **pair sets**: labelled pairs, each predicted same-event or not; precision, recall and F1
  of "same event".

A ratio over nothing (no pair claimed, no true pair) is 0: claiming nothing earns nothing,
so no target is met vacuously.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Scores:
    """Precision and recall, with their harmonic mean."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        """2PR / (P + R); 0 when both are 0."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True, slots=True)
class Counts:
    """What was claimed, what is true, and both: pairs, or labelled pairs predicted same."""

    both: int
    claimed: int
    true: int

    def scores(self) -> Scores:
        """Precision both / claimed and recall both / true (0 over nothing)."""
        return Scores(_ratio(self.both, self.claimed), _ratio(self.both, self.true))


def pairwise(predicted: Mapping[Item, Hashable], gold: Mapping[Item, Hashable]) -> Counts:
    """Pair counts over all unordered pairs of items (from cluster sizes, not pair by pair)."""
    _check_same_items(predicted, gold)
    cells = Counter((predicted[item], gold[item]) for item in gold)
    return Counts(
        both=_pairs(cells.values()),
        claimed=_pairs(Counter(predicted.values()).values()),
        true=_pairs(Counter(gold.values()).values()),
    )


def bcubed(predicted: Mapping[Item, Hashable], gold: Mapping[Item, Hashable]) -> Scores:
    """B-cubed precision and recall, averaged over the items (each weighs the same)."""
    _check_same_items(predicted, gold)
    if not gold:
        return Scores(0.0, 0.0)
    cells = Counter((predicted[item], gold[item]) for item in gold)
    cluster_sizes = Counter(predicted.values())
    class_sizes = Counter(gold.values())
    precision = recall = 0.0
    # Every item of a (cluster, class) cell scores the same: add them cell by cell.
    for (cluster, label), shared in cells.items():
        precision += shared * shared / cluster_sizes[cluster]
        recall += shared * shared / class_sizes[label]
    return Scores(precision / len(gold), recall / len(gold))


def pair_set(predicted_same: Sequence[bool], gold_same: Sequence[bool]) -> Counts:
    """Counts of "same event" over labelled pairs: predicted and true, predicted, true."""
    if len(predicted_same) != len(gold_same):
        raise ValueError(f"{len(predicted_same)} predictions for {len(gold_same)} pairs")
    return Counts(
        both=sum(p and g for p, g in zip(predicted_same, gold_same, strict=True)),
        claimed=sum(predicted_same),
        true=sum(gold_same),
    )


def cluster_count(clusters: Mapping[Item, Hashable]) -> int:
    """How many distinct clusters the mapping holds."""
    return len(set(clusters.values()))


def _pairs(sizes: Iterable[int]) -> int:
    """Σ n(n-1)/2 over the given group sizes: the unordered pairs within the groups."""
    return sum(n * (n - 1) // 2 for n in sizes)


def _ratio(numerator: int, denominator: int) -> float:
    """numerator / denominator, 0 over nothing."""
    return numerator / denominator if denominator else 0.0


def _check_same_items(predicted: Mapping[Item, Hashable], gold: Mapping[Item, Hashable]) -> None:
    """Raise ValueError unless both mappings hold exactly the same items."""
    if predicted.keys() != gold.keys():
        missing = len(gold.keys() - predicted.keys())
        extra = len(predicted.keys() - gold.keys())
        raise ValueError(f"items differ: {missing} without a prediction, {extra} not in gold")
