"""The `recent_movie_ids` context feature: what the user rated before the request time.

A rating's history holds the movies the same user rated strictly earlier (a rating
at the same second is not "before"), newest first, drawn only from ratings marked
visible. Pipelines mark every non-test rating visible, so a test rating never
appears in any query, its own or another's, and nothing from after the request
time ever does.
"""

from __future__ import annotations

import numpy as np

from core import features as F
from core.data import Columns

PAD = F.PAD


def positions(
    ratings: Columns, visible: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each rating's history lies among the visible ratings, without building it.

    Returns:
      (shown, first, end): `shown` the [v] row indices of the visible ratings (in the
      ratings' order); per rating, its history is `shown[first:end]` read backwards: `first`
      where its user's visible ratings begin, `end` one past the last one strictly earlier
      than the rating. Vectorised: one sort key (user, time), two binary searches.
    """
    users, times = ratings[F.USER_ID.name], ratings[F.TIMESTAMP.name]
    if len(users) and np.any(
        (users[1:] == users[:-1]) & (times[1:] < times[:-1])
    ):
        raise ValueError("ratings must be sorted by (user_id, timestamp): use data.load's order")
    new_user = np.ones(len(users), dtype=bool)
    new_user[1:] = users[1:] != users[:-1]
    user_index = np.cumsum(new_user) - 1  # 0, 1, ... in the ratings' (sorted) order
    keys = (user_index.astype(np.int64) << 34) + (times.astype(np.int64) - times.min(initial=0))
    shown = np.flatnonzero(visible)
    end = np.searchsorted(keys[shown], keys, side="left")
    first = np.searchsorted(keys[shown], user_index.astype(np.int64) << 34, side="left")
    return shown, first, end


def recent_history(ratings: Columns, visible: np.ndarray, length: int) -> np.ndarray:
    """History of every rating.

    Args:
      ratings: Columns sorted by (user_id, timestamp, movie_id), as `data.load` returns them.
      visible: [n] bool, which ratings may appear in a history.
      length: How many movies to keep per history.

    Returns:
      [n, length] object array of movie ids, newest first, right-padded with PAD.
    """
    movies = ratings[F.MOVIE_ID.name]
    if length == 0 or len(movies) == 0:
        return np.full((len(movies), length), PAD, dtype=object)
    shown, first, end = positions(ratings, visible)
    take = end[:, None] - 1 - np.arange(length)[None, :]  # newest first
    present = take >= first[:, None]
    out = movies[shown[np.where(present, take, 0)]] if len(shown) else np.full(take.shape, PAD)
    return np.where(present, out, PAD).astype(object)
