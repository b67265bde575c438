"""Shared fixtures: tiny generated MovieLens-format data, pipelines trained on it, their
exported models in one folder, and the shared MovieLens copy."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

from pipelines import env as _env  # noqa: F401  (before tensorflow)
from tests import movielens_fixture

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_MOVIELENS = REPO.parent / "shared" / "data" / "movielens"
MODELS_CONFIG = str(REPO / "configs" / "serving" / "models.config")


@pytest.fixture(scope="session")
def tiny_movielens(tmp_path_factory) -> movielens_fixture.TinyMovieLens:
    """A tiny, seeded MovieLens 100K-format folder (see tests/movielens_fixture.py)."""
    return movielens_fixture.write(tmp_path_factory.mktemp("ml") / "ml-100k", seed=0)


@pytest.fixture(scope="session")
def tfds_cache(tmp_path_factory) -> str:
    """A TFDS data_dir private to the test session."""
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def shared_movielens_dir() -> str:
    """The shared MovieLens folder ($RECSYS_MOVIELENS_DIR or ../shared); skips when absent."""
    folder = os.environ.get("RECSYS_MOVIELENS_DIR") or str(SHARED_MOVIELENS)
    if not os.path.isfile(os.path.join(folder, "ml-100k", "u.data")):
        pytest.skip(
            f"MovieLens 100K not found at {folder}/ml-100k: set RECSYS_MOVIELENS_DIR to a folder "
            "holding ml-100k/ to run the integration tests"
        )
    return folder


def tiny_retrieval_overrides(tiny: movielens_fixture.TinyMovieLens, tfds_dir: str, out: pathlib.Path) -> list[str]:
    """`--set` overrides that make the retrieval pipeline run in seconds on tiny data."""
    return [
        f"data.movielens_dir={tiny.folder}", f"data.tfds_data_dir={tfds_dir}", "data.split=temporal",
        "data.history_length=3", "model.hidden_layers=[16]", "model.output_dim=8",
        "model.id_embedding_dim=8", "model.feature_embedding_dim=4", "trainer.epochs=2",
        "trainer.batch_size=16", "trainer.tensorboard=false", "trainer.monitor_k=5", "index.k=5",
        "index.num_leaves=2", "index.num_leaves_to_search=2", "index.num_reordering_candidates=10",
        f"run_dir={out / 'run'}", f"export_dir={out / 'models'}",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def trained_retrieval(tiny_movielens, tfds_cache, tmp_path_factory):
    """Runs `recsys train retrieval`'s main() once on tiny data; returns (config, result)."""
    from pipelines.config import load_config
    from retrieval import train
    from retrieval.config import RetrievalConfig

    out = tmp_path_factory.mktemp("retrieval")
    cfg = load_config(RetrievalConfig, None, tiny_retrieval_overrides(tiny_movielens, tfds_cache, out))
    return cfg, train.main(cfg)


def tiny_ranking_overrides(tiny: movielens_fixture.TinyMovieLens, tfds_dir: str, out: pathlib.Path) -> list[str]:
    """`--set` overrides that make the ranking pipeline run in seconds on tiny data."""
    return [
        f"data.movielens_dir={tiny.folder}", f"data.tfds_data_dir={tfds_dir}", "data.history_length=4",
        "model.id_embedding_dim=4", "model.feature_embedding_dim=2", "model.deep_layers=[8]",
        "trainer.epochs=2", "trainer.batch_size=16", "trainer.tensorboard=false",
        "autorec.hidden=4", "autorec.epochs=3", "autorec.movies_per_batch=8",
        f"run_dir={out / 'run'}", f"export_dir={out / 'models'}",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def trained_ranking(tiny_movielens, tfds_cache, tmp_path_factory):
    """Runs `recsys train ranking`'s main() once on tiny data; returns (config, result)."""
    from pipelines.config import load_config
    from ranking import train
    from ranking.config import RankingConfig

    out = tmp_path_factory.mktemp("ranking")
    cfg = load_config(RankingConfig, None, tiny_ranking_overrides(tiny_movielens, tfds_cache, out))
    return cfg, train.main(cfg)


@pytest.fixture(scope="session")
def models_dir(trained_retrieval, trained_ranking, tmp_path_factory):
    """models/<name>/1 for retrieval, retrieval_bruteforce, ranking and the composed recommender."""
    from serving import contract, recommender

    folder = tmp_path_factory.mktemp("served") / "models"
    (_, retrieval), (_, ranking) = trained_retrieval, trained_ranking
    for name, path in {**retrieval["exports"], **ranking["exports"]}.items():
        shutil.copytree(path, folder / name / "1")
    recommender.export_recommender(str(folder), k=3)
    assert os.path.isdir(folder / contract.RECOMMENDER / "1")
    return folder
