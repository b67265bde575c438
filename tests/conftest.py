"""Shared fixtures: tiny generated MovieLens-format data, pipelines trained on it, their
exported models in one folder, and the shared MovieLens copy."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from core import env as _env  # noqa: F401  (before tensorflow)
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


def tiny_set_args(tiny, tfds_dir: str, out: pathlib.Path) -> list[str]:
    """`tiny_overrides` as command-line arguments: ["--set", "k=v", ...]."""
    return [arg for item in tiny_overrides(tiny, tfds_dir, out) for arg in ("--set", item)]


def run_recsys(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The `recsys` console script in a process of its own, as a user runs it (output piped,
    so not a terminal); returns the finished process with its text output."""
    command = [str(pathlib.Path(sys.executable).with_name("recsys")), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def tiny_overrides(
    tiny: movielens_fixture.TinyMovieLens, tfds_dir: str, out: pathlib.Path
) -> list[str]:
    """`--set` overrides that make every pipeline run in seconds on tiny data."""
    return [
        f"data.movielens_dir={tiny.folder}",
        f"data.tfds_data_dir={tfds_dir}",
        "data.history_length=4",
        "retrieval.model.hidden_layers=[16]",
        "retrieval.model.output_dim=8",
        "retrieval.model.id_embedding_dim=8",
        "retrieval.model.feature_embedding_dim=4",
        "retrieval.model.history_length=3",
        "retrieval.model.attention_layers=0",  # tested in test_towers; keeps the suite < 10 min
        "retrieval.trainer.epochs=2",
        "retrieval.trainer.batch_size=16",
        "retrieval.trainer.tensorboard=false",
        "retrieval.trainer.monitor_k=5",
        "retrieval.index.k=5",
        "retrieval.index.num_leaves=2",
        "retrieval.index.num_leaves_to_search=2",
        "retrieval.index.num_reordering_candidates=10",
        "ranking.model.id_embedding_dim=4",
        "ranking.model.feature_embedding_dim=2",
        "ranking.model.deep_layers=[8]",
        "ranking.trainer.epochs=2",
        "ranking.trainer.batch_size=16",
        "ranking.trainer.tensorboard=false",
        "ranking.autorec.hidden=4",
        "ranking.autorec.epochs=3",
        "ranking.autorec.movies_per_batch=8",
        "ranking.scorer.num_candidates=5",
        "ranking.scorer.queries_per_user=3",
        "ranking.scorer.embedding_dim=4",
        "ranking.scorer.deep_layers=[8]",
        "ranking.scorer_trainer.epochs=2",
        "ranking.scorer_trainer.batch_size=4",
        "ranking.scorer_trainer.tensorboard=false",
        "k=3",
        f"run_dir={out / 'runs'}",
        f"export_dir={out / 'models'}",
    ]


def tiny_config(tiny, tfds_dir, out, *more: str):
    """The PipelineConfig of `tiny_overrides` plus `more` overrides."""
    from core.config import load_config
    from pipelines.config import PipelineConfig

    return load_config(PipelineConfig, None, [*tiny_overrides(tiny, tfds_dir, out), *more])


@pytest.fixture(scope="session")
def trained(tiny_movielens, tfds_cache, tmp_path_factory):
    """`recsys train all` (both stages, composite, profiles) once on tiny data: (config, result)."""
    from pipelines import jobs

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path_factory.mktemp("trained"))
    return cfg, jobs.train_all(cfg)


@pytest.fixture(scope="session")
def trained_retrieval(trained):
    cfg, result = trained
    return cfg, result["retrieval"]


@pytest.fixture(scope="session")
def trained_ranking(trained):
    cfg, result = trained
    return cfg, result["ranking"]


@pytest.fixture(scope="session")
def models_dir(trained):
    """The exported models/<name>/1 (retrieval, retrieval_bruteforce, ranking, recommender) and
    the profile table. Shared and read-only: a test that adds versions uses `models_copy`."""
    cfg, _ = trained
    return pathlib.Path(cfg.export_dir)


@pytest.fixture()
def models_copy(models_dir, tmp_path):
    """A private copy of `models_dir` that a test may change."""
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    return copy
