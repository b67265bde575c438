"""Data ready for training: split, history, vocabularies, tf.data pipelines."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import tensorflow as tf

from core import data, history, splits, vocab
from core import features as F
from core.config import DataConfig
from core.data import Columns

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A dataset, split and preprocessed for training.

    Attributes:
      movielens: The loaded dataset (ratings sorted by user, time, movie).
      split: Row indices of each part.
      parts: "train" / "validation" / "test" columns, with `recent_movie_ids`
        ([n, history_length], from the non-test ratings before each rating in (time, movie)
        order).
      vocab: Vocabularies and numeric statistics of the train part only.
      movie_index: Movie id -> row of `movielens.movies` (the catalogue).
    """

    movielens: data.MovieLens
    split: splits.Split
    parts: dict[str, Columns]
    vocab: vocab.Vocabularies
    movie_index: dict[str, int]

    @property
    def catalogue(self) -> Columns:
        return self.movielens.movies

    def catalogue_rows(self, movie_ids: np.ndarray) -> np.ndarray:
        """[n] int catalogue rows of movie ids (every rated movie is in the catalogue)."""
        return np.array([self.movie_index[m] for m in movie_ids], dtype=np.int64)

    def known(self) -> Columns:
        """Every rating but the test ones (train + validation), sorted by (user, time, movie)."""
        rows = np.sort(np.concatenate([self.split.train, self.split.validation]))
        return data.take(self.movielens.ratings, rows)


def prepare(cfg: DataConfig, timed: Callable[[str, Callable[[], T]], T] | None = None) -> Prepared:
    """Loads, splits, adds history and builds the training-split vocabularies.

    `timed(stage, step)` runs each of the four steps ("load", "split", "history",
    "vocabularies") and returns its value; `benchmarks/scale.py` times them with it. They
    run with numpy's huge-page advice off (`_small_pages`)."""
    timed = timed or (lambda _, step: step())
    with _small_pages():
        movielens = timed("load", lambda: data.load(cfg))
        split = timed("split", lambda: splits.make_split(movielens.ratings, cfg))
        parts = timed("history", lambda: _with_history(movielens, split, cfg.history_length))
        vocabularies = timed("vocabularies", lambda: vocab.build(parts["train"]))
    log.info("split %s: %s", cfg.split, {k: len(v[F.USER_ID.name]) for k, v in parts.items()})
    movie_index = {m: i for i, m in enumerate(movielens.movies[F.MOVIE_ID.name])}
    return Prepared(movielens, split, parts, vocabularies, movie_index)


def _with_history(movielens: data.MovieLens, split: splits.Split, length: int) -> dict:
    """The split's parts, each rating with its `recent_movie_ids` (test ratings never seen)."""
    visible = np.ones(movielens.num_ratings, dtype=bool)
    visible[split.test] = False
    ratings = dict(movielens.ratings)
    ratings[F.RECENT_MOVIE_IDS.name] = history.recent_history(
        ratings, visible, length, movielens.movies[F.MOVIE_ID.name]
    )
    return splits.split_columns(ratings, split)


@contextlib.contextmanager
def _small_pages():
    """numpy's advice to back arrays of 4 MB and more with transparent huge pages, off.

    The data steps write each full-length array once and read it a few times, so what
    costs is getting the memory: on Linux with THP set to `madvise` a huge page's first
    fault stalls on compaction. At 20M ratings the history step took 2.7 s with the advice
    and 1.2 s without (`benchmarks/scale.py --data-only`), as linear as at 1M; at 1M the
    process reuses freed memory and sees no difference. Training's tensors are TensorFlow's,
    not numpy's, and keep their pages. A no-op where numpy has no such switch.
    """
    try:
        from numpy._core.multiarray import _set_madvise_hugepage as switch
    except ImportError:
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)


def seen_movies(
    query_users: np.ndarray, *references: Columns, movie_index: dict[str, int]
) -> list[np.ndarray]:
    """Catalogue rows each query's user rated in `references` (e.g. train, validation)."""
    by_user: dict[str, list[int]] = {}
    for columns in references:
        for user, movie in zip(columns[F.USER_ID.name], columns[F.MOVIE_ID.name]):
            by_user.setdefault(user, []).append(movie_index[movie])
    empty = np.zeros(0, dtype=np.int64)
    cache = {u: np.unique(np.array(m, dtype=np.int64)) for u, m in by_user.items()}
    return [cache.get(u, empty) for u in query_users]


def to_tf_dataset(
    columns: Columns, names, batch_size: int, shuffle_seed: int | None = None
) -> tf.data.Dataset:
    """Batches of the named columns; in a new seeded order each epoch when a seed is given.

    Rows are gathered batch by batch from tensors of whole columns (a `History` or
    `Gathered` column is built per batch from its positions or rows), and the order is a
    stateless random permutation of the row numbers (`index_shuffle`): no shuffle buffer
    holding copies of the rows, so memory stays at the columns' own size for ML-20M.
    """
    count = len(columns[names[0]])
    tensors = {}
    for name in names:
        values = columns[name]
        if hasattr(values, "lookup"):  # a History or Gathered column: gathered per batch
            tensors[name] = values.tensors()
        elif values.dtype == object:  # strings: int codes per row, each distinct string once
            tensors[name] = _Strings(values)
        else:
            tensors[name] = tf.constant(values)
    rows = tf.data.Dataset.range(count).batch(batch_size)
    if shuffle_seed is not None and count > 1:
        # A new random number each time Keras starts an epoch, so each epoch has its order.
        epochs = tf.data.Dataset.random(seed=shuffle_seed, rerandomize_each_iteration=True)

        def permuted(epoch_seed):
            return rows.map(
                lambda index: tf.random.experimental.index_shuffle(
                    index,
                    seed=tf.stack([tf.constant(shuffle_seed, tf.int64), epoch_seed]),
                    max_index=count - 1,
                )
            )

        rows = epochs.take(1).flat_map(permuted)

    def gather(index):
        return {
            name: value.lookup(index) if hasattr(value, "lookup") else tf.gather(value, index)
            for name, value in tensors.items()
        }

    return rows.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class _Strings:
    """A string column as [n, ...] int32 codes and its distinct strings: 4 bytes a value in
    TensorFlow instead of a 32-byte tf.string each (the candidate lists of ML-20M hold 138M)."""

    def __init__(self, values: np.ndarray):
        index: dict = {}
        flat = values.ravel()
        codes = np.fromiter(
            (index.setdefault(v, len(index)) for v in flat.tolist()), np.int32, count=len(flat)
        )
        self.codes = tf.constant(codes.reshape(values.shape))
        self.names = tf.constant([str(v) for v in index] or [""], dtype=tf.string)

    def lookup(self, rows):
        return tf.gather(self.names, tf.gather(self.codes, rows))
