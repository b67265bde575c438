"""`recsys train retrieval --workers 2`: two worker processes of one loopback cluster
(MultiWorkerMirroredStrategy through TF_CONFIG) train one model; the chief exports it."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from tests.conftest import tiny_overrides


def test_two_loopback_workers_train_one_model_and_the_chief_exports(
    tiny_movielens, tfds_cache, tmp_path
):
    sets = [
        a for item in tiny_overrides(tiny_movielens, tfds_cache, tmp_path) for a in ("--set", item)
    ]
    done = subprocess.run(
        [
            str(pathlib.Path(sys.executable).with_name("recsys")),
            "train",
            "retrieval",
            "--workers",
            "2",
            *sets,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "multi-worker training: worker 0 of 2" in done.stderr
    assert "multi-worker training: worker 1 of 2" in done.stderr
    runs = [p for p in (tmp_path / "runs").iterdir() if p.name != "latest"]
    assert len(runs) == 1, "only the chief writes a run folder here"
    metrics = json.loads((runs[0] / "retrieval" / "metrics.json").read_text())
    assert metrics["blessing"]["blessed"] and 0 < metrics["test"]["recall"]["100"] <= 1
    for model in ("retrieval", "retrieval_bruteforce"):
        assert sorted(p.name for p in (tmp_path / "models" / model).iterdir()) == ["1"], model
