"""The export gate (finite, not worse than the last blessed model), what it writes, and the
client never printing NaN as JSON."""

from __future__ import annotations

import json
import math

import pytest

from pipelines import gate, jobs
from pipelines.config import GateConfig, PipelineConfig
from serving.recommend import to_json


def _blessed(base, version: int, lineage: str, metrics: dict) -> None:
    meta = base / str(version) / "assets.extra" / "recsys.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"lineage": lineage, "test_metrics": metrics}))


def test_the_gate_blesses_refuses_and_writes_its_decision(tmp_path):
    base, run = tmp_path / "models" / "ranking", tmp_path / "run"
    data = "movielens-100k:random:abc"
    cfg = GateConfig(margin=0.02)

    def decide(rmse, lineage=data, config=cfg):
        metrics = {"combined": {"rmse": rmse, "mae": 0.7}, "dcn": {"rmse": 0.95, "mae": 0.7}}
        return gate.apply(
            str(run), "ranking", metrics, metrics["combined"], lineage, str(base), config
        )

    assert decide(0.95)["blessed"]  # nothing to compare with yet
    _blessed(base, 1, data, {"rmse": 0.90})
    _blessed(base, 2, "movielens-latest-small:random:def", {"rmse": 0.80})  # other data
    within = decide(0.915)  # 1.7 % worse than version 1, the last blessed on the same data
    assert within["blessed"] and within["baseline"] == {"version": 1, "value": 0.90}
    with pytest.raises(gate.ExportRefused, match=r"rmse 0\.9300 is 3\.3 % worse .* version 1"):
        decide(0.93)
    written = json.loads((run / "blessing.json").read_text())
    assert written["blessed"] is False and written["value"] == 0.93
    assert decide(0.93, config=GateConfig(margin=0.02, force=True))["forced"]
    assert decide(0.93, lineage="movielens-100k:temporal:xyz")["blessed"]  # not comparable
    with pytest.raises(gate.ExportRefused, match=r"not finite.*combined\.rmse.*learning_rate"):
        decide(math.nan, config=GateConfig(force=True))  # never exported, even when forced


def test_a_refused_export_is_written_to_the_runs_metrics(tmp_path):
    class Vocab:
        @staticmethod
        def fingerprint():
            return "abc"

    class Data:
        vocab = Vocab()

    cfg = PipelineConfig(export_dir=str(tmp_path / "models"))
    run = jobs.Run(str(tmp_path / "run"), prepared=Data(), vocab_files={})
    with pytest.raises(gate.ExportRefused):
        jobs.export_gate(cfg, run, "ranking", {"rmse": math.inf}, {"rmse": math.inf}, {"x": 1})
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["exported"] is False and written["x"] == 1
    assert "diverged" in written["blessing"]["reason"]


def test_latest_small_without_demographics_is_said_and_recorded(caplog):
    from core.vocab import Vocabularies

    vocab = Vocabularies(("1",), ("1",), (), (), ())  # no occupations: no demographics

    class Data:
        pass

    data = Data()
    data.vocab = vocab
    cfg = PipelineConfig()
    with caplog.at_level("WARNING"):
        applied = jobs.applied_config(cfg, data)
    assert "has no user demographics" in caplog.text
    assert (
        not applied.retrieval.model.use_demographics and not applied.ranking.model.use_demographics
    )
    assert cfg.retrieval.model.use_demographics  # the given config is not changed


def test_recommendations_as_json_never_hold_nan():
    text = to_json([{"movie_id": "1", "score": math.nan, "predicted_rating": math.inf}])
    assert json.loads(text) == [{"movie_id": "1", "score": None, "predicted_rating": None}]


def test_a_new_users_request_time_is_the_end_of_the_training_data(models_dir):
    from serving import recommend

    profiles = recommend.load_profiles(str(models_dir))
    assert recommend.default_request_time(str(models_dir)) == max(p.timestamp for p in profiles)
