"""The `recent_movie_ids` context feature: what the user rated before the request time.

A rating's history holds the movies the same user rated before it in the order the
temporal split uses (time, then movie id: MovieLens does not record the order within a
second), newest first, drawn only from ratings marked visible. That is what a request
sees: the test request's history (`serving.recommend.build_profiles`) holds every earlier
rating, those in the test rating's own second included. Training on "strictly earlier
seconds" instead hid those from every training query, while 44 % of MovieLens 100K's test
requests have one (users rate in bursts): retrieval alone scored HR@10 0.167 that way,
0.189 this way. Pipelines mark every non-test rating visible, so a test rating never
appears in any query, its own or another's, and nothing from after the request time ever
does.
"""

from __future__ import annotations

import numpy as np

from core import data
from core import features as F
from core.data import Columns

PAD = F.PAD


def positions(ratings: Columns, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each rating's history lies among the visible ratings, without building it.

    Returns:
      (first, end): per rating, its history is the visible ratings (in the ratings' order)
      `[first:end]` read backwards: `first` where its user's visible ratings begin, `end`
      one past the last one before the rating.
      `first` and `end` are int32 below 2**31 ratings. Linear: counts of visible rows
      before each row and before its user's first row, with few full-length temporaries
      (at 20M ratings each is 80-160 MB of memory the kernel must first hand over).
    """
    users, times = ratings[F.USER_ID.name], ratings[F.TIMESTAMP.name]
    same_user = users[1:] == users[:-1]  # once: 20M string comparisons take seconds
    if len(users) and np.any(same_user & (times[1:] < times[:-1])):
        raise ValueError("ratings must be sorted by (user_id, timestamp): use data.load's order")
    starts = np.flatnonzero(np.r_[len(users) > 0, ~same_user])  # each user's first row
    visible_before = np.zeros(len(users) + 1, dtype=_index_type(len(users)))
    np.cumsum(visible, out=visible_before[1:])
    first = np.repeat(visible_before[starts], np.diff(np.r_[starts, len(users)]))
    return first, visible_before[:-1]


def _index_type(count: int) -> type:
    return np.int32 if count < 2**31 else np.int64


class History:
    """`recent_movie_ids` of n ratings, kept as positions instead of an [n, length] array.

    Rating i's history is `movies[first[i]:end[i]]` read backwards, at most `length` of
    them: 8 bytes a rating instead of `length` object pointers (ML-20M: 0.16 GB, not 8 GB).
    Indexing with rows gives a History of those rows; numpy (`np.asarray`) gets the
    [n, length] object array, right-padded with PAD; `core.dataset.to_tf_dataset` builds it
    batch by batch inside tf.data (`lookup`).
    """

    dtype = np.dtype(object)
    ndim = 2

    def __init__(self, codes, names, first, end, length: int):
        self.codes = codes  # [v] int32: the visible ratings' movies, as rows of `names`
        self.names = names  # [u + 1] object: movie ids, PAD last
        self.first, self.end, self.length = first, end, length

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.first), self.length)

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            return np.asarray(self)[key]
        if isinstance(key, int | np.integer):
            return np.asarray(self[np.array([key])])[0]
        return History(self.codes, self.names, self.first[key], self.end[key], self.length)

    def rows(self) -> np.ndarray:
        """[n, length] rows of `names` (the last one, PAD, where a history is shorter)."""
        take = self.end[:, None] - 1 - np.arange(self.length)[None, :]  # newest first
        present = take >= self.first[:, None]
        if not len(self.codes):
            return np.full(take.shape, len(self.names) - 1)
        return np.where(present, self.codes[np.maximum(take, 0)], len(self.names) - 1)

    def __array__(self, dtype=None, copy=None):
        out = self.names[self.rows()] if self.length else np.empty((len(self), 0), object)
        return out if dtype is None else out.astype(dtype)

    def tolist(self) -> list:
        return np.asarray(self).tolist()

    def lookup(self, rows):
        """Inside tf.data: [b] int64 rows -> [b, length] tf.string ids (`tensors()` first)."""
        import tensorflow as tf

        codes, names, first, end = self._tensors
        first, end = (tf.cast(tf.gather(at, rows), tf.int64) for at in (first, end))
        take = end[:, None] - 1 - tf.range(self.length, dtype=tf.int64)[None, :]
        pad = tf.cast(tf.shape(names)[0] - 1, tf.int32)
        index = tf.where(take >= first[:, None], tf.gather(codes, tf.maximum(take, 0)), pad)
        return tf.gather(names, index)

    def tensors(self) -> History:
        """This history with its arrays also held as tensors, for `lookup`."""
        import tensorflow as tf

        codes = self.codes if len(self.codes) else np.zeros(1, np.int32)
        self._tensors = (
            tf.constant(codes),
            tf.constant(self.names.astype(str).tolist()),
            tf.constant(self.first),
            tf.constant(self.end),
        )
        return self


def recent_history(
    ratings: Columns, visible: np.ndarray, length: int, catalogue_ids: np.ndarray | None = None
) -> History:
    """History of every rating.

    Args:
      ratings: Columns sorted by (user_id, timestamp, movie_id), as `data.load` returns them:
        within a second, the rows before a rating are its history.
      visible: [n] bool, which ratings may appear in a history.
      length: How many movies to keep per history.
      catalogue_ids: The movie table's ids, for `data.load`'s ratings: their movies are then
        read as catalogue rows (`data.movie_rows`) instead of sorting every movie id
        (np.unique of 20M strings: minutes).

    Returns:
      A History: as an array, [n, length] movie ids, newest first, right-padded with PAD.
    """
    movies = ratings[F.MOVIE_ID.name]
    first, end = positions(ratings, visible)
    if catalogue_ids is None:
        names, codes = np.unique(movies[visible], return_inverse=True)
    else:
        names, codes = catalogue_ids, data.movie_rows(ratings)[visible]
    names = np.append(names, PAD).astype(object)
    return History(codes.astype(np.int32, copy=False), names, first, end, length)
