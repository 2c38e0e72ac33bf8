"""bench.clustering: pairwise, B-cubed and pair-set scores on small hand-computed examples."""

from __future__ import annotations

import pytest

from bench.clustering import Counts, Scores, bcubed, cluster_count, pair_set, pairwise

# Gold: {a, b, c} and {d, e}. Predicted: {a, b}, {c, d}, {e}.
GOLD = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2}
PREDICTED = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z"}


def test_pairwise_counts_pairs_from_cluster_sizes() -> None:
    # True pairs: ab ac bc de (4). Claimed: ab cd (2). Both: ab (1).
    counts = pairwise(PREDICTED, GOLD)
    assert counts == Counts(both=1, claimed=2, true=4)
    scores = counts.scores()
    assert scores.precision == pytest.approx(1 / 2)
    assert scores.recall == pytest.approx(1 / 4)
    assert scores.f1 == pytest.approx(1 / 3)  # 2 * 1/2 * 1/4 / (3/4)


def test_bcubed_averages_per_item_precision_and_recall() -> None:
    # a, b: P 2/2, R 2/3; c: P 1/2, R 1/3; d: P 1/2, R 1/2; e: P 1/1, R 1/2.
    scores = bcubed(PREDICTED, GOLD)
    assert scores.precision == pytest.approx(4 / 5)
    assert scores.recall == pytest.approx(8 / 15)
    assert scores.f1 == pytest.approx(0.64)  # 2 * 0.8 * 8/15 / (0.8 + 8/15)


def test_singletons_claim_no_pair_and_score_zero_pairwise() -> None:
    alone = {item: item for item in GOLD}
    assert pairwise(alone, GOLD) == Counts(both=0, claimed=0, true=4)
    assert pairwise(alone, GOLD).scores() == Scores(0.0, 0.0)
    # B-cubed still credits each item with itself: precision 1, recall 1/|its class|.
    scores = bcubed(alone, GOLD)
    assert scores.precision == pytest.approx(1.0)
    assert scores.recall == pytest.approx((3 * (1 / 3) + 2 * (1 / 2)) / 5)


def test_one_big_cluster_has_full_recall() -> None:
    together = dict.fromkeys(GOLD, 0)
    counts = pairwise(together, GOLD)
    assert counts == Counts(both=4, claimed=10, true=4)
    assert counts.scores().recall == 1.0
    scores = bcubed(together, GOLD)
    assert scores.recall == pytest.approx(1.0)
    assert scores.precision == pytest.approx((3 * (3 / 5) + 2 * (2 / 5)) / 5)


def test_a_perfect_clustering_scores_one_whatever_its_labels() -> None:
    renamed = {item: f"event-{label}" for item, label in GOLD.items()}
    assert pairwise(renamed, GOLD).scores() == Scores(1.0, 1.0)
    assert bcubed(renamed, GOLD) == Scores(1.0, 1.0)
    assert cluster_count(renamed) == cluster_count(GOLD) == 2


def test_pair_set_scores_same_event_predictions() -> None:
    counts = pair_set([True, True, False, False, True], [True, False, True, False, True])
    assert counts == Counts(both=2, claimed=3, true=3)
    assert counts.scores().f1 == pytest.approx(2 / 3)


def test_nothing_claimed_or_nothing_to_find_scores_zero() -> None:
    assert pair_set([False, False], [True, False]).scores() == Scores(0.0, 0.0)
    assert Scores(0.0, 0.0).f1 == 0.0
    assert bcubed({}, {}) == Scores(0.0, 0.0)


def test_items_must_match() -> None:
    with pytest.raises(ValueError, match="items differ"):
        pairwise({"a": 1}, {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="items differ"):
        bcubed({"a": 1, "z": 1}, {"a": 1})
    with pytest.raises(ValueError, match="predictions"):
        pair_set([True], [True, False])
