"""What a second stage can afford that retrieval cannot: lookups over the training data.

`SignalTables` holds, per catalogue movie, its popularity, the time of its first rating
and its genres; per pair of movies, how often one was rated right after the other by the
same user (adjacency: alone it reaches HR@10 0.158 on the temporal split, the two-tower
0.167); and each movie's nearest movies by co-rating cosine (item-to-item: a model family
the two-tower is not, and the signal that adds most to its order, 0.211 -> 0.227 on
validation when blended). Built from training ratings only, kept inside the ranking
SavedModel as constants, tables and (adjacency of a small catalogue) a dense array.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from core import features as F
from core.data import Columns
from core.encoders import clip_time
from ranking import features as RF
from ranking.candidates import top_columns

BACKWARD_WEIGHT = 0.5  # a->b counts once for a then b, half for b then a
NEIGHBOURS = 50  # nearest movies kept per movie (co-rating cosine)
KNN_HISTORY = 5  # newest history movies the item-to-item signal reads


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
      neighbours: [q] int64 keys `row_a * (num_movies + 1) + row_b`: b is one of a's
        NEIGHBOURS nearest movies.
      neighbour_weights: [q] float32 cosine of each key's two rating columns.
      time_range: (first, last) training timestamp; request times are clipped to it.
    """

    movie_ids: np.ndarray
    popularity: np.ndarray
    first_rated: np.ndarray
    genres: np.ndarray
    pairs: np.ndarray
    pair_weights: np.ndarray
    neighbours: np.ndarray
    neighbour_weights: np.ndarray
    time_range: tuple[int, ...] = ()


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
    neighbours, cosines = nearest_movies(train[F.USER_ID.name], rows, size)
    return SignalTables(
        ids,
        np.log1p(counts),
        first,
        genres,
        unique,
        np.log1p(summed).astype(np.float32),
        neighbours,
        cosines,
        (int(train[F.TIMESTAMP.name].min()), int(train[F.TIMESTAMP.name].max())),
    )


def nearest_movies(users: np.ndarray, rows: np.ndarray, size: int, chunk: int = 512):
    """(keys, cosines) of each movie's NEIGHBOURS nearest movies by the cosine of their binary
    rating columns. The users x movies matrix is sparse (scipy); co-rating counts are made
    for `chunk` movies at a time, so memory is O(ratings + chunk x movies) at any size."""
    from scipy import sparse

    starts = np.flatnonzero(np.r_[len(users) > 0, users[1:] != users[:-1]])
    if len(set(users[starts].tolist())) == len(starts):  # each user in one block: data.load's
        user_rows = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(users)]))
    else:  # (np.unique sorts every id: 20M ratings, minutes)
        _, user_rows = np.unique(users, return_inverse=True)
    rated = sparse.csr_matrix(
        (np.ones(len(rows), np.float32), (user_rows, rows)),
        shape=(user_rows.max() + 1 if len(user_rows) else 0, size),
    )
    rated.data[:] = 1.0  # a (user, movie) pair rated twice counts once
    by_movie = rated.T.tocsr()
    norms = np.sqrt(np.asarray(by_movie.sum(axis=1)).ravel())
    keys, weights = [], []
    for start in range(0, size, chunk):
        block = (by_movie[start : start + chunk] @ rated).toarray()  # [chunk, size] co-ratings
        cosine = block / np.maximum(norms[start : start + chunk, None] * norms[None, :], 1e-9)
        own = np.arange(start, min(start + chunk, size))
        cosine[own - start, own] = 0.0
        best = top_columns(cosine, NEIGHBOURS)
        values = np.take_along_axis(cosine, best, axis=1)
        keep = values > 0
        keys.append((own[:, None] * size + best)[keep])
        weights.append(values[keep])
    return np.concatenate(keys).astype(np.int64), np.concatenate(weights).astype(np.float32)


NUM_SIGNALS = 13  # columns of SecondStageSignals' output
# Catalogues whose (size + 1)^2 movie pairs are at most this many read adjacency from a dense
# table (ML-100K: 2.8M floats, 11 MB), above it from a hash table of the pairs seen. The
# lookup covers every history movie of every candidate (100 candidates x 50 movies a query):
# hashed, it was a fifth of the recommender's time.
DENSE_PAIRS = 1 << 22


