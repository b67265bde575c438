"""`recsys train ranking` end to end on tiny data; the exported model and its contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from serving import contract
from tests import saved_model_cli

FRESH_PREDICT = """
import json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
signature = model.signatures["serving_default"]
specs = signature.structured_input_signature[1]
out = []
for inputs in json.load(open(sys.argv[2])):
    result = signature(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()})
    out.append([result[k].numpy().tolist() for k in ("predicted_rating", "score")])
print(json.dumps(out))
"""


def _call(model, inputs):
    function = model.signatures[contract.SERVING_DEFAULT]
    specs = function.structured_input_signature[1]
    return function(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()})[
        contract.PREDICTED_RATING
    ]


@pytest.fixture(scope="module")
def loaded(trained_ranking):
    cfg, result = trained_ranking
    return cfg, result, tf.saved_model.load(result["exports"]["ranking"])


def _user(n=1, user_id="1", movie_ids=("1", "2", "3")):
    return {
        "user_id": [user_id] * n,
        "timestamp": [880_000_000] * n,
        "user_gender": [True] * n,
        "bucketized_user_age": [25.0] * n,
        "raw_user_age": [30.0] * n,
        "user_occupation_text": ["writer"] * n,
        "user_zip_code": ["55455"] * n,
        "recent_movie_ids": [["4", "5", "", ""]] * n,
        "movie_id": list(movie_ids),
        "retrieval_score": [0.5] * len(movie_ids),
        "retrieval_rank": list(range(len(movie_ids))),
    }


def test_main_writes_artefacts_and_metrics(trained_ranking):
    cfg, result = trained_ranking
    for name in ("config.json", "metrics.json", "metrics.md", "vocabularies.json"):
        assert os.path.isfile(os.path.join(cfg.run_dir, "ranking", name)), name
    assert 0 < result["test"]["rmse"] < 4 and 0 < result["test"]["mae"] < 4
    version = result["exports"]["ranking"]
    assert version.endswith(os.path.join("ranking", "1"))
    for path in (
        "saved_model.pb",
        contract.WARMUP_FILE,
        contract.METADATA_FILE,
        "assets/title_tokens.txt",
    ):
        assert os.path.isfile(os.path.join(version, path)), path


def test_one_user_broadcast_over_candidates_equals_repeated_user(loaded):
    _, _, model = loaded
    once = _call(model, _user(n=1)).numpy()
    repeated = _call(model, _user(n=3)).numpy()
    assert once.shape == (3,)
    assert np.allclose(once, repeated)
    assert np.all((once >= 1.0) & (once <= 5.0))


def test_unknown_user_and_movie_still_get_predictions(loaded):
    _, _, model = loaded
    out = _call(model, _user(user_id="never-seen", movie_ids=("1", "no-such-movie"))).numpy()
    assert out.shape == (2,) and np.all(np.isfinite(out))


def test_mismatched_lengths_are_an_error_not_a_wrong_answer(loaded):
    _, _, model = loaded
    bad = _user(n=2)  # two users for three movies
    with pytest.raises(tf.errors.InvalidArgumentError, match="length 1 or the number of movie_id"):
        _call(model, bad)


def test_fresh_process_predicts_what_the_trained_model_predicts(
    trained_ranking, tiny_movielens, tfds_cache, tmp_path
):
    from pipelines import jobs
    from ranking import export
    from tests.conftest import tiny_config

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    run = jobs.start_run(cfg, "ranking")
    result, ranker = jobs.train_ranking(cfg, run)
    path = result["exports"]["ranking"]
    requests = export.example_requests(run.prepared, ranker.feature_names)
    module = export.RankingServingModule(ranker)
    signature = module.serving_signatures["serving_default"]
    expected = [
        [signature(**r)[k].numpy().tolist() for k in ("predicted_rating", "score")]
        for r in requests
    ]
    request_file = tmp_path / "requests.json"
    request_file.write_text(json.dumps([{k: v.tolist() for k, v in r.items()} for r in requests]))
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    run = subprocess.run(
        [sys.executable, "-c", FRESH_PREDICT, path, str(request_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert np.allclose(json.loads(run.stdout.strip().splitlines()[-1]), expected, atol=1e-5)


def test_saved_model_cli_show_and_run(loaded):
    _, result, _ = loaded
    path = result["exports"]["ranking"]
    shown = saved_model_cli.show(path)
    for key in (
        "user_id",
        "movie_id",
        "timestamp",
        "recent_movie_ids",
        "retrieval_score",
        "predicted_rating",
        "score",
    ):
        assert f"['{key}']" in shown
    exprs = (
        "user_id=['1'];movie_id=['1','2'];timestamp=[880000000];user_gender=[True];"
        "bucketized_user_age=[25.0];raw_user_age=[30.0];user_occupation_text=['writer'];"
        "user_zip_code=['55455'];recent_movie_ids=[['3','']];retrieval_score=[0.5,0.4];retrieval_rank=[0,1]"
    )
    assert "predicted_rating" in saved_model_cli.run(path, exprs)


def test_vocabularies_and_statistics_come_from_the_training_part(
    trained_ranking, tiny_movielens, tfds_cache
):
    from core.dataset import prepare
    from core.vocab import Vocabularies

    cfg, _ = trained_ranking
    prepared = prepare(cfg.data)
    saved = Vocabularies.load(os.path.join(cfg.run_dir, "ranking"))
    train_users = set(prepared.parts["train"]["user_id"])
    assert set(saved.user_id) == train_users
    assert set(saved.movie_id) == set(prepared.parts["train"]["movie_id"])
    timestamps = prepared.parts["train"]["timestamp"].astype(np.float64)
    assert np.isclose(saved.numeric_stats["timestamp"][0], timestamps.mean())


def test_blend_averages_networks_and_autorec_where_autorec_knows_user_and_movie(
    tiny_movielens, tfds_cache, tmp_path
):
    from pipelines import jobs
    from ranking import train
    from ranking.model import RatingBlend
    from tests.conftest import tiny_config

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path, "ranking.autorec.weight=0.25")
    run = jobs.start_run(cfg, "ranking")
    prepared = run.prepared
    blend = train.train(cfg.ranking, prepared, run.vocab_files, cfg.data.seed)
    assert isinstance(blend, RatingBlend)
    test = dict(prepared.parts["test"])
    test["user_id"] = np.where(
        np.arange(len(test["user_id"])) % 2 == 0, test["user_id"], "never-seen"
    )
    networks = train.predict(blend.networks, test)
    autorec, known = (
        t.numpy()
        for t in blend.autorec(
            tf.constant(test["user_id"].astype(str)), tf.constant(test["movie_id"].astype(str))
        )
    )
    assert known.any() and not known.all()
    expected = np.where(known, 0.75 * networks + 0.25 * autorec, networks)
    assert np.allclose(train.predict(blend, test), expected, atol=1e-5)
