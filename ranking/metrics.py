"""Rating-prediction metrics (numpy, exact)."""

from __future__ import annotations

import numpy as np


def rmse(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(labels, np.float64) - predictions) ** 2)))


def mae(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(labels, np.float64) - predictions)))


def ndcg_per_user(
    users: np.ndarray, labels: np.ndarray, predictions: np.ndarray, k: int = 10
) -> float:
    """Mean over users of NDCG@k of their held-out movies ordered by predicted rating.

    Gain is 2^rating - 1; the ideal order sorts by the true rating. Ties in the
    prediction keep the input order. Users with fewer than two held-out ratings
    are skipped (any order of one movie is perfect).

    Returns:
      The mean NDCG@k, or NaN when no user has two held-out ratings.
    """
    order = np.argsort(users, kind="stable")
    users, labels, predictions = (
        users[order],
        np.asarray(labels, np.float64)[order],
        predictions[order],
    )
    boundaries = np.flatnonzero(users[1:] != users[:-1]) + 1
    scores = []
    for rows in np.split(np.arange(len(users)), boundaries):
        if len(rows) < 2:
            continue
        gains = 2.0 ** labels[rows] - 1.0
        discounts = 1.0 / np.log2(np.arange(2, min(k, len(rows)) + 2))
        ranked = gains[np.argsort(-predictions[rows], kind="stable")][:k]
        ideal = np.sort(gains)[::-1][:k]
        if ideal.sum() > 0:
            scores.append(float((ranked * discounts).sum() / (ideal * discounts).sum()))
    return float(np.mean(scores)) if scores else float("nan")


def report(users: np.ndarray, labels: np.ndarray, predictions: np.ndarray) -> dict:
    """RMSE, MAE and per-user NDCG@10 of one set of predictions."""
    return {
        "rmse": rmse(labels, predictions),
        "mae": mae(labels, predictions),
        "ndcg@10": ndcg_per_user(users, labels, predictions, 10),
        "ratings": int(len(labels)),
    }
