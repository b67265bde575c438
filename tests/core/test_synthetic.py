"""`recsys data synthesize`: MovieLens-shaped files, read back through TFDS's parser."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import data, synthetic
from core.config import DataConfig
from core.tfds_local import DataError


def _ratings(folder) -> np.ndarray:
    return np.loadtxt(folder / "ratings.csv", delimiter=",", skiprows=1)


def test_the_shape_is_movielens_like(tmp_path):
    written = synthetic.synthesize(str(tmp_path), ratings=60_000, users=600, movies=1_500, seed=1)
    r = _ratings(tmp_path)
    assert len(r) == written["ratings"] and 0.97 * 60_000 <= len(r) <= 60_000
    users, movies = r[:, 0].astype(int), r[:, 1].astype(int)
    per_user = np.bincount(users)[1:]
    assert per_user.min() >= synthetic.MIN_RATINGS and len(per_user) == 600
    assert len(set(zip(users, movies))) == len(r)  # no (user, movie) twice
    # Long tails: the busiest 10 % of users and of movies hold far more than 10 % each.
    assert np.sort(per_user)[::-1][:60].sum() > 0.3 * len(r)
    per_movie = np.sort(np.bincount(movies))[::-1]
    assert per_movie[:150].sum() > 0.3 * len(r)
    assert set(np.unique(r[:, 2])) <= set(np.arange(1, 11) / 2) and 3.0 < r[:, 2].mean() < 4.0
    assert synthetic.FIRST <= r[:, 3].min() and r[:, 3].max() <= synthetic.LAST
    # Titles carry a release year, as MovieLens's do (the ranking model reads it).
    titles = (tmp_path / "movies.csv").read_text().splitlines()[1:]
    assert all('"Synthetic Movie ' in t and t.split('"')[1].endswith(")") for t in titles)


def test_read_back_through_tfds_as_movielens_csv(tmp_path):
    synthetic.synthesize(str(tmp_path / "syn"), ratings=2_000, users=50, movies=120, seed=2)
    cfg = DataConfig(
        dataset="movielens-csv",
        movielens_dir=str(tmp_path / "syn"),
        tfds_data_dir=str(tmp_path / "tfds"),
    )
    loaded = data.load(cfg)
    raw = _ratings(tmp_path / "syn")
    assert loaded.num_ratings == len(raw) and not loaded.has_demographics
    assert len(loaded.movies["movie_id"]) == 120
    genres = np.asarray(loaded.ratings["movie_genres"])
    assert genres.sum(axis=1).min() >= 1  # every movie has a genre
    assert np.isclose(loaded.ratings["user_rating"].mean(), raw[:, 2].mean())
    # The Arrow reader (for ML-20M-sized folders) gives TFDS's columns exactly.
    fast = data.load(dataclasses.replace(cfg, reader="arrow"))
    for table in ("ratings", "movies"):
        tfds_columns, arrow_columns = getattr(loaded, table), getattr(fast, table)
        assert sorted(tfds_columns) == sorted(arrow_columns)
        for name, values in tfds_columns.items():
            assert values.dtype == arrow_columns[name].dtype, name
            np.testing.assert_array_equal(values, arrow_columns[name], err_msg=name)


def test_arrow_reader_sorts_unordered_files_with_ties_as_tfds_does(tmp_path):
    """Rows out of order, ties on (user, time), ids whose text order is not their numeric
    order: both readers give the same columns in (user, time, movie) order."""
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n10,Ten (1990),Drama\n9,Nine (1991),Comedy\n100,Hundred (1992),"
        "Drama|Comedy\n"
    )
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "10,100,4.0,50\n2,10,3.0,50\n10,9,5.0,50\n2,9,1.0,40\n10,10,2.5,20\n2,100,2.0,50\n"
    )
    cfg = DataConfig(
        dataset="movielens-csv", movielens_dir=str(folder), tfds_data_dir=str(tmp_path / "tfds")
    )
    fast = data.load(dataclasses.replace(cfg, reader="arrow"))
    assert fast.ratings["user_id"].tolist() == ["2", "2", "2", "10", "10", "10"]
    assert fast.ratings["movie_id"].tolist() == ["9", "10", "100", "10", "9", "100"]
    assert fast.ratings["timestamp"].tolist() == [40, 50, 50, 20, 50, 50]
    assert np.asarray(fast.ratings["movie_title"]).tolist()[:2] == ["Nine (1991)", "Ten (1990)"]
    loaded = data.load(cfg)
    for name, values in loaded.ratings.items():
        np.testing.assert_array_equal(values, fast.ratings[name], err_msg=name)


@pytest.mark.parametrize("missing_id", [7, 10**12])  # dense table / binary search
def test_arrow_reader_names_a_rated_movie_missing_from_movies_csv(tmp_path, missing_id):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,One (1990),Drama\n")
    (tmp_path / "ratings.csv").write_text(
        f"userId,movieId,rating,timestamp\n1,1,4.0,5\n1,{missing_id},3.0,6\n"
    )
    cfg = DataConfig(dataset="movielens-csv", movielens_dir=str(tmp_path), reader="arrow")
    with pytest.raises(DataError, match=f"movie {missing_id} is not in movies.csv"):
        data.load(cfg)


def test_a_csv_folder_without_its_files_is_named(tmp_path):
    cfg = DataConfig(dataset="movielens-csv", movielens_dir=str(tmp_path))
    with pytest.raises(DataError, match="ratings.csv does not exist"):
        data.load(cfg)
    with pytest.raises(DataError, match="ratings.csv does not exist"):
        data.load(dataclasses.replace(cfg, reader="arrow"))
