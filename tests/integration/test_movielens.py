"""The acceptance numbers of the real MovieLens data (skipped when ../shared is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from core import data, splits
from core.config import DataConfig
from pipelines import summary

pytestmark = pytest.mark.integration


def test_movielens_100k_counts_and_temporal_split(shared_movielens_dir):
    cfg = DataConfig(movielens_dir=shared_movielens_dir, split="temporal")
    movielens = data.load(cfg)
    split = splits.make_split(movielens.ratings, cfg)
    s = summary.summarize(movielens, split, "temporal")
    assert (s["ratings"], s["users"], s["movies"]) == (100_000, 943, 1_682)
    assert s["splits"]["test"]["ratings"] == 943
    assert s["splits"]["validation"]["ratings"] == 943
    assert s["splits"]["train"]["ratings"] == 100_000 - 2 * 943
    # For every user: every train timestamp <= validation <= test, checked row by row.
    r = movielens.ratings
    validation_time = dict(zip(r["user_id"][split.validation], r["timestamp"][split.validation]))
    test_time = dict(zip(r["user_id"][split.test], r["timestamp"][split.test]))
    for user, t in zip(r["user_id"][split.train], r["timestamp"][split.train]):
        assert t <= validation_time[user] <= test_time[user]
    random = splits.make_split(movielens.ratings, DataConfig(split="random"))
    assert len(random.test) == 20_000
    assert len(np.intersect1d(random.train, random.test)) == 0


def test_movielens_latest_small_through_tfds_manual_dir(shared_movielens_dir):
    cfg = DataConfig(dataset="movielens-latest-small", movielens_dir=shared_movielens_dir)
    movielens = data.load(cfg)
    assert movielens.num_ratings == 100_836
    assert len(np.unique(movielens.ratings["user_id"])) == 610
    assert len(movielens.movies["movie_id"]) == 9_742
    assert not movielens.has_demographics
