"""`recsys train all` through the CLI: both stages, the composite and the profiles in one folder."""

from __future__ import annotations

import json

from pipelines import cli
from serving import contract
from tests.conftest import run_recsys, tiny_set_args


def test_train_all_exports_every_model_into_the_chosen_folder(tiny_movielens, tfds_cache, tmp_path):
    sets = tiny_set_args(tiny_movielens, tfds_cache, tmp_path)
    target = tmp_path / "chosen"
    code = cli.main(["train", "all", *sets, "--split", "temporal", "--export-dir", str(target)])
    assert code == 0
    for name in (
        contract.RETRIEVAL,
        contract.RETRIEVAL_BRUTEFORCE,
        contract.RANKING,
        contract.RECOMMENDER,
    ):
        assert (target / name / "1" / "saved_model.pb").is_file(), name
        meta = json.loads((target / name / "1" / contract.METADATA_FILE).read_text())
        assert meta["model"] == name
    profiles = json.loads((target / "user_profiles.json").read_text())
    assert set(profiles["users"]) == set(tiny_movielens.users)
    assert not (tmp_path / "models").exists()  # --export-dir wins over the config's export_dir

    # A self-describing run folder, `runs/latest` pointing at it.
    run = (tmp_path / "runs" / "latest").resolve()
    assert run.name.endswith("-movielens-100k-temporal") and run.parent == tmp_path / "runs"
    summary = json.loads((run / "run.json").read_text())
    lineage = profiles["lineage"]
    assert summary["lineage"] == lineage and summary["export_dir"] == str(target)
    for stage in ("retrieval", "ranking"):
        assert summary["stages"][stage]["blessing"]["blessed"], stage
        assert (run / stage / "config.json").is_file() and (run / stage / "blessing.json").is_file()
    assert "| ranking | rmse |" in (run / "run.md").read_text()

    # Retraining retrieval to a stricter gate (it must beat version 1 by 50 %): refused, says
    # why in one line, keeps version 1 served, writes the decision to a second run folder.
    done = run_recsys(
        "train",
        "retrieval",
        *sets,
        "--split",
        "temporal",
        "--export-dir",
        str(target),
        "--set",
        "gate.margin=-0.5",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    error = done.stderr.strip().splitlines()[-1]
    assert (
        error.startswith("recsys: error: retrieval not exported: recall.100")
        and "version 1" in error
    )
    assert sorted(p.name for p in (target / "retrieval_bruteforce").iterdir()) == ["1"]
    second = (tmp_path / "runs" / "latest").resolve()
    assert second != run
    assert json.loads((second / "retrieval" / "blessing.json").read_text())["blessed"] is False
