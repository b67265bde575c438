"""The composite `recommender`: its top k is the ranker's score order of retrieval's candidates."""

from __future__ import annotations

import numpy as np
import pytest
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


def _call(model, inputs, signature: str = contract.SERVING_DEFAULT):
    function = model.signatures[signature]
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
    retrieved = _call(retrieval, REQUEST, contract.UNSEEN_CANDIDATES_SIGNATURE)
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
        best = sorted(range(len(ids)), key=lambda i: -ranked[contract.SCORE][i])[
            : out[contract.MOVIE_IDS].shape[1]
        ]
        assert out[contract.MOVIE_IDS][row].tolist() == ids[best].tolist()
        assert np.allclose(out[contract.SCORES][row], ranked[contract.SCORE][best], atol=1e-5)
        assert np.allclose(
            out[contract.PREDICTED_RATING][row], ranked[contract.PREDICTED_RATING][best], atol=1e-5
        )
        seen = {m.encode() for m in REQUEST["seen_movie_ids"][row] if m}
        assert not seen & set(out[contract.MOVIE_IDS][row].tolist())


def test_a_user_who_has_seen_retrievals_top_movies_still_gets_k(models_dir):
    """Seen movies are left out before the N candidates are taken, not after: a user who has
    seen retrieval's whole top N still gets k movies. One who has seen all but 2 of the
    catalogue gets those 2, the rest of the row scored -inf."""
    from serving.recommend import load_movies

    recommender = tf.saved_model.load(str(models_dir / contract.RECOMMENDER / "1"))
    retrieval = tf.saved_model.load(str(models_dir / contract.RETRIEVAL_BRUTEFORCE / "1"))
    user = {k: [v[0]] for k, v in REQUEST.items()}
    top = [m.decode() for m in _call(retrieval, user)[contract.MOVIE_IDS][0]]
    k = _call(recommender, user)[contract.MOVIE_IDS].shape[1]
    catalogue = sorted(load_movies(str(models_dir)))
    left = [m for m in catalogue if m not in top][:2]
    assert len(top) > k > len(left)
    for seen, expected in ((top, None), ([m for m in catalogue if m not in left], left)):
        out = _call(recommender, {**user, "seen_movie_ids": [seen]})
        ids = [m.decode() for m in out[contract.MOVIE_IDS][0]]
        found = int(np.isfinite(out[contract.SCORES][0]).sum())
        assert found == (len(expected) if expected else k)
        assert not set(ids[:found]) & set(seen)
        if expected:
            assert sorted(ids[:found]) == sorted(expected)


def test_seen_filter_matches_string_comparison():
    import random

    import tensorflow as tf

    from serving.savedmodel import contains

    rng = random.Random(0)
    seen = tf.constant([[str(rng.randrange(60)) for _ in range(40)] + [""] * 5 for _ in range(30)])
    ids = tf.constant([[str(rng.randrange(60)) for _ in range(25)] for _ in range(30)])
    expected = tf.reduce_any(tf.equal(ids[:, :, tf.newaxis], seen[:, tf.newaxis, :]), axis=2)
    assert (contains(seen, ids).numpy() == expected.numpy()).all()
    assert not contains(tf.zeros([30, 0], tf.string), ids).numpy().any()  # nothing seen


def test_time_features_clip_to_the_training_range(models_dir, trained):
    """A request 30 years after the data is answered as at the data's last second, by every
    time-reading model; inside the range, time still matters."""
    from core.vocab import Vocabularies

    cfg, _ = trained
    first, last = Vocabularies.load(f"{cfg.run_dir}/retrieval").time_range
    assert first < last
    recommender = tf.saved_model.load(str(models_dir / contract.RECOMMENDER / "1"))
    ranking = tf.saved_model.load(str(models_dir / contract.RANKING / "1"))
    candidates = {"movie_id": ["1", "2", "3"], "retrieval_score": [0.3, 0.2, 0.1]}
    candidates["retrieval_rank"] = [0, 1, 2]

    def answers(when: int):
        request = {**REQUEST, "timestamp": [when, when]}
        one = {**{k: [v[0]] for k, v in request.items()}, **candidates}
        return _call(recommender, request), _call(ranking, one)

    week = 7 * 86_400  # whole weeks keep the weekday and hour, which are not clipped
    at_end, later = answers(last), answers(last + 1565 * week)  # 30 years later
    at_start = answers(first)
    for now, future in zip(at_end, later):
        for key in now:
            if now[key].dtype.kind == "f":
                np.testing.assert_allclose(now[key], future[key], atol=1e-5, err_msg=key)
            else:
                np.testing.assert_array_equal(now[key], future[key], err_msg=key)
    # Inside the range time still counts (standardised time, movie age).
    assert not np.allclose(
        at_start[1][contract.PREDICTED_RATING], at_end[1][contract.PREDICTED_RATING]
    )


def test_list_signatures_equal_the_flat_signature_per_candidate(models_dir):
    """The ranking export's `score_lists` and `rate_lists` (history looked up once per list)
    answer each list exactly as `serving_default` answers its candidates one row each;
    mismatched rows fail."""
    ranking = tf.saved_model.load(str(models_dir / contract.RANKING / "1"))
    candidates = {
        "movie_id": [["1", "4", "9", "nope"], ["2", "3", "7", "1"]],
        "retrieval_score": [[0.9, 0.5, 0.2, 0.1], [0.8, 0.7, 0.3, 0.0]],
        "retrieval_rank": [[0, 1, 2, 3], [0, 1, 2, 3]],
    }
    answer = {}
    for name in (contract.SCORE_LISTS_SIGNATURE, contract.RATE_LISTS_SIGNATURE):
        lists = ranking.signatures[name]
        specs = lists.structured_input_signature[1]
        inputs = {k: v for k, v in {**REQUEST, **candidates}.items() if k in specs}
        outputs = lists(**{k: tf.constant(v, specs[k].dtype) for k, v in inputs.items()})
        answer.update({k: v.numpy() for k, v in outputs.items()})
        short = {**inputs, "user_id": ["1"]}
        with pytest.raises(tf.errors.InvalidArgumentError, match="rows"):
            lists(**{k: tf.constant(v, specs[k].dtype) for k, v in short.items()})
    assert set(answer) == {contract.SCORE, contract.PREDICTED_RATING, contract.MOVIE_TITLE}
    assert "retrieval_score" not in specs  # rate_lists reads what the rating network reads
    for row in range(2):
        flat = {k: [v[row]] * 4 for k, v in REQUEST.items() if k not in candidates}
        flat.update({k: v[row] for k, v in candidates.items()})
        expected = _call(ranking, flat)
        assert set(expected) == set(answer)
        for key, value in expected.items():
            assert answer[key].shape == (2, 4)
            if value.dtype.kind == "f":
                np.testing.assert_allclose(answer[key][row], value, atol=1e-5, err_msg=key)
            else:
                np.testing.assert_array_equal(answer[key][row], value, err_msg=key)
