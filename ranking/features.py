"""Ranking features computed inside the model: the movie table and time features.

The movie table (title, genres, release year of every catalogue movie) is a
constant lookup inside the model, so training and serving both send only
`movie_id`; an unknown id gets an empty title, no genres and the mean release year.
"""

from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from core import features as F
from core.data import Columns

SECONDS_PER_DAY = 86_400
DAYS_PER_YEAR = 365.2425
_YEAR = re.compile(r"\((\d{4})\)\s*$")

# Optional input of the ranking models' flat rows: [n] int32, the row of each candidate's
# query in `recent_movie_ids` ([queries, H]). With it, a list of N candidates of one user
# looks up and encodes the user's history once instead of N times (training lists, the
# `score_lists` signature); without it, `recent_movie_ids` has one row per candidate.
QUERY_ROW = "query_row"


def per_candidate(per_query: tf.Tensor, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
    """A tensor computed from `recent_movie_ids`, with one row per candidate."""
    return tf.gather(per_query, inputs[QUERY_ROW]) if QUERY_ROW in inputs else per_query


def release_years(titles: np.ndarray) -> np.ndarray:
    """[n] float64 release year parsed from "Title (1995)"; NaN when a title has none."""
    years = [_YEAR.search(t) for t in titles]
    return np.array([float(m.group(1)) if m else np.nan for m in years])


def rating_years(timestamps: np.ndarray | tf.Tensor):
    """Fractional calendar year of a timestamp (numpy or TensorFlow, same formula)."""
    if isinstance(timestamps, np.ndarray):
        return 1970.0 + timestamps.astype(np.float64) / SECONDS_PER_DAY / DAYS_PER_YEAR
    return 1970.0 + tf.cast(timestamps, tf.float64) / SECONDS_PER_DAY / DAYS_PER_YEAR


def weekday_and_hour(timestamps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """UTC weekday (0 = Monday) and hour (0..23) of [batch] int64 timestamps."""
    days = tf.math.floordiv(timestamps, SECONDS_PER_DAY)
    weekday = tf.math.floormod(days + 3, 7)  # 1970-01-01 was a Thursday
    hour = tf.math.floordiv(tf.math.floormod(timestamps, SECONDS_PER_DAY), 3600)
    return weekday, hour


def training_stats(train: Columns, catalogue: Columns) -> dict[str, tuple[float, float]]:
    """Mean and variance over the training ratings of release year and movie age at rating.

    Args:
      train: Training ratings (`movie_id`, `timestamp`).
      catalogue: The movie table (`movie_id`, `movie_title`).
    """
    years = dict(zip(catalogue[F.MOVIE_ID.name], release_years(catalogue[F.MOVIE_TITLE.name])))
    released = np.array([years[m] for m in train[F.MOVIE_ID.name]])
    age = rating_years(train[F.TIMESTAMP.name]) - released
    known = ~np.isnan(released)
    if not known.any():
        return {"release_year": (0.0, 1.0), "movie_age": (0.0, 1.0)}
    return {
        "release_year": (float(np.mean(released[known])), float(np.var(released[known]))),
        "movie_age": (float(np.mean(age[known])), float(np.var(age[known]))),
    }


class MovieTable(tf.keras.layers.Layer):
    """movie_id [batch] string -> title [batch], genres [batch, G], release year [batch], and
    the table row [batch] (the unknown movie's: `len(catalogue)`)."""

    def __init__(self, catalogue: Columns, mean_release_year: float, **kwargs):
        super().__init__(**kwargs)
        ids = catalogue[F.MOVIE_ID.name].astype(str).tolist()
        unknown = len(ids)  # the last row of each table: an unknown movie
        self.rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(ids), tf.range(len(ids), dtype=tf.int64)
            ),
            default_value=tf.constant(unknown, tf.int64),
        )
        years = release_years(catalogue[F.MOVIE_TITLE.name])
        years = np.where(np.isnan(years), mean_release_year, years)
        self.titles = tf.constant(catalogue[F.MOVIE_TITLE.name].astype(str).tolist() + [""])
        genres = np.asarray(catalogue[F.MOVIE_GENRES.name], dtype=np.float32).reshape(len(ids), -1)
        self.genres = tf.constant(np.vstack([genres, np.zeros((1, genres.shape[1]), np.float32)]))
        self.years = tf.constant(np.append(years, mean_release_year), dtype=tf.float64)

    def call(self, movie_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        rows = self.rows.lookup(movie_ids)
        return {
            "row": rows,
            F.MOVIE_TITLE.name: tf.gather(self.titles, rows),
            F.MOVIE_GENRES.name: tf.gather(self.genres, rows),
            "release_year": tf.gather(self.years, rows),
        }
