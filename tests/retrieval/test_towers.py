"""Tower shapes, the out-of-vocabulary path, and the TF twin of the zip prefix."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core import features as F
from core import vocab as vocab_lib
from core.encoders import zip_prefix
from retrieval.config import TaskConfig, TowerConfig
from retrieval.model import build_model
from retrieval.towers import query_feature_names

CFG = TowerConfig(
    id_embedding_dim=8, feature_embedding_dim=4, hidden_layers=(16,), output_dim=6, history_length=2
)


@pytest.fixture(scope="module")
def model_and_vocab(tmp_path_factory):
    vocab = vocab_lib.Vocabularies(
        user_id=("1", "2"),
        movie_id=("10", "20", "30"),
        user_occupation_text=("artist", "writer"),
        zip_prefix=("554", "T8H"),
        title_tokens=("star", "wars"),
        numeric_stats={"timestamp": (880_000_000.0, 1e12), "raw_user_age": (30.0, 100.0)},
    )
    files = vocab.write_files(str(tmp_path_factory.mktemp("vocab")))
    return build_model(
        vocab,
        files,
        CFG,
        TaskConfig(),
    ), vocab


def _queries(user_ids, occupations=None, zips=None, history=None):
    n = len(user_ids)
    return {
        "user_id": tf.constant(user_ids),
        "user_gender": tf.constant([True] * n),
        "bucketized_user_age": tf.constant([25.0] * n),
        "raw_user_age": tf.constant([31.0] * n),
        "user_occupation_text": tf.constant(occupations or ["artist"] * n),
        "user_zip_code": tf.constant(zips or ["55455"] * n),
        "timestamp": tf.constant([880_000_000] * n, dtype=tf.int64),
        "recent_movie_ids": tf.constant(history or [["10", ""]] * n),
    }


def test_query_and_candidate_shapes_and_unit_norm(model_and_vocab):
    model, vocab = model_and_vocab
    q = model.query_tower(_queries(["1", "2", "1"]))
    assert q.shape == (3, CFG.output_dim)
    c = model.candidate_tower(
        {
            "movie_id": tf.constant(["10", "20"]),
            "movie_title": tf.constant(["Star Wars (1977)", "x"]),
            "movie_genres": tf.constant(np.eye(2, len(F.GENRES), dtype=np.float32)),
        }
    )
    assert c.shape == (2, CFG.output_dim)
    assert np.allclose(np.linalg.norm(q.numpy(), axis=1), 1.0, atol=1e-5)
    assert query_feature_names(vocab, CFG)[0] == "user_id"


def test_unknown_values_get_an_embedding_from_the_oov_buckets(model_and_vocab):
    model, _ = model_and_vocab
    unknown = model.query_tower(
        _queries(
            ["never-seen", "1"],
            occupations=["astronaut", "astronaut"],
            zips=["", "00000"],
            history=[["", ""], ["999", ""]],
        )
    ).numpy()
    assert np.all(np.isfinite(unknown))
    known = model.query_tower(_queries(["1"])).numpy()
    assert not np.allclose(unknown[1], known[0]), "the OOV occupation and zip must change the query"


def test_empty_history_is_zero_not_nan(model_and_vocab):
    model, _ = model_and_vocab
    out = model.query_tower(_queries(["1"], history=[["", ""]])).numpy()
    assert np.all(np.isfinite(out))


def test_zip_prefix_tf_matches_python():
    codes = ["55455", " t8h1n", "V3N4P", "12", ""]
    got = [z.decode() for z in zip_prefix(tf.constant(codes)).numpy()]
    assert got == [F.zip_prefix(c) for c in codes]


@pytest.mark.parametrize(
    "task, tower",
    [
        (TaskConfig(), CFG),
        (TaskConfig(num_hard_negatives=2, logq_correction=False), CFG),
        (
            TaskConfig(remove_accidental_hits=False, temperature=0.0),
            TowerConfig(**{**CFG.__dict__, "normalize": False}),
        ),
    ],
)
def test_every_task_switch_gives_a_finite_loss_and_gradients(
    model_and_vocab, tmp_path, task, tower
):
    from retrieval.model import SAMPLING_PROBABILITY

    _, vocab = model_and_vocab
    model = build_model(vocab, vocab.write_files(str(tmp_path)), tower, task)
    batch = {
        **_queries(["1", "2", "1", "2"]),
        "movie_id": tf.constant(["10", "20", "10", "30"]),  # rows 0 and 2: an accidental hit
        "movie_title": tf.constant(["Star Wars (1977)"] * 4),
        "movie_genres": tf.constant(np.eye(4, len(F.GENRES), dtype=np.float32)),
        SAMPLING_PROBABILITY: tf.constant([0.5, 0.25, 0.5, 0.25]),
    }
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=True)
    gradients = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(loss.numpy())
    assert any(
        g is not None and np.any(g.numpy() != 0)
        for g in gradients
        if not isinstance(g, tf.IndexedSlices)
    )


def test_out_of_range_numbers_saturate():
    from core.encoders import STANDARDIZED_LIMIT, standardize

    out = standardize(
        tf.constant([0, 880_000_000, 1_800_000_000], tf.int64), (880_000_000.0, 1e12)
    ).numpy()
    assert out.tolist() == [-STANDARDIZED_LIMIT, 0.0, STANDARDIZED_LIMIT]


def test_history_attention_reads_order_masks_padding_and_survives_export(tmp_path):
    """SASRec's encoder in the query tower: the order of the history matters (the mean does
    not see it), padding does not, and a SavedModel of the tower answers the same."""
    from retrieval.towers import HistoryAttention

    tf.keras.utils.set_random_seed(0)
    layer = HistoryAttention(length=3, dim=8, num_layers=1, num_heads=2, dropout=0.0)
    movies = tf.random.normal([1, 3, 8])
    present = tf.constant([[True, True, False]])
    out = layer(movies, present).numpy()
    swapped = layer(tf.gather(movies, [1, 0, 2], axis=1), present).numpy()
    assert not np.allclose(out, swapped)
    noise = tf.concat([movies[:, :2], tf.random.normal([1, 1, 8])], axis=1)
    np.testing.assert_allclose(layer(noise, present).numpy(), out, atol=1e-5)

    vocab = vocab_lib.Vocabularies(
        user_id=("1",),
        movie_id=("10", "20"),
        user_occupation_text=("artist",),
        zip_prefix=("554",),
        title_tokens=("x",),
        numeric_stats={"timestamp": (880_000_000.0, 1e12), "raw_user_age": (30.0, 100.0)},
    )
    files = vocab.write_files(str(tmp_path / "vocab"))
    cfg = TowerConfig(**{**CFG.__dict__, "attention_layers": 1, "attention_heads": 2})
    tower = build_model(vocab, files, cfg, TaskConfig()).query_tower
    queries = _queries(["1", "1"], history=[["10", "20"], ["20", "10"]])
    expected = tower(queries).numpy()
    assert not np.allclose(expected[0], expected[1])
    signature = {k: tf.TensorSpec([None, *v.shape[1:]], v.dtype) for k, v in queries.items()}
    module = tf.Module()
    module.tower = tower
    module.call = tf.function(lambda inputs: tower(inputs), input_signature=[signature])
    tf.saved_model.save(module, str(tmp_path / "tower"))
    loaded = tf.saved_model.load(str(tmp_path / "tower"))
    np.testing.assert_allclose(loaded.call(queries).numpy(), expected, atol=1e-5)
