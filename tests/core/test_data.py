"""Loading MovieLens through TFDS's builder from a local folder (real TFDS, tiny data)."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from core import config, data
from core import features as F
from core.config import DataConfig
from core.tfds_local import DataError


@pytest.fixture(scope="module")
def loaded(tiny_movielens, tfds_cache):
    cfg = DataConfig(movielens_dir=str(tiny_movielens.folder), tfds_data_dir=tfds_cache)
    return data.load(cfg)


def test_loads_every_rating_with_tfds_feature_names(loaded, tiny_movielens):
    assert loaded.num_ratings == len(tiny_movielens.ratings)
    assert set(loaded.ratings) == {f.name for f in F.TFDS_RATING_FEATURES}
    assert loaded.has_demographics
    got = sorted(
        zip(
            loaded.ratings["user_id"],
            loaded.ratings["movie_id"],
            loaded.ratings["user_rating"].astype(int),
            loaded.ratings["timestamp"],
            strict=False,
        )
    )
    assert got == sorted(tiny_movielens.ratings)


def test_ratings_are_sorted_by_user_time_movie(loaded):
    keys = list(
        zip(
            loaded.ratings["user_id"].astype(int),
            loaded.ratings["timestamp"],
            loaded.ratings["movie_id"].astype(int),
            strict=False,
        )
    )
    assert keys == sorted(keys)


def test_movie_table_and_genre_multi_hot(loaded, tiny_movielens):
    movies = loaded.movies
    assert list(movies["movie_id"]) == [str(m) for m in range(1, len(tiny_movielens.movies) + 1)]
    for movie_id, title, genres in zip(
        movies["movie_id"], movies["movie_title"], movies["movie_genres"], strict=False
    ):
        expected_title, expected_genres = tiny_movielens.movies[movie_id]
        assert title == expected_title
        assert genres.shape == (len(F.GENRES),)
        assert sorted(F.GENRES[i] for i in np.flatnonzero(genres)) == sorted(expected_genres)


def test_user_features_match_the_user_file(loaded, tiny_movielens):
    r = loaded.ratings
    for i in range(0, loaded.num_ratings, 7):
        age, gender, occupation, zip_code = tiny_movielens.users[r["user_id"][i]]
        assert r["raw_user_age"][i] == age
        assert r["user_gender"][i] == (gender == "M")
        assert r["user_occupation_text"][i] == occupation
        assert r["user_zip_code"][i] == zip_code
        assert r["bucketized_user_age"][i] == max(b for b in F.AGE_BUCKETS if b <= max(age, 1))


def test_missing_folder_names_the_path(tmp_path):
    cfg = DataConfig(movielens_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere.*does not exist.*RECSYS_MOVIELENS_DIR"):
        data.load(cfg)


def test_failed_download_says_how_to_work_offline(tmp_path, monkeypatch):
    import requests

    def no_network(self, *args, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'files.grouplens.org'")

    monkeypatch.delenv("RECSYS_MOVIELENS_DIR", raising=False)
    monkeypatch.setattr(config, "DEVELOPMENT_COPY", str(tmp_path / "no-copy"))
    monkeypatch.setattr(data, "_check_reachable", lambda host: None)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_network)
    with pytest.raises(
        DataError, match="could not download MovieLens.*files.grouplens.org.*RECSYS_MOVIELENS_DIR"
    ):
        data.load(DataConfig(tfds_data_dir=str(tmp_path)))


def test_no_network_fails_at_once_and_the_development_copy_is_found(tmp_path, monkeypatch):
    monkeypatch.delenv("RECSYS_MOVIELENS_DIR", raising=False)
    monkeypatch.setattr(config, "DEVELOPMENT_COPY", str(tmp_path / "no-copy"))
    monkeypatch.setattr(data, "DOWNLOAD_HOST", "host.invalid")
    started = time.monotonic()
    with pytest.raises(DataError, match="could not download MovieLens.*RECSYS_MOVIELENS_DIR"):
        data.load(DataConfig(tfds_data_dir=str(tmp_path)))
    assert time.monotonic() - started < 15, "no retries before the error"
    copy = tmp_path / "copy"
    copy.mkdir()
    monkeypatch.setattr(config, "DEVELOPMENT_COPY", str(copy))
    assert DataConfig().resolved_movielens_dir() == str(copy)
    monkeypatch.setenv("RECSYS_MOVIELENS_DIR", "/from/env")
    assert DataConfig().resolved_movielens_dir() == "/from/env"
    assert DataConfig(movielens_dir="/flag").resolved_movielens_dir() == "/flag"


def test_folder_without_movielens_files_names_what_is_missing(tmp_path):
    (tmp_path / "ml-100k").mkdir()
    with pytest.raises(DataError, match=r"missing u\.data, u\.item, u\.user"):
        data.load(DataConfig(movielens_dir=str(tmp_path)))


@pytest.mark.parametrize(
    "file, line, pattern",
    [
        ("u.data", "1\t2\t3", r"u\.data, line 3: expected 4 fields"),
        ("u.data", "1\t999\t3\t880000000", r"u\.data, line 3: movie id '999' is not in u\.item"),
        ("u.data", "1\t2\t9\t880000000", r"u\.data, line 3: rating '9'"),
        ("u.user", "3|x|M|writer|12345", r"u\.user, line 3: age 'x'"),
    ],
)
def test_malformed_line_names_file_and_line(tiny_movielens, tmp_path, file, line, pattern):
    folder = tmp_path / "ml-100k"
    shutil.copytree(tiny_movielens.folder, folder)
    lines = (folder / file).read_text(encoding="ISO-8859-1").splitlines()
    lines[2] = line
    (folder / file).write_text("\n".join(lines) + "\n", encoding="ISO-8859-1")
    cache = tmp_path / "tfds"
    with pytest.raises(DataError, match=pattern):
        data.load(DataConfig(movielens_dir=str(folder), tfds_data_dir=str(cache)))
    assert not cache.exists(), "nothing may be prepared from malformed data"


def test_changed_files_are_prepared_again_not_read_from_cache(tiny_movielens, tmp_path):
    folder = tmp_path / "ml-100k"
    shutil.copytree(tiny_movielens.folder, folder)
    cfg = DataConfig(movielens_dir=str(folder), tfds_data_dir=str(tmp_path / "tfds"))
    before = data.load(cfg).num_ratings
    lines = (folder / "u.data").read_text().splitlines()
    (folder / "u.data").write_text("\n".join(lines[:-5]) + "\n")
    os.utime(folder / "u.data", ns=(1, 1))
    assert data.load(cfg).num_ratings == before - 5


def test_prepare_runs_each_step_without_huge_page_advice_and_restores_it(
    tiny_movielens, tfds_cache
):
    from numpy._core.multiarray import _set_madvise_hugepage as switch

    from core.dataset import prepare

    advice_during = {}

    def timed(step_name, step):
        advice_during[step_name] = switch(False)  # reads the advice (and leaves it off)
        return step()

    initial = switch(True)
    try:
        cfg = DataConfig(movielens_dir=str(tiny_movielens.folder), tfds_data_dir=tfds_cache)
        prepared = prepare(cfg, timed)
        assert advice_during == {n: False for n in ("load", "split", "history", "vocabularies")}
        assert switch(True) is True  # restored to what it was before
        assert sum(len(p["user_id"]) for p in prepared.parts.values()) == len(
            tiny_movielens.ratings
        )
    finally:
        switch(initial)
