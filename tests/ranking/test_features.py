"""Ranking's in-model features: release year, time features, movie table, training-only stats."""

from __future__ import annotations

import datetime

import numpy as np
import tensorflow as tf

from core import features as F
from ranking import features as RF


def test_release_year_parsing():
    titles = np.array(
        ["Toy Story (1995)", "Sliding Doors (1998) ", "No Year", "Brazil (1985) (again)"]
    )
    years = RF.release_years(titles)
    assert years[:2].tolist() == [1995.0, 1998.0]
    assert np.isnan(years[2]) and np.isnan(years[3])


def test_weekday_and_hour_match_python_datetime():
    stamps = [0, 881_250_949, 893_286_638, 1_000_000_000]
    weekday, hour = RF.weekday_and_hour(tf.constant(stamps, tf.int64))
    for s, w, h in zip(stamps, weekday.numpy(), hour.numpy()):
        moment = datetime.datetime.fromtimestamp(s, datetime.UTC)
        assert (w, h) == (moment.weekday(), moment.hour)
    assert abs(RF.rating_years(np.array([946_684_800]))[0] - 2000.0) < 0.01  # 2000-01-01


def _catalogue():
    return {
        "movie_id": np.array(["1", "2", "3"], dtype=object),
        "movie_title": np.array(["A (1990)", "B (2000)", "C"], dtype=object),
        "movie_genres": np.eye(3, len(F.GENRES), dtype=np.float32),
    }


def test_training_stats_use_only_the_given_ratings():
    train = {
        "movie_id": np.array(["1", "1", "2"], dtype=object),
        "timestamp": np.array([946_684_800] * 3, dtype=np.int64),
    }
    stats = RF.training_stats(train, _catalogue())
    # release years of the three training ratings: 1990, 1990, 2000
    assert np.isclose(stats["release_year"][0], 1993.333333)
    assert np.isclose(stats["release_year"][1], np.var([1990, 1990, 2000]))
    assert np.isclose(stats["movie_age"][0], 2000.0 - 1993.333333, atol=0.01)


def test_movie_table_known_and_unknown_ids():
    table = RF.MovieTable(_catalogue(), mean_release_year=1995.0)
    out = table(tf.constant(["2", "3", "nope"]))
    assert [t.decode() for t in out["movie_title"].numpy()] == ["B (2000)", "C", ""]
    assert out["movie_genres"].numpy()[0, 1] == 1.0 and out["movie_genres"].numpy()[2].sum() == 0.0
    assert out["release_year"].numpy().tolist() == [2000.0, 1995.0, 1995.0]  # no year -> the mean
