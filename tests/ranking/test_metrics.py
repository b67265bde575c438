"""RMSE, MAE and per-user NDCG@10 by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ranking import metrics


def test_rmse_and_mae():
    labels, predictions = np.array([1.0, 3.0, 5.0]), np.array([2.0, 3.0, 3.0])
    assert metrics.rmse(labels, predictions) == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert metrics.mae(labels, predictions) == pytest.approx(1.0)


def test_ndcg_per_user_by_hand():
    users = np.array(["a", "a", "a", "b", "b", "c"])
    labels = np.array([5.0, 3.0, 1.0, 2.0, 4.0, 5.0])
    predictions = np.array([0.1, 0.9, 0.5, 3.0, 1.0, 1.0])
    # user a: predicted order 3, 1, 5 -> gains 7, 1, 31; ideal 31, 7, 1
    dcg_a = 7 / math.log2(2) + 1 / math.log2(3) + 31 / math.log2(4)
    ideal_a = 31 / math.log2(2) + 7 / math.log2(3) + 1 / math.log2(4)
    # user b: predicted order 2, 4 -> gains 3, 15; ideal 15, 3
    dcg_b = 3 / math.log2(2) + 15 / math.log2(3)
    ideal_b = 15 / math.log2(2) + 3 / math.log2(3)
    # user c has one held-out rating: skipped
    expected = (dcg_a / ideal_a + dcg_b / ideal_b) / 2
    assert metrics.ndcg_per_user(users, labels, predictions) == pytest.approx(expected)
    assert np.isnan(metrics.ndcg_per_user(users[5:], labels[5:], predictions[5:]))
