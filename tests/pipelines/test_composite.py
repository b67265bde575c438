"""The composite `recommender`: its top k is the ranker's score order of retrieval's candidates."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from serving import contract

REQUEST = {
    "user_id": ["1", "7"],
    "user_gender": [True, False],
    "bucketized_user_age": [25.0, 35.0],
    "raw_user_age": [30.0, 40.0],
    "user_occupation_text": ["writer", "artist"],
    "user_zip_code": ["55455", "10003"],
    "timestamp": [880_000_000, 880_100_000],
    "recent_movie_ids": [["2", "3", "", ""], ["5", "", "", ""]],
    "seen_movie_ids": [["2", "3"], ["5", ""]],
}


def _call(model, inputs):
    function = model.signatures[contract.SERVING_DEFAULT]
    specs = function.structured_input_signature[1]
    return {
        k: v.numpy()
        for k, v in function(
            **{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items() if k in specs}
        ).items()
    }


def test_composite_orders_unseen_candidates_by_the_rankers_score(models_dir):
    recommender = tf.saved_model.load(str(models_dir / contract.RECOMMENDER / "1"))
    retrieval = tf.saved_model.load(str(models_dir / contract.RETRIEVAL_BRUTEFORCE / "1"))
    ranking = tf.saved_model.load(str(models_dir / contract.RANKING / "1"))
    out = _call(recommender, REQUEST)
    retrieved = _call(retrieval, REQUEST)
    for row in range(2):
        ids = retrieved[contract.MOVIE_IDS][row]
        one_user = {k: [v[row]] for k, v in REQUEST.items()}
        ranked = _call(
            ranking,
            {
                **one_user,
                "movie_id": ids,
                "retrieval_score": retrieved[contract.SCORES][row],
                "retrieval_rank": np.arange(len(ids)),
            },
        )
        seen = {m.encode() for m in REQUEST["seen_movie_ids"][row] if m}
        keep = [i for i, m in enumerate(ids) if m not in seen]
        best = sorted(keep, key=lambda i: -ranked[contract.SCORE][i])[
            : out[contract.MOVIE_IDS].shape[1]
        ]
        assert out[contract.MOVIE_IDS][row].tolist() == ids[best].tolist()
        assert np.allclose(out[contract.SCORES][row], ranked[contract.SCORE][best], atol=1e-5)
        assert np.allclose(
            out[contract.PREDICTED_RATING][row], ranked[contract.PREDICTED_RATING][best], atol=1e-5
        )
        assert not seen & set(out[contract.MOVIE_IDS][row].tolist())


def test_seen_filter_matches_string_comparison():
    import random

    import tensorflow as tf

    from pipelines.composite import contains

    rng = random.Random(0)
    seen = tf.constant([[str(rng.randrange(60)) for _ in range(40)] + [""] * 5 for _ in range(30)])
    ids = tf.constant([[str(rng.randrange(60)) for _ in range(25)] for _ in range(30)])
    expected = tf.reduce_any(tf.equal(ids[:, :, tf.newaxis], seen[:, tf.newaxis, :]), axis=2)
    assert (contains(seen, ids).numpy() == expected.numpy()).all()
