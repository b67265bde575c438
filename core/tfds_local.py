"""TFDS's own MovieLens builder, pointed at an extracted local `ml-100k` folder.

TFDS's `movielens` builder downloads the official zip and checks its checksum. A
machine without internet may have the extracted files only, which no checksum can
match. `MovielensLocal` subclasses TFDS's builder and changes one thing: its split
generator reads the folder given as `manual_dir` instead of downloading. Parsing,
features, ClassLabels and the prepared TFRecords are TFDS's own. TFDS's files are
not edited and no checksum is bypassed (the local builder has no checksum to check).
"""

from __future__ import annotations

import hashlib
import os

import tensorflow_datasets as tfds
from tensorflow_datasets.structured import movielens

# Files of the extracted ml-100k archive that TFDS's parser reads.
ML_100K_FILES = ("u.data", "u.item", "u.user")
# Files of the current layout (ml-latest-small, ml-20m, ml-25m) that TFDS's parser reads.
CSV_FILES = ("ratings.csv", "movies.csv")
CSV_HEADERS = {
    "ratings.csv": "userId,movieId,rating,timestamp",
    "movies.csv": "movieId,title,genres",
}
_ENCODING = "ISO-8859-1"  # MovieLens 100K's encoding (TFDS decodes it the same way)


class DataError(ValueError):
    """Missing, unreadable or malformed MovieLens data."""


class MovielensLocal(movielens.Movielens):
    """TFDS MovieLens builder whose data comes from an extracted folder (`manual_dir`)."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Pass DownloadConfig(manual_dir=<folder holding u.data, u.item and u.user>), "
        "i.e. an extracted ml-100k.zip."
    )

    def _split_generators(self, dl_manager):
        return [
            tfds.core.SplitGenerator(
                name=tfds.Split.TRAIN, gen_kwargs={"dir_path": os.fspath(dl_manager.manual_dir)}
            )
        ]


def fingerprint(folder: str, files: tuple[str, ...] = ML_100K_FILES) -> str:
    """Short hash of the folder's path and its files' names, sizes and mtimes.

    Keys the TFDS cache of a local build, so changed files are re-prepared instead
    of silently served from an old cache.
    """
    digest = hashlib.sha256(os.path.realpath(folder).encode())
    for name in files:
        stat = os.stat(os.path.join(folder, name))
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def validate_ml_100k(folder: str) -> None:
    """Checks an extracted ml-100k folder line by line before TFDS parses it.

    TFDS's parser fails on a malformed line with a bare unpacking or key error; this
    names the file and line instead.

    Raises:
      DataError: a file is missing, or a line is malformed, naming file and line.
    """
    missing = [n for n in ML_100K_FILES if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise DataError(
            f"{folder!r} is not an extracted MovieLens 100K folder: missing {', '.join(missing)}. "
            "Point --movielens-dir (or RECSYS_MOVIELENS_DIR) at a folder holding ml-100k/ "
            "(from https://grouplens.org/datasets/movielens/100k/), or leave it empty to let "
            "TFDS download the data."
        )
    users = _check_lines(folder, "u.user", "|", 5, _check_user)
    movies = _check_lines(folder, "u.item", "|", 24, _check_movie)

    def check_rating(fields: list[str]) -> str | None:
        if fields[0] not in users:
            return f"user id {fields[0]!r} is not in u.user"
        if fields[1] not in movies:
            return f"movie id {fields[1]!r} is not in u.item"
        if not (fields[2].isdigit() and 1 <= int(fields[2]) <= 5):
            return f"rating {fields[2]!r} is not an integer from 1 to 5"
        if not fields[3].isdigit():
            return f"timestamp {fields[3]!r} is not a non-negative integer"
        return None

    _check_lines(folder, "u.data", "\t", 4, check_rating)


def validate_csv_folder(folder: str) -> None:
    """Checks a folder in the current MovieLens layout: both files there, with the headers
    TFDS's parser reads.

    Raises:
      DataError: naming the folder or file and what is wrong.
    """
    if not folder or not os.path.isdir(folder):
        raise DataError(
            f"dataset movielens-csv needs --movielens-dir: a folder holding ratings.csv and "
            f"movies.csv (the ml-latest-small / ml-20m layout); got {folder!r}"
        )
    for name, header in CSV_HEADERS.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise DataError(
                f"{path} does not exist (movielens-csv needs {' and '.join(CSV_FILES)})"
            )
        with open(path, encoding="utf-8") as f:
            first = f.readline().strip()
        if first != header:
            raise DataError(f"{path}: the first line must be the header {header!r}, not {first!r}")


def _check_user(fields: list[str]) -> str | None:
    if not fields[1].isdigit():
        return f"age {fields[1]!r} is not an integer"
    if fields[2] not in ("M", "F"):
        return f"gender {fields[2]!r} is not M or F"
    return None


def _check_movie(fields: list[str]) -> str | None:
    if any(flag not in ("0", "1") for flag in fields[5:]):
        return "genre flags (fields 6 to 24) must each be 0 or 1"
    return None


def _check_lines(folder, name, separator, num_fields, check) -> set[str]:
    """Validates every line of one file; returns the set of first fields (the ids)."""
    path = os.path.join(folder, name)
    ids = set()
    with open(path, encoding=_ENCODING) as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            fields = line.split(separator)
            problem = (
                f"expected {num_fields} fields separated by {separator!r}, found {len(fields)}"
                if len(fields) != num_fields
                else check(fields)
            )
            if problem:
                raise DataError(f"{path}, line {number}: {problem}: {line[:80]!r}")
            ids.add(fields[0])
    if not ids:
        raise DataError(f"{path} has no data lines")
    return ids
