"""LazyAdam: Adam on the rows a batch touches, nothing on the others."""

import numpy as np
import tensorflow as tf

from core.config import TrainerConfig
from core.training import LazyAdam, optimizer


def _tables(optimizer_class, batches):
    """An embedding table and a dense weight after one step per batch of ids."""
    tf.keras.utils.set_random_seed(0)
    table = tf.keras.layers.Embedding(6, 3)
    table.build((None,))
    dense = tf.Variable(np.ones(3, np.float32))
    opt = optimizer_class(learning_rate=0.1)
    for ids in batches:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(table(tf.constant(ids)) - 1.0) * dense)
        variables = [table.embeddings, dense]
        gradients = tape.gradient(loss, variables)
        assert isinstance(gradients[0], tf.IndexedSlices)
        opt.apply_gradients(zip(gradients, variables))
    return table.embeddings.numpy(), dense.numpy()


def test_the_first_step_is_adams_and_untouched_rows_stay_put_afterwards():
    before, _ = _tables(LazyAdam, [])
    lazy, lazy_dense = _tables(LazyAdam, [[0, 2, 2]])  # row 2 twice: its gradients add up
    adam, adam_dense = _tables(tf.keras.optimizers.Adam, [[0, 2, 2]])
    np.testing.assert_allclose(lazy, adam, atol=1e-6)  # moments start at 0: the same step
    np.testing.assert_allclose(lazy_dense, adam_dense, atol=1e-6)
    np.testing.assert_array_equal(lazy[[1, 3, 4, 5]], before[[1, 3, 4, 5]])
    lazy, _ = _tables(LazyAdam, [[0, 2], [1]])
    adam, _ = _tables(tf.keras.optimizers.Adam, [[0, 2], [1]])
    first, _ = _tables(LazyAdam, [[0, 2]])
    np.testing.assert_array_equal(lazy[[0, 2]], first[[0, 2]])  # not in the second batch
    assert not np.allclose(adam[[0, 2]], first[[0, 2]])  # Adam keeps moving them
    assert not np.allclose(lazy[1], before[1])


def test_the_configured_name_builds_it():
    assert isinstance(optimizer(TrainerConfig(optimizer="lazy_adam")), LazyAdam)
