"""ScaNN and brute force behind one interface: equal when ScaNN is made exact; save -> load."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from retrieval.config import IndexConfig
from retrieval.index import build_index


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    movies = tf.constant(rng.normal(size=(50, 8)).astype(np.float32))
    ids = tf.constant([f"m{i}" for i in range(50)])
    queries = tf.constant(rng.normal(size=(7, 8)).astype(np.float32))
    return ids, movies, queries


def test_scann_with_one_leaf_and_full_reordering_equals_brute_force(data):
    ids, movies, queries = data
    cfg = IndexConfig(k=5, num_leaves=1, num_leaves_to_search=1, num_reordering_candidates=50)
    exact_scores, exact_ids = build_index(cfg, ids, movies, kind="brute_force")(queries)
    scann_scores, scann_ids = build_index(cfg, ids, movies, kind="scann")(queries)
    assert np.array_equal(exact_ids.numpy(), scann_ids.numpy())
    assert np.allclose(exact_scores.numpy(), scann_scores.numpy(), atol=1e-5)
    # and brute force is exactly numpy's top-k
    expected = np.argsort(-(queries.numpy() @ movies.numpy().T), axis=1)[:, :5]
    assert exact_ids.numpy().astype(str).tolist() == [[f"m{i}" for i in row] for row in expected]


@pytest.mark.parametrize("kind", ["brute_force", "scann"])
def test_save_load_gives_equal_results(data, kind, tmp_path):
    ids, movies, queries = data
    index = build_index(
        IndexConfig(k=4, num_leaves=4, num_leaves_to_search=2), ids, movies, kind=kind
    )
    before = index(queries)
    module = tf.Module()
    module.index = index
    module.search = tf.function(
        lambda q: index(q), input_signature=[tf.TensorSpec([None, 8], tf.float32)]
    )
    options = tf.saved_model.SaveOptions(namespace_whitelist=["Scann"])
    tf.saved_model.save(module, str(tmp_path), options=options)
    loaded = tf.saved_model.load(str(tmp_path))
    after = loaded.search(queries)
    assert np.array_equal(before[1].numpy(), after[1].numpy())
    assert np.allclose(before[0].numpy(), after[0].numpy())


def test_k_larger_than_catalogue_is_a_clear_error(data):
    ids, movies, _ = data
    with pytest.raises(ValueError, match="index.k=60 exceeds the 50 movies"):
        build_index(IndexConfig(k=60), ids, movies)
