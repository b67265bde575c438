"""Vocabularies built from the training split only, saved beside every model.

Anything not in a vocabulary (a user, movie or occupation first seen after
training) maps to the out-of-vocabulary bucket of the model's lookup layer and
still gets an answer from its other features.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from pipelines import features as F
from pipelines.data import Columns, id_sort_keys

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
      genres: The fixed genre list (features.GENRES).
    """

    user_id: tuple[str, ...]
    movie_id: tuple[str, ...]
    user_occupation_text: tuple[str, ...]
    zip_prefix: tuple[str, ...]
    title_tokens: tuple[str, ...]
    genres: tuple[str, ...] = F.GENRES

    def save(self, directory: str) -> str:
        """Writes `vocabularies.json` into `directory`; returns its path."""
        path = os.path.join(directory, VOCABULARY_FILE)
        with open(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=1)
        return path

    @classmethod
    def load(cls, directory: str) -> "Vocabularies":
        path = os.path.join(directory, VOCABULARY_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} does not exist: train a model first (recsys train ...)")
        with open(path) as f:
            return cls(**{k: tuple(v) for k, v in json.load(f).items()})


def build(train: Columns) -> Vocabularies:
    """Vocabularies of the training ratings `train` (columns as in `data.MovieLens.ratings`)."""

    def ids(name: str) -> tuple[str, ...]:
        values = np.unique(train[name])
        return tuple(values[np.argsort(id_sort_keys(values), kind="stable")])

    has_demographics = F.USER_ZIP_CODE.name in train
    occupations = tuple(sorted(set(train[F.USER_OCCUPATION_TEXT.name]))) if has_demographics else ()
    zips = (
        tuple(sorted({F.zip_prefix(z) for z in train[F.USER_ZIP_CODE.name]})) if has_demographics else ()
    )
    return Vocabularies(
        user_id=ids(F.USER_ID.name),
        movie_id=ids(F.MOVIE_ID.name),
        user_occupation_text=occupations,
        zip_prefix=zips,
        title_tokens=title_tokens(np.unique(train[F.MOVIE_TITLE.name])),
    )


def title_tokens(titles: np.ndarray) -> tuple[str, ...]:
    """Tokens of `titles` [n] str by Keras's default TextVectorization standardisation."""
    layer = tf.keras.layers.TextVectorization(standardize="lower_and_strip_punctuation")
    layer.adapt(tf.constant(list(titles), dtype=tf.string))
    # get_vocabulary() starts with the padding token "" and the OOV token "[UNK]".
    return tuple(str(t) for t in layer.get_vocabulary()[2:])
