"""Embedding penalties: the whole table every step, or only the rows a batch looks up."""

import numpy as np
import tensorflow as tf

from core.encoders import embedding_penalty


def _penalty_and_gradient(per_lookup: bool, ids: list[int]):
    """(the layer's penalty after one lookup of `ids`, the table's gradient of it)."""
    tf.keras.utils.set_random_seed(0)
    table = tf.keras.layers.Embedding(5, 2, **embedding_penalty(0.1, per_lookup))
    table.build((None,))
    with tf.GradientTape() as tape:
        table(tf.constant(ids))
        penalty = tf.add_n(table.losses)
    return table.embeddings.numpy(), float(penalty), tape.gradient(penalty, table.embeddings)


def test_the_table_penalty_sums_every_row_and_its_gradient_is_dense():
    rows, penalty, gradient = _penalty_and_gradient(False, [1, 1, 3])
    np.testing.assert_allclose(penalty, 0.1 * np.sum(rows**2), rtol=1e-6)
    assert not isinstance(gradient, tf.IndexedSlices)  # every row moves at every step
    assert np.all(np.asarray(gradient) != 0)


def test_the_lookup_penalty_averages_the_looked_up_rows_and_its_gradient_is_sparse():
    rows, penalty, gradient = _penalty_and_gradient(True, [1, 1, 3])
    expected = 0.1 * (2 * np.sum(rows[1] ** 2) + np.sum(rows[3] ** 2)) / 3
    np.testing.assert_allclose(penalty, expected, rtol=1e-6)
    assert isinstance(gradient, tf.IndexedSlices)  # LazyAdam touches rows 1 and 3 alone
    assert set(gradient.indices.numpy()) == {1, 3}


def test_no_penalty_when_l2_is_zero():
    assert embedding_penalty(0.0) == {} and embedding_penalty(0.0, per_lookup=True) == {}
