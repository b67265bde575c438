"""A diverged run is not exported, says why, and the client never prints NaN as JSON."""

from __future__ import annotations

import json
import math

import pytest

from pipelines import jobs
from serving.recommend import to_json


def test_non_finite_metrics_refuse_the_export_and_say_why(tmp_path):
    run = jobs.Run(str(tmp_path), prepared=None, vocab_files={})
    jobs.export_gate(run, "ranking", {"combined": {"rmse": 0.9, "mae": 0.7}}, {})  # finite: ok
    with pytest.raises(
        jobs.ExportRefused, match=r"ranking not exported.*combined\.rmse.*learning_rate"
    ):
        jobs.export_gate(run, "ranking", {"combined": {"rmse": math.nan, "mae": 0.7}}, {"x": 1})
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["exported"] is False and "diverged" in written["refused"] and written["x"] == 1


def test_recommendations_as_json_never_hold_nan():
    text = to_json([{"movie_id": "1", "score": math.nan, "predicted_rating": math.inf}])
    assert json.loads(text) == [{"movie_id": "1", "score": None, "predicted_rating": None}]


def test_a_new_users_request_time_is_the_end_of_the_training_data(models_dir):
    from serving import recommend

    profiles = recommend.load_profiles(str(models_dir))
    assert recommend.default_request_time(str(models_dir)) == max(p.timestamp for p in profiles)
