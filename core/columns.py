"""Per-rating columns that are really per-movie: a movie's title and genres, read through each
rating's catalogue row instead of copied into every rating.

MovieLens 20M's genres as a float32 multi-hot copied per rating are 80 bytes a rating (1.6
GB, and again in every split part, training column and tensor); through the row they are 4.
"""

from __future__ import annotations

import numpy as np


class Gathered:
    """`table[rows]` without building it (`rows` [n] or [n, k] ints into the table's first
    axis): indexing with rows gives a Gathered of those rows,
    numpy (`np.asarray`) gets the array, and `core.dataset.to_tf_dataset` gathers it batch by
    batch inside tf.data (`tensors()`, then `lookup`)."""

    def __init__(self, rows: np.ndarray, table: np.ndarray):
        self.rows = np.asarray(rows, dtype=np.int32)
        self.table = table

    @property
    def shape(self) -> tuple[int, ...]:
        return (*self.rows.shape, *self.table.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.table.dtype

    @property
    def ndim(self) -> int:
        return self.rows.ndim + self.table.ndim - 1

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, tuple) or isinstance(key, int | np.integer):
            return np.asarray(self)[key]
        return Gathered(self.rows[key], self.table)

    def __iter__(self):
        return iter(np.asarray(self))

    def __array__(self, dtype=None, copy=None):
        out = self.table[self.rows]
        return out if dtype is None else out.astype(dtype)

    def tolist(self) -> list:
        return np.asarray(self).tolist()

    def tensors(self) -> Gathered:
        """This column with its rows and table also held as tensors, for `lookup`."""
        import tensorflow as tf

        table = self.table.astype(str).tolist() if self.table.dtype == object else self.table
        self._tensors = (tf.constant(self.rows), tf.constant(table))
        return self

    def lookup(self, index):
        """Inside tf.data: [b] int64 positions -> the values at those positions."""
        import tensorflow as tf

        rows, table = self._tensors
        return tf.gather(table, tf.gather(rows, index))