class SecondStageSignals(tf.keras.layers.Layer):
    """Per (query, candidate) row: [n, NUM_SIGNALS] float32 hand-made signals.

    Columns: adjacency of the candidate to the 1st, 2nd, 3rd newest history movie, its
    maximum and decayed sum over the history; log popularity; log days since the
    candidate's first rating at request time; retrieval score; log(1 + retrieval rank);
    log(1 + history length); genre cosine with the history; sum and maximum of the
    candidate's co-rating cosine to the KNN_HISTORY newest history movies.

    The tables must not contain the ratings the layer is trained to predict (their own
    adjacency would be counted): the scorer trains, and is exported, with tables of the
    earlier window.
    """

    def __init__(self, tables: SignalTables, dense_pairs_limit: int = DENSE_PAIRS, **kwargs):
        super().__init__(**kwargs)
        self.size = len(tables.movie_ids) + 1
        self.rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tables.movie_ids.astype(str).tolist()),
                tf.range(self.size - 1, dtype=tf.int64),
            ),
            default_value=tf.constant(self.size - 1, tf.int64),
        )
        self.pairs, self.dense_pairs = None, None
        if self.size**2 <= dense_pairs_limit:
            dense = np.zeros(self.size**2, np.float32)
            dense[tables.pairs] = tables.pair_weights
            self.dense_pairs = self.add_weight(
                name="dense_pairs",
                shape=dense.shape,
                initializer=tf.constant_initializer(dense),
                trainable=False,
            )
        else:
            self.pairs = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(tables.pairs), tf.constant(tables.pair_weights)
                ),
                default_value=0.0,
            )
        self.neighbours = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tables.neighbours), tf.constant(tables.neighbour_weights)
            ),
            default_value=0.0,
        )
        self.popularity = tf.constant(tables.popularity)
        self.first_rated = tf.constant(tables.first_rated)
        self.genres = tf.constant(tables.genres)
        self.time_range = tables.time_range

    def call(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        candidate = self.rows.lookup(inputs[F.MOVIE_ID.name])  # [n]
        history_ids = inputs[F.RECENT_MOVIE_IDS.name]  # per candidate, or per query
        query_present = tf.cast(tf.not_equal(history_ids, F.PAD), tf.float32)
        query_history = self.rows.lookup(history_ids)
        history_genres = RF.per_candidate(
            tf.reduce_sum(
                tf.gather(self.genres, query_history) * query_present[..., tf.newaxis], axis=1
            ),
            inputs,
        )
        present = RF.per_candidate(query_present, inputs)  # [n, H]
        history = RF.per_candidate(query_history, inputs)
        adjacency = self.adjacency(history * self.size + candidate[:, tf.newaxis]) * present
        length = tf.shape(adjacency)[1]
        newest = tf.pad(adjacency, [[0, 0], [0, tf.maximum(0, 3 - length)]])[:, :3]
        decay = 0.8 ** tf.cast(tf.range(length), tf.float32)
        since = (
            tf.cast(clip_time(inputs[F.TIMESTAMP.name], self.time_range), tf.float64)
            - tf.gather(self.first_rated, candidate)
        ) / 86_400.0
        since = tf.cast(tf.math.log1p(tf.clip_by_value(since, 0.0, 1e6)), tf.float32)
        candidate_genres = tf.math.l2_normalize(tf.gather(self.genres, candidate), axis=1)
        overlap = tf.reduce_sum(
            candidate_genres * tf.math.l2_normalize(history_genres, axis=1), axis=1
        )
        rank = tf.cast(inputs[F.RETRIEVAL_RANK.name], tf.float32)
        newest_keys = history[:, :KNN_HISTORY] * self.size + candidate[:, tf.newaxis]
        similar = self.neighbours.lookup(newest_keys) * present[:, :KNN_HISTORY]
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
            tf.reduce_sum(similar, axis=1, keepdims=True),
            tf.reduce_max(similar, axis=1, keepdims=True),
        ]
        return tf.concat(columns, axis=1)

    def adjacency(self, keys: tf.Tensor) -> tf.Tensor:
        """Weights of pair keys `row_a * size + row_b` (0 for a pair never seen)."""
        if self.dense_pairs is not None:
            return tf.gather(self.dense_pairs, keys)
        return self.pairs.lookup(keys)
