"""Retrieval metrics from scores over the whole catalogue (numpy, exact).

A target's rank is the number of competing movies scoring higher, plus half of
those scoring equal (the expected rank under random tie-breaking, so a model that
scores everything alike gains nothing from ties). Rank 0 is the top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def full_catalogue_ranks(
    scores: np.ndarray, targets: np.ndarray, exclude: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """Rank of each target among all movies, optionally leaving some out.

    Args:
      scores: [n, num_movies] float.
      targets: [n] int, catalogue row of each query's held-out movie.
      exclude: Optional per-query arrays of catalogue rows not to compete (movies the
        user saw before); the target itself always competes.

    Returns:
      [n] float64 ranks.
    """
    scores = np.array(scores, dtype=np.float64)
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets].copy()
    if exclude is not None:
        for i, movies in enumerate(exclude):
            scores[i, movies] = -np.inf
    scores[rows, targets] = -np.inf  # the target does not compete with itself
    higher = (scores > target_scores[:, None]).sum(axis=1)
    equal = (scores == target_scores[:, None]).sum(axis=1)
    return higher + equal / 2.0


def sampled_ranks(scores: np.ndarray, targets: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Rank of each target among its sampled negatives ([n, S] catalogue rows)."""
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets][:, None]
    competing = np.take_along_axis(scores, negatives, axis=1)
    return (competing > target_scores).sum(axis=1) + (competing == target_scores).sum(axis=1) / 2.0


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Share of targets ranked in the top k (= Recall@k with one held-out movie per query)."""
    return float(np.mean(ranks < k)) if len(ranks) else float("nan")


def ndcg(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k with one relevant movie per query: 1 / log2(rank + 2) inside the top k."""
    if not len(ranks):
        return float("nan")
    return float(np.mean(np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)))


def sample_negatives(
    rated: Sequence[np.ndarray], num_movies: int, num_negatives: int, seed: int
) -> np.ndarray:
    """For each query, `num_negatives` distinct catalogue rows its user never rated.

    Args:
      rated: Per query, every catalogue row the user rated (any split, target included).
      num_movies: Catalogue size.
      num_negatives: Negatives per query (99 in the NCF protocol).
      seed: Sampling seed.

    Raises:
      ValueError: if a user has rated too much of the catalogue to draw from.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((len(rated), num_negatives), dtype=np.int64)
    for i, movies in enumerate(rated):
        unrated = np.ones(num_movies, dtype=bool)
        unrated[movies] = False
        pool = np.flatnonzero(unrated)  # what setdiff1d gives, without sorting the catalogue
        if len(pool) < num_negatives:
            raise ValueError(
                f"query {i}: only {len(pool)} unrated movies, {num_negatives} negatives asked"
            )
        out[i] = rng.choice(pool, size=num_negatives, replace=False)
    return out
