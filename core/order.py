"""The order of ratings every part of the project reads: by user, then time, then movie."""

from __future__ import annotations

import numpy as np


def _integer_key(users: np.ndarray, times: np.ndarray, movies: np.ndarray) -> np.ndarray | None:
    """One int64 key per row, `user << 32 | (time - first time)`, for integer keys whose
    users fit in 31 bits and times in 32; None for other keys. Built in place: at 20M
    ratings every full-length temporary is 160 MB of memory the kernel must hand over."""
    integer = all(np.issubdtype(k.dtype, np.integer) for k in (users, times, movies))
    if not (
        integer
        and 0 <= users.min()
        and users.max() < 2**31
        and int(times.max()) - int(times.min()) < 2**32
    ):
        return None
    key = users.astype(np.int64)
    key <<= 32
    key -= times.min()  # then + times: the offset (< 2**32) fills the free low bits
    key += times
    return key


def rating_order(users: np.ndarray, times: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """The row order by (user, time, movie) of the three [n] key columns.

    Integer keys sort as one int64 key (`_integer_key`; a stable sort, fast on rows already
    grouped by user as MovieLens files are); only the rows tied on (user, time) are then
    ordered by movie. Other keys (text ids) take `np.lexsort`, which on 20M rows took 12 s
    where this takes under 1.
    """
    if not len(users):
        return np.arange(0)
    key = _integer_key(users, times, movies)
    if key is None:
        return np.lexsort([movies, times, users])
    return _key_order(key, movies)


def order_unless_sorted(
    users: np.ndarray, times: np.ndarray, movies: np.ndarray
) -> np.ndarray | None:
    """`rating_order`, or None when the rows already are in it: files written in that order
    are neither sorted nor copied. The key is built once for the check and the sort."""
    if not len(users):
        return None
    key = _integer_key(users, times, movies)
    if key is None:
        return np.lexsort([movies, times, users])
    return None if _key_in_order(key, movies) else _key_order(key, movies)


def _key_order(key: np.ndarray, movies: np.ndarray) -> np.ndarray:
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(tied):  # each tie group holds consecutive positions: reorder them by movie
        at = np.union1d(tied, tied + 1)
        order[at] = order[at][np.lexsort([movies[order[at]], ordered[at]])]
    return order


def _key_in_order(key: np.ndarray, movies: np.ndarray) -> bool:
    step = key[1:] - key[:-1]
    tied = step == 0
    return bool(np.all(step >= 0) and np.all(movies[1:][tied] >= movies[:-1][tied]))
