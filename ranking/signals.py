"""What a second stage can afford that retrieval cannot: lookups over the training data.

`SignalTables` holds, per catalogue movie, its popularity, the time of its first rating
and its genres, and, per pair of movies, how often one was rated right after the other
by the same user (ML-100K's strongest signal for the next movie: measured on the temporal
split, this adjacency alone reaches HR@10 0.21 over the full catalogue). Built from the
training ratings only, kept inside the ranking SavedModel as constants and a hash table.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from core import features as F
from core.data import Columns

BACKWARD_WEIGHT = 0.5  # a->b counts once for a then b, half for b then a


@dataclasses.dataclass(frozen=True)
class SignalTables:
    """Numpy tables over catalogue rows; row `num_movies` is an unknown movie.

    Attributes:
      movie_ids: [num_movies] str, the catalogue order.
      popularity: [num_movies + 1] float32, log(1 + number of training ratings).
      first_rated: [num_movies + 1] float64 seconds; the unknown row is +inf.
      genres: [num_movies + 1, len(GENRES)] float32 multi-hot.
      pairs: [p] int64 keys `row_a * (num_movies + 1) + row_b` of adjacent ratings.
      pair_weights: [p] float32, log(1 + weighted count) of each key.
    """

    movie_ids: np.ndarray
    popularity: np.ndarray
    first_rated: np.ndarray
    genres: np.ndarray
    pairs: np.ndarray
    pair_weights: np.ndarray


def build_tables(train: Columns, catalogue: Columns) -> SignalTables:
    """The tables of training ratings sorted by (user, time), as `core.data` gives them."""
    ids = catalogue[F.MOVIE_ID.name]
    size = len(ids) + 1
    index = {m: i for i, m in enumerate(ids)}
    rows = np.array([index[m] for m in train[F.MOVIE_ID.name]], dtype=np.int64)
    counts = np.bincount(rows, minlength=size).astype(np.float32)
    first = np.full(size, np.inf)
    np.minimum.at(first, rows, train[F.TIMESTAMP.name].astype(np.float64))
    genres = np.vstack(
        [
            np.asarray(catalogue[F.MOVIE_GENRES.name], np.float32),
            np.zeros((1, len(F.GENRES)), np.float32),
        ]
    )
    users = train[F.USER_ID.name]
    same_user = users[1:] == users[:-1]
    before, after = rows[:-1][same_user], rows[1:][same_user]
    keys = np.concatenate([before * size + after, after * size + before])
    weights = np.concatenate([np.ones(len(before)), np.full(len(before), BACKWARD_WEIGHT)])
    unique, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=weights)
    return SignalTables(
        ids, np.log1p(counts), first, genres, unique, np.log1p(summed).astype(np.float32)
    )


NUM_SIGNALS = 11  # columns of SecondStageSignals' output


class SecondStageSignals(tf.keras.layers.Layer):
    """Per (query, candidate) row: [n, NUM_SIGNALS] float32 hand-made signals.

    Columns: adjacency of the candidate to the 1st, 2nd, 3rd newest history movie, its
    maximum and decayed sum over the history; log popularity; log days since the
    candidate's first rating at request time; retrieval score; log(1 + retrieval rank);
    log(1 + history length); genre cosine with the history.

    The tables must not contain the ratings the layer is trained to predict (their own
    adjacency would be counted): training reads tables of the earlier window, and the
    exported model `with_tables` of the whole training part.
    """

    def __init__(self, tables: SignalTables, **kwargs):
        super().__init__(**kwargs)
        self.size = len(tables.movie_ids) + 1
        self.rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tables.movie_ids.astype(str).tolist()),
                tf.range(self.size - 1, dtype=tf.int64),
            ),
            default_value=tf.constant(self.size - 1, tf.int64),
        )
        self.pairs = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tables.pairs), tf.constant(tables.pair_weights)
            ),
            default_value=0.0,
        )
        self.popularity = tf.constant(tables.popularity)
        self.first_rated = tf.constant(tables.first_rated)
        self.genres = tf.constant(tables.genres)

    def call(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        candidate = self.rows.lookup(inputs[F.MOVIE_ID.name])  # [n]
        history_ids = inputs[F.RECENT_MOVIE_IDS.name]
        present = tf.cast(tf.not_equal(history_ids, F.PAD), tf.float32)  # [n, H]
        history = self.rows.lookup(history_ids)
        adjacency = (
            self.pairs.lookup(history * self.size + candidate[:, tf.newaxis]) * present
        )  # [n, H]
        length = tf.shape(adjacency)[1]
        newest = tf.pad(adjacency, [[0, 0], [0, tf.maximum(0, 3 - length)]])[:, :3]
        decay = 0.8 ** tf.cast(tf.range(length), tf.float32)
        since = (
            tf.cast(inputs[F.TIMESTAMP.name], tf.float64) - tf.gather(self.first_rated, candidate)
        ) / 86_400.0
        since = tf.cast(tf.math.log1p(tf.clip_by_value(since, 0.0, 1e6)), tf.float32)
        candidate_genres = tf.math.l2_normalize(tf.gather(self.genres, candidate), axis=1)
        history_genres = tf.reduce_sum(
            tf.gather(self.genres, history) * present[..., tf.newaxis], axis=1
        )
        overlap = tf.reduce_sum(
            candidate_genres * tf.math.l2_normalize(history_genres, axis=1), axis=1
        )
        rank = tf.cast(inputs[F.RETRIEVAL_RANK.name], tf.float32)
        columns = [
            newest,
            tf.reduce_max(adjacency, axis=1, keepdims=True),
            tf.reduce_sum(adjacency * decay, axis=1, keepdims=True),
            tf.gather(self.popularity, candidate)[:, tf.newaxis],
            since[:, tf.newaxis],
            inputs[F.RETRIEVAL_SCORE.name][:, tf.newaxis],
            tf.math.log1p(rank)[:, tf.newaxis],
            tf.math.log1p(tf.reduce_sum(present, axis=1, keepdims=True)),
            overlap[:, tf.newaxis],
        ]
        return tf.concat(columns, axis=1)
