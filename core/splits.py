"""Train / validation / test splits of the ratings, deterministic from a seed.

* `random`: a seeded shuffle; `test_fraction` of all ratings is test, then
  `validation_fraction` of the rest is validation. The TFRS tutorials' protocol
  (80/20 with the defaults), for comparing with their published numbers.
* `temporal`: per user, ordered by (timestamp, movie id): the last rating is test,
  the one before is validation, the rest is train. Every train rating of a user is
  no later than their validation rating, which is no later than their test rating,
  so no future leaks into training. Users with fewer than 3 ratings are all train.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core import features as F
from core.config import DataConfig
from core.data import Columns, id_sort_keys, take


@dataclasses.dataclass(frozen=True)
class Split:
    """Row indices into the ratings, sorted ascending.

    Attributes:
      train: [n_train] int64.
      validation: [n_validation] int64.
      test: [n_test] int64.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def parts(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def random_split(
    num_rows: int, seed: int, test_fraction: float, validation_fraction: float
) -> Split:
    """Seeded random split of `num_rows` rows.

    Returns:
      A Split with round(num_rows * test_fraction) test rows and
      round((num_rows - n_test) * validation_fraction) validation rows.
    """
    order = np.random.default_rng(seed).permutation(num_rows)
    num_test = int(round(num_rows * test_fraction))
    num_validation = int(round((num_rows - num_test) * validation_fraction))
    test, validation, train = np.split(order, [num_test, num_test + num_validation])
    return Split(np.sort(train), np.sort(validation), np.sort(test))


def temporal_split(user_ids: np.ndarray, timestamps: np.ndarray, movie_ids: np.ndarray) -> Split:
    """Leave-last-out split per user (see module docstring).

    Args:
      user_ids: [n] str.
      timestamps: [n] int64 seconds.
      movie_ids: [n] str; breaks timestamp ties (numeric order for numeric ids).
    """
    users, movies = id_sort_keys(user_ids), id_sort_keys(movie_ids)
    if _in_order(users, timestamps, movies):  # data.load's order: no sort needed
        order = np.arange(len(users))
    else:
        order = np.lexsort([movies, timestamps, users])
    sorted_users = user_ids[order]
    # Rank of each row counted from the user's last rating: 0 = last.
    is_last_of_user = np.append(sorted_users[1:] != sorted_users[:-1], True)
    user_end = np.flatnonzero(is_last_of_user)
    user_start = np.concatenate([[0], user_end[:-1] + 1])
    counts = user_end - user_start + 1
    position = np.arange(len(order)) - np.repeat(user_start, counts)
    from_last = np.repeat(counts, counts) - 1 - position
    eligible = np.repeat(counts, counts) >= 3
    test = order[eligible & (from_last == 0)]
    validation = order[eligible & (from_last == 1)]
    train = order[~eligible | (from_last >= 2)]
    return Split(np.sort(train), np.sort(validation), np.sort(test))


def _in_order(users: np.ndarray, times: np.ndarray, movies: np.ndarray) -> bool:
    """Whether rows are already sorted by (user, time, movie) keys: O(n), where the sort is
    O(n log n) (20M ratings: seconds)."""
    u, t, m = (users[1:], users[:-1]), (times[1:], times[:-1]), (movies[1:], movies[:-1])
    same_user, same_time = u[0] == u[1], t[0] == t[1]
    later = (u[0] > u[1]) | (same_user & ((t[0] > t[1]) | (same_time & (m[0] >= m[1]))))
    return bool(np.all(later))


def make_split(ratings: Columns, cfg: DataConfig) -> Split:
    """The split `cfg.split` of `ratings`."""
    if cfg.split == "random":
        return random_split(
            len(ratings[F.USER_ID.name]), cfg.seed, cfg.test_fraction, cfg.validation_fraction
        )
    return temporal_split(
        ratings[F.USER_ID.name], ratings[F.TIMESTAMP.name], ratings[F.MOVIE_ID.name]
    )


def split_columns(ratings: Columns, split: Split) -> dict[str, Columns]:
    """{"train": ..., "validation": ..., "test": ...} columns."""
    return {name: take(ratings, rows) for name, rows in split.parts().items()}
