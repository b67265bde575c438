"""Models and profile tables trained on different data are never combined silently: the
composite export, the server and the client each refuse, naming what each was trained on."""

from __future__ import annotations

import json
import shutil

import pytest

from serving import contract

OTHER = "movielens-latest-small:temporal:0123456789ab"


def _relabel(version_dir, lineage: str) -> None:
    path = version_dir / contract.METADATA_FILE
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, contract.LINEAGE: lineage}))


def test_every_export_and_the_profile_table_share_one_lineage(models_dir, client):
    from serving import recommend

    lineage = recommend.profiles_lineage(str(models_dir))
    dataset, split, vocabulary = lineage.split(":")
    assert (dataset, split, len(vocabulary)) == ("movielens-100k", "temporal", 12)
    models = [contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE, contract.RANKING]
    assert recommend.check_lineage(client, [*models, contract.RECOMMENDER], lineage) == lineage


def test_the_composite_refuses_models_of_different_data(models_copy):
    from pipelines import composite

    _relabel(models_copy / contract.RANKING / "1", OTHER)
    with pytest.raises(ValueError, match="cannot compose the recommender.*movielens-latest-small"):
        composite.export_recommender(str(models_copy), k=3)


def test_the_server_refuses_to_serve_models_of_different_data(models_copy):
    from tests.serving.conftest import start_server

    _relabel(models_copy / contract.RANKING / "1", OTHER)
    with pytest.raises(
        ValueError, match=f"different data.*ranking: {OTHER}.*--allow-mixed-lineage"
    ):
        start_server(models_copy, models=[contract.RETRIEVAL_BRUTEFORCE, contract.RANKING])
    start_server(
        models_copy,
        models=[contract.RETRIEVAL_BRUTEFORCE, contract.RANKING],
        allow_mixed_lineage=True,
    ).stop()


def test_the_client_refuses_a_profile_table_of_other_data(server, models_dir, tmp_path, capsys):
    from pipelines import cli

    shutil.copy(models_dir / "user_profiles.json", tmp_path / "user_profiles.json")
    table = json.loads((tmp_path / "user_profiles.json").read_text())
    (tmp_path / "user_profiles.json").write_text(json.dumps({**table, contract.LINEAGE: OTHER}))
    user = min(table["users"])
    argv = ["recommend", "--export-dir", str(tmp_path), "--target", server.address]
    for via in ("client", "composite"):
        assert cli.main([*argv, "--user-id", user, "--via", via]) == 2
        err = capsys.readouterr().err
        assert (
            f"the profile table: {OTHER}" in err
            and "the served ranking" in err
            or via == "composite"
        )
        assert "trained on different data" in err
