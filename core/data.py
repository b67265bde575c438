"""MovieLens through TensorFlow Datasets, as numpy columns keyed by feature name.

Three ways in, one result:
  * online: plain `tfds.load("movielens/100k-ratings")` (and `-movies`);
  * offline 100K: TFDS's builder reading an extracted `ml-100k` folder (`tfds_local`);
  * offline latest-small: TFDS's own builder with `manual_dir` holding the official
    `ml-latest-small.zip` (TFDS checks its checksum as usual).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import sys

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from core import arrow_csv
from core import features as F
from core.columns import Gathered
from core.config import ENV_MOVIELENS_DIR, DataConfig
from core.order import rating_order
from core.tfds_local import (
    CSV_FILES,
    DataError,
    MovielensLocal,
    fingerprint,
    validate_csv_folder,
    validate_ml_100k,
)

log = logging.getLogger(__name__)

Columns = dict[str, np.ndarray]

# dataset name -> TFDS config prefix
# "movielens-csv" is a local folder in the current layout, parsed as TFDS parses latest-small.
TFDS_CONFIGS = {
    "movielens-100k": "100k",
    "movielens-latest-small": "latest-small",
    "movielens-csv": "latest-small",
}
_LATEST_SMALL_ZIP = "ml-latest-small.zip"


@dataclasses.dataclass(frozen=True)
class MovieLens:
    """One MovieLens dataset.

    Attributes:
      name: Dataset name, e.g. "movielens-100k".
      ratings: One row per rating, columns named by `features` (strings as `str`,
        `movie_genres` as a [n, len(GENRES)] float32 multi-hot; the movie columns read
        through each rating's catalogue row, `core.columns.Gathered`), sorted by
        (user_id, timestamp, movie_id) so row order never depends on TFDS's shuffling.
      movies: The movie table (`movie_id`, `movie_title`, `movie_genres`), sorted by id.
      has_demographics: Whether the user features of `features.DEMOGRAPHIC_FEATURES` exist.
    """

    name: str
    ratings: Columns
    movies: Columns
    has_demographics: bool

    @property
    def num_ratings(self) -> int:
        return len(self.ratings[F.USER_ID.name])


def load(cfg: DataConfig) -> MovieLens:
    """Loads ratings and movies of `cfg.dataset` through TFDS (see module docstring), or
    with `cfg.reader == "arrow"` through `core.arrow_csv` (same columns).

    Raises:
      DataError: the configured folder or file is missing or malformed; the message
        names the path tried and how to provide data.
    """
    if cfg.reader == "arrow":
        folder = cfg.movielens_dir or os.environ.get(ENV_MOVIELENS_DIR, "")
        validate_csv_folder(folder)
        ratings, movies = arrow_csv.read_folder(folder)  # sorted and through the catalogue
    else:
        prefix = TFDS_CONFIGS[cfg.dataset]
        ratings = _sort_ratings(_read(_builder(cfg, f"{prefix}-ratings")))
        movies = _read(_builder(cfg, f"{prefix}-movies"))
        order = np.argsort(id_sort_keys(movies[F.MOVIE_ID.name]), kind="stable")
        movies = {k: v[order] for k, v in movies.items()}
        ratings = _through_catalogue(ratings, movies)
    has_demographics = F.USER_GENDER.name in ratings
    log.info(
        "%s: %d ratings, %d movies",
        cfg.dataset,
        len(ratings[F.USER_ID.name]),
        len(movies[F.MOVIE_ID.name]),
    )
    return MovieLens(cfg.dataset, ratings, movies, has_demographics)


def take(columns: Columns, rows: np.ndarray) -> Columns:
    """The given rows of every column."""
    return {name: values[rows] for name, values in columns.items()}


DOWNLOAD_HOST = "files.grouplens.org"


def _check_reachable(host: str, timeout: float = 5.0) -> None:
    """Raises OSError when `host` cannot be resolved or reached on port 443."""
    import socket

    socket.create_connection((host, 443), timeout=timeout).close()


def _builder(cfg: DataConfig, tfds_config: str) -> tfds.core.DatasetBuilder:
    """A prepared TFDS builder for `movielens/<tfds_config>` from the configured source."""
    data_dir = os.path.expanduser(cfg.tfds_data_dir) or None
    source = cfg.resolved_movielens_dir()
    if cfg.dataset == "movielens-csv":
        folder = cfg.movielens_dir or os.environ.get(ENV_MOVIELENS_DIR, "")
        validate_csv_folder(folder)
        cache = os.path.join(
            data_dir or tfds.core.constants.DATA_DIR, f"local-{fingerprint(folder, CSV_FILES)}"
        )
        builder = MovielensLocal(config=tfds_config, data_dir=os.path.expanduser(cache))
        _prepare(builder, download_config=tfds.download.DownloadConfig(manual_dir=folder))
        return builder
    if not source:
        builder = tfds.builder(f"movielens/{tfds_config}", data_dir=data_dir)
        try:
            if not builder.is_prepared():
                _check_reachable(DOWNLOAD_HOST)  # fail at once, not after TFDS's retries
            _prepare(builder)
        except OSError as e:  # requests' ConnectionError is one
            raise DataError(
                f"TFDS could not download MovieLens ({e.__class__.__name__}: {e}). Offline? Set "
                "--movielens-dir / RECSYS_MOVIELENS_DIR to a folder holding ml-100k/ and/or "
                "ml-latest-small.zip."
            ) from e
        return builder
    if not os.path.isdir(source):
        raise DataError(
            f"MovieLens folder {source!r} does not exist. Set --movielens-dir / "
            "RECSYS_MOVIELENS_DIR to a folder holding ml-100k/ and/or ml-latest-small.zip, "
            "or leave both empty to let TFDS download the data."
        )
    if tfds_config.startswith("100k"):
        folder = (
            source
            if os.path.isfile(os.path.join(source, "u.data"))
            else os.path.join(source, "ml-100k")
        )
        validate_ml_100k(folder)
        cache = os.path.join(
            data_dir or tfds.core.constants.DATA_DIR, f"local-{fingerprint(folder)}"
        )
        builder = MovielensLocal(config=tfds_config, data_dir=os.path.expanduser(cache))
        manual_dir = folder
    else:
        if not os.path.isfile(os.path.join(source, _LATEST_SMALL_ZIP)):
            raise DataError(
                f"{os.path.join(source, _LATEST_SMALL_ZIP)!r} does not exist. Put the official "
                "ml-latest-small.zip (https://grouplens.org/datasets/movielens/latest/) there."
            )
        builder = tfds.builder(f"movielens/{tfds_config}", data_dir=data_dir)
        manual_dir = source
    try:
        _prepare(builder, download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    except tfds.download.NonMatchingChecksumError as e:
        raise DataError(
            f"{manual_dir}: not the official MovieLens archive (checksum differs): {e}"
        ) from None
    return builder


def _prepare(builder: tfds.core.DatasetBuilder, **options) -> None:
    """`download_and_prepare` once, said in one log line instead of TFDS's prints (which
    call a local copy "Downloading ... Unknown size"); progress bars only on a terminal."""
    if builder.is_prepared():
        return
    log.info("preparing %s in the TFDS cache %s (once)", builder.info.full_name, builder.data_dir)
    if not sys.stderr.isatty():
        tfds.disable_progress_bar()
    with contextlib.redirect_stdout(io.StringIO()):
        builder.download_and_prepare(**options)


def _read(builder: tfds.core.DatasetBuilder) -> Columns:
    """All examples of the builder's train split as numpy columns."""
    num_genres = builder.info.features[F.MOVIE_GENRES.name].feature.num_classes
    if num_genres != len(F.GENRES):
        raise DataError(f"TFDS has {num_genres} genres, features.GENRES {len(F.GENRES)}")

    def multi_hot(example):
        genres = tf.one_hot(example[F.MOVIE_GENRES.name], num_genres, dtype=tf.float32)
        return {**example, F.MOVIE_GENRES.name: tf.minimum(tf.reduce_sum(genres, axis=0), 1.0)}

    dataset = builder.as_dataset(split="train").map(multi_hot).batch(50_000)
    batches = list(tfds.as_numpy(dataset))
    columns = {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
    for name, values in columns.items():
        if values.dtype == object:  # tf.string arrives as bytes
            columns[name] = np.array([v.decode("utf-8") for v in values], dtype=object)
    return columns


def _sort_ratings(ratings: Columns) -> Columns:
    users, times = id_sort_keys(ratings[F.USER_ID.name]), ratings[F.TIMESTAMP.name]
    return take(ratings, rating_order(users, times, id_sort_keys(ratings[F.MOVIE_ID.name])))


def _through_catalogue(ratings: Columns, movies: Columns) -> Columns:
    """The ratings with every movie column (title, genres) read through each rating's row
    of the catalogue (`core.columns.Gathered`) instead of copied per rating."""
    ids, rated = movies[F.MOVIE_ID.name], ratings[F.MOVIE_ID.name]
    keys = id_sort_keys(np.concatenate([ids, rated]))
    order = np.argsort(keys[: len(ids)], kind="stable")
    at = np.searchsorted(keys[: len(ids)][order], keys[len(ids) :])
    rows = order[np.minimum(at, max(len(ids) - 1, 0))] if len(ids) else at
    if len(rated) and (not len(ids) or np.any(ids[rows] != rated)):
        raise DataError("a rated movie is missing from the movie table")
    by_row = {n: Gathered(rows, v) for n, v in movies.items() if n != F.MOVIE_ID.name}
    return {**ratings, **by_row}


def movie_rows(ratings: Columns) -> np.ndarray:
    """[n] each rating's row of the movie table, which `load` reads its movie columns through
    (so do the parts of a split: their movie columns are the same `Gathered` rows)."""
    return ratings[F.MOVIE_TITLE.name].rows


def id_sort_keys(ids: np.ndarray) -> np.ndarray:
    """Sort keys for string ids: numeric order when every id is a number, else text order."""
    if all(i.isdigit() for i in ids):
        return ids.astype(np.int64)
    return ids.astype(str)
