"""Vocabularies built from the training split only, saved beside every model.

Anything not in a vocabulary (a user, movie or occupation first seen after
training) maps to the out-of-vocabulary bucket of the model's lookup layer and
still gets an answer from its other features.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf

from core import features as F
from core.data import Columns, id_sort_keys

VOCABULARY_FILE = "vocabularies.json"


@dataclasses.dataclass(frozen=True)
class Vocabularies:
    """Known values of each categorical feature (training split only).

    Attributes:
      user_id: Users with a training rating, in id order.
      movie_id: Movies with a training rating, in id order.
      user_occupation_text: Occupations of training users (empty without demographics).
      zip_prefix: Zip prefixes (features.zip_prefix) of training users.
      title_tokens: Title tokens as Keras TextVectorization splits them, most frequent first.
      numeric_stats: Feature name -> (mean, variance) over the training split, for the
        numeric features (`timestamp`, and `raw_user_age` with demographics).
      genres: The fixed genre list (features.GENRES).
      time_range: (first, last) training `timestamp`: models clip request times to it
        (`encoders.clip_time`), so a request years after the data does not extrapolate.
    """

    user_id: tuple[str, ...]
    movie_id: tuple[str, ...]
    user_occupation_text: tuple[str, ...]
    zip_prefix: tuple[str, ...]
    title_tokens: tuple[str, ...]
    numeric_stats: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    genres: tuple[str, ...] = F.GENRES
    time_range: tuple[int, ...] = ()

    def fingerprint(self) -> str:
        """12 hex digits naming the user and movie vocabularies: models whose id lookups agree
        share it."""
        digest = hashlib.sha256()
        for values in (self.user_id, self.movie_id):
            digest.update("\n".join(values).encode() + b"\0")
        return digest.hexdigest()[:12]

    @property
    def has_demographics(self) -> bool:
        return bool(self.user_occupation_text)

    def write_files(self, directory: str) -> dict[str, str]:
        """Writes one text file per vocabulary (a value per line) for lookup layers.

        Lookup layers built from these files carry them into a SavedModel as assets.

        Returns:
          Vocabulary name -> file path, for the non-empty vocabularies.
        """
        os.makedirs(directory, exist_ok=True)
        paths = {}
        for name in ("user_id", "movie_id", "user_occupation_text", "zip_prefix", "title_tokens"):
            values = getattr(self, name)
            if values:
                paths[name] = os.path.join(directory, f"{name}.txt")
                with open(paths[name], "w", encoding="utf-8") as f:
                    f.write("\n".join(values) + "\n")
        return paths

    def save(self, directory: str) -> str:
        """Writes `vocabularies.json` into `directory`; returns its path."""
        path = os.path.join(directory, VOCABULARY_FILE)
        with open(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=1)
        return path

    @classmethod
    def load(cls, directory: str) -> Vocabularies:
        path = os.path.join(directory, VOCABULARY_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path} does not exist: train a model first (recsys train ...)"
            )
        with open(path) as f:
            raw = json.load(f)
        stats = {k: tuple(v) for k, v in raw.pop("numeric_stats", {}).items()}
        return cls(**{k: tuple(v) for k, v in raw.items()}, numeric_stats=stats)


def build(train: Columns) -> Vocabularies:
    """Vocabularies of the training ratings `train` (columns as in `data.MovieLens.ratings`)."""

    def ids(name: str) -> tuple[str, ...]:
        values = np.array(list(set(train[name])), dtype=object)  # hashing: O(n), no sort of n
        return tuple(values[np.argsort(id_sort_keys(values), kind="stable")])

    has_demographics = F.USER_ZIP_CODE.name in train
    occupations = tuple(sorted(set(train[F.USER_OCCUPATION_TEXT.name]))) if has_demographics else ()
    zips = (
        tuple(sorted({F.zip_prefix(z) for z in train[F.USER_ZIP_CODE.name]}))
        if has_demographics
        else ()
    )
    times = np.asarray(train.get(F.TIMESTAMP.name, []), np.int64)
    numeric = [F.TIMESTAMP.name] + ([F.RAW_USER_AGE.name] if has_demographics else [])
    stats = {
        name: (
            float(np.mean(train[name].astype(np.float64))),
            float(np.var(train[name].astype(np.float64))),
        )
        for name in numeric
        if name in train
    }
    return Vocabularies(
        user_id=ids(F.USER_ID.name),
        movie_id=ids(F.MOVIE_ID.name),
        user_occupation_text=occupations,
        zip_prefix=zips,
        title_tokens=title_tokens(np.array(sorted(set(train[F.MOVIE_TITLE.name])))),
        numeric_stats=stats,
        time_range=(int(times.min()), int(times.max())) if len(times) else (),
    )


def title_tokens(titles: np.ndarray) -> tuple[str, ...]:
    """Tokens of `titles` [n] str by Keras's default TextVectorization standardisation."""
    layer = tf.keras.layers.TextVectorization(standardize="lower_and_strip_punctuation")
    layer.adapt(tf.constant(list(titles), dtype=tf.string))
    # get_vocabulary() starts with the padding token "" and the OOV token "[UNK]".
    return tuple(str(t) for t in layer.get_vocabulary()[2:])
