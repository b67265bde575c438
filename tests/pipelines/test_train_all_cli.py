"""`recsys train all` through the CLI: both stages, the composite and the profiles in one folder."""

from __future__ import annotations

import json

from pipelines import cli
from serving import contract
from tests.conftest import tiny_overrides


def test_train_all_exports_every_model_into_the_chosen_folder(tiny_movielens, tfds_cache, tmp_path):
    sets = [
        arg
        for item in tiny_overrides(tiny_movielens, tfds_cache, tmp_path)
        for arg in ("--set", item)
    ]
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
