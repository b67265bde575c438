"""End to end: `recsys train retrieval` main() on tiny data, and its artefacts."""

from __future__ import annotations

import json
import os

import numpy as np

from retrieval import tune
from serving import contract


def test_main_writes_config_metrics_vocabularies_and_both_models(trained_retrieval):
    cfg, result = trained_retrieval
    run = os.path.join(cfg.run_dir, "retrieval")
    for name in (
        "config.json",
        "metrics.json",
        "metrics.md",
        "vocabularies.json",
        tune.EMBEDDINGS_FILE,
    ):
        assert os.path.isfile(os.path.join(run, name)), name
    assert json.load(open(os.path.join(run, "config.json")))["retrieval"]["index"]["k"] == 5
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["test"]["queries"] == 12  # temporal split: one test rating per user
    for value in metrics["test"]["recall"].values():  # a share of 12 queries
        assert abs(value * 12 - round(value * 12)) < 1e-9
    for name in (contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE):
        version = os.path.join(cfg.export_dir, name, "1")
        assert result["exports"][name] == version
        assert os.path.isfile(os.path.join(version, "saved_model.pb"))
        assert os.path.isfile(os.path.join(version, contract.WARMUP_FILE))
        assert {"user_id.txt", "movie_id.txt"} <= set(os.listdir(os.path.join(version, "assets")))
        meta = json.load(open(os.path.join(version, contract.METADATA_FILE)))
        assert meta["k"] == 5 and meta["model"] == name


def test_warmup_records_are_predict_requests_for_the_model(trained_retrieval):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    cfg, _ = trained_retrieval
    path = os.path.join(cfg.export_dir, contract.RETRIEVAL_BRUTEFORCE, "1", contract.WARMUP_FILE)
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    assert len(records) == 3
    log = prediction_log_pb2.PredictionLog.FromString(records[0])
    request = log.predict_log.request
    assert request.model_spec.name == contract.RETRIEVAL_BRUTEFORCE
    assert request.model_spec.signature_name == contract.SERVING_DEFAULT
    assert "user_id" in request.inputs and "recent_movie_ids" in request.inputs


def test_tune_index_writes_a_usable_index_config(trained_retrieval, tmp_path):
    from core.config import load_config
    from pipelines.config import PipelineConfig

    cfg, _ = trained_retrieval
    out = tmp_path / "index.toml"
    result = tune.tune(
        os.path.join(cfg.run_dir, "retrieval"), str(out), k=5, target=0.5, timed_queries=3, rounds=3
    )
    assert result["grid"] and result["met"] and result["rounds"] == 3
    for row in result["grid"]:  # timings repeated: the median lies within the rounds' range
        low, high = row["ms_spread"]
        assert 0 < low <= row["ms_per_query"] <= high
    tuned = load_config(PipelineConfig, [str(out)])
    assert tuned.retrieval.index.num_leaves == result["best"]["num_leaves"]
    assert result["best"]["recall"] >= 0.5
    assert (tmp_path / "index.md").read_text().count("| yes |") == 1
    assert (tmp_path / "index.png").read_bytes().startswith(b"\x89PNG")


def test_tune_index_without_a_run_says_what_to_do(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="recsys train retrieval"):
        tune.tune(str(tmp_path), str(tmp_path / "x.toml"))


def test_same_seed_same_numbers(trained_retrieval, tiny_movielens, tfds_cache, tmp_path):
    """Re-running with the same seed reproduces the metrics (within float noise)."""
    from pipelines import jobs
    from tests.conftest import tiny_config

    cfg, first = trained_retrieval
    again_cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    again, _ = jobs.train_retrieval(again_cfg, jobs.start_run(again_cfg, "retrieval"))
    a, b = first["test"], again["test"]
    assert np.allclose(list(a["recall"].values()), list(b["recall"].values()), atol=1e-6)
    assert abs(a["ndcg@10"] - b["ndcg@10"]) < 1e-6
