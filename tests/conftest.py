"""Shared fixtures: tiny generated MovieLens-format data and the shared MovieLens copy."""

from __future__ import annotations

import os
import pathlib

import pytest

from pipelines import env as _env  # noqa: F401  (before tensorflow)
from tests import movielens_fixture

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_MOVIELENS = REPO.parent / "shared" / "data" / "movielens"


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
