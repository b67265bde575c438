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


def recent_history(ratings: Columns, visible: np.ndarray, length: int) -> np.ndarray:
    """History of every rating.

    Args:
      ratings: Columns sorted by (user_id, timestamp, movie_id), as `data.load` returns them.
      visible: [n] bool, which ratings may appear in a history.
      length: How many movies to keep per history.

    Returns:
      [n, length] object array of movie ids, newest first, right-padded with PAD.
    """
    users = ratings[F.USER_ID.name]
    times = ratings[F.TIMESTAMP.name]
    movies = ratings[F.MOVIE_ID.name]
    out = np.full((len(users), length), PAD, dtype=object)
    if length == 0 or len(users) == 0:
        return out
    boundaries = np.flatnonzero(users[1:] != users[:-1]) + 1
    for start, end in zip(
        np.concatenate([[0], boundaries]), np.concatenate([boundaries, [len(users)]]), strict=False
    ):
        block_times = times[start:end]
        if np.any(np.diff(block_times) < 0):
            raise ValueError(
                "ratings must be sorted by (user_id, timestamp): use data.load's order"
            )
        shown = np.flatnonzero(visible[start:end])
        shown_times = block_times[shown]
        # For each rating, how many visible ratings of the user are strictly earlier.
        earlier = np.searchsorted(shown_times, block_times, side="left")
        for offset, count in enumerate(earlier):
            recent = movies[start + shown[max(0, count - length) : count]][::-1]
            out[start + offset, : len(recent)] = recent
    return out
