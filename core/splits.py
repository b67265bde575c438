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
from core.columns import Gathered
from core.config import DataConfig
from core.data import Columns, id_sort_keys, movie_rows, take
from core.order import rating_order


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


def temporal_split(user_ids: np.ndarray, timestamps: np.ndarray, movie_keys: np.ndarray) -> Split:
    """Leave-last-out split per user (see module docstring).

    Args:
      user_ids: [n] str.
      timestamps: [n] int64 seconds.
      movie_keys: [n] movie ids (numeric order for numeric ids), or any keys in their order
        (`data.load`'s catalogue rows); they break timestamp ties.
    """
    movie_keys = _sortable(movie_keys)
    same_user = user_ids[1:] == user_ids[:-1]
    order = None  # data.load's order: positions are rows, O(n)
    if _in_order(user_ids, same_user, timestamps, movie_keys):
        is_last_of_user = np.append(~same_user, True)
    else:
        order = rating_order(_sortable(user_ids), timestamps, movie_keys)
        sorted_users = user_ids[order]
        is_last_of_user = np.append(sorted_users[1:] != sorted_users[:-1], True)
    last = np.flatnonzero(is_last_of_user)  # positions of each user's last rating
    eligible = np.diff(np.r_[-1, last]) >= 3  # users with at least 3 ratings
    test, validation = last[eligible], last[eligible] - 1
    train = np.ones(len(user_ids), dtype=bool)
    train[test] = False
    train[validation] = False
    parts = [np.flatnonzero(train), validation, test]
    return Split(*(parts if order is None else [np.sort(order[p]) for p in parts]))


def _in_order(
    users: np.ndarray, same_user: np.ndarray, times: np.ndarray, movies: np.ndarray
) -> bool:
    """Whether each user's rows form one block ordered by (time, movie): O(n), where the
    sort is O(n log n) (20M ratings: seconds). The blocks themselves may come in any order."""
    starts = np.flatnonzero(np.r_[True, ~same_user]) if len(users) else np.arange(0)
    if len(set(users[starts].tolist())) != len(starts):
        return False
    t, m = (times[1:], times[:-1]), (movies[1:], movies[:-1])
    later = (t[0] > t[1]) | ((t[0] == t[1]) & (m[0] >= m[1]))
    return bool(np.all(later | ~same_user))


def _sortable(keys: np.ndarray) -> np.ndarray:
    """Integer keys as they are, string ids as `id_sort_keys`."""
    return keys if np.issubdtype(keys.dtype, np.integer) else id_sort_keys(keys)


def make_split(ratings: Columns, cfg: DataConfig) -> Split:
    """The split `cfg.split` of `ratings`."""
    if cfg.split == "random":
        return random_split(
            len(ratings[F.USER_ID.name]), cfg.seed, cfg.test_fraction, cfg.validation_fraction
        )
    through_catalogue = isinstance(ratings.get(F.MOVIE_TITLE.name), Gathered)  # data.load's
    keys = movie_rows(ratings) if through_catalogue else ratings[F.MOVIE_ID.name]
    return temporal_split(ratings[F.USER_ID.name], ratings[F.TIMESTAMP.name], keys)


def split_columns(ratings: Columns, split: Split) -> dict[str, Columns]:
    """{"train": ..., "validation": ..., "test": ...} columns."""
    return {name: take(ratings, rows) for name, rows in split.parts().items()}
