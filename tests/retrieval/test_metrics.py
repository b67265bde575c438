"""Rank-based retrieval metrics on hand-made cases (expected values worked out by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval import metrics


def test_full_catalogue_ranks_with_and_without_exclusion():
    scores = np.array(
        [
            [0.9, 0.5, 0.7, 0.1],  # target 2 (0.7): only movie 0 scores higher -> rank 1
            [
                0.2,
                0.2,
                0.2,
                0.9,
            ],  # target 1 (0.2): movie 3 higher, movies 0 and 2 tie -> 1 + 2/2 = 2
        ]
    )
    targets = np.array([2, 1])
    assert list(metrics.full_catalogue_ranks(scores, targets)) == [1.0, 2.0]
    # Leaving out movie 0 for query 0 and movie 3 for query 1 (seen before):
    # query 0 -> rank 0; query 1 -> only the ties 0 and 2 remain -> 1.0
    ranks = metrics.full_catalogue_ranks(scores, targets, [np.array([0]), np.array([3])])
    assert list(ranks) == [0.0, 1.0]
    # The target is never excluded, even when listed.
    assert metrics.full_catalogue_ranks(scores[:1], targets[:1], [np.array([2])])[0] == 1.0


def test_hit_rate_and_ndcg_by_hand():
    ranks = np.array([0.0, 1.0, 4.0, 12.0])
    assert metrics.hit_rate(ranks, 1) == 0.25
    assert metrics.hit_rate(ranks, 5) == 0.75
    expected = (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(6)) / 4
    assert metrics.ndcg(ranks, 10) == pytest.approx(expected)


def test_sampled_ranks_count_only_the_negatives():
    scores = np.array([[0.1, 0.8, 0.5, 0.3, 0.9]])
    # target 2 (0.5) against negatives 0 and 3 -> rank 0 (movies 1 and 4 do not compete)
    assert metrics.sampled_ranks(scores, np.array([2]), np.array([[0, 3]]))[0] == 0.0
    assert metrics.sampled_ranks(scores, np.array([2]), np.array([[1, 3]]))[0] == 1.0


def test_sample_negatives_never_draws_rated_movies():
    rated = [np.array([0, 1, 2]), np.array([5, 6])]
    negatives = metrics.sample_negatives(rated, num_movies=10, num_negatives=5, seed=0)
    assert negatives.shape == (2, 5)
    for row, seen in zip(negatives, rated):
        assert len(set(row)) == 5 and not set(row) & set(seen)
    again = metrics.sample_negatives(rated, num_movies=10, num_negatives=5, seed=0)
    assert np.array_equal(negatives, again)
    with pytest.raises(ValueError, match="only 7 unrated movies"):
        metrics.sample_negatives(rated, num_movies=10, num_negatives=8, seed=0)
