"""`recsys train retrieval --workers 2`: two worker processes of one loopback cluster
(MultiWorkerMirroredStrategy through TF_CONFIG) train one model; the chief exports it."""

from __future__ import annotations

import json

from tests.conftest import run_recsys, tiny_set_args


def test_two_loopback_workers_train_one_model_and_the_chief_exports(
    tiny_movielens, tfds_cache, tmp_path
):
    sets = tiny_set_args(tiny_movielens, tfds_cache, tmp_path)
    done = run_recsys("train", "retrieval", "--workers", "2", *sets)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "multi-worker training: worker 0 of 2" in done.stderr
    assert "multi-worker training: worker 1 of 2" in done.stderr
    runs = [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1, "only the chief writes a run folder here"
    metrics = json.loads((runs[0] / "retrieval" / "metrics.json").read_text())
    assert metrics["blessing"]["blessed"] and 0 < metrics["test"]["recall"]["100"] <= 1
    for model in ("retrieval", "retrieval_bruteforce"):
        assert sorted(p.name for p in (tmp_path / "models" / model).iterdir()) == ["1"], model
