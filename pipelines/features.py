"""Every feature of the project, defined once.

Names are TensorFlow Datasets' MovieLens feature names, so a TFDS example, a
model input, a SavedModel signature key and a gRPC request key are spelled the
same. Retrieval, ranking, serving and the data loader iterate over these
definitions instead of repeating strings. This module imports nothing of the
project (and no TensorFlow), so anything may import it.
"""

from __future__ import annotations

import dataclasses
import enum


class Kind(enum.Enum):
    """How a feature is encoded by the models."""

    ID = "id"  # high-cardinality string id: StringLookup with an OOV bucket, embedding
    CATEGORICAL = "categorical"  # small vocabulary: lookup with an OOV bucket, embedding
    NUMERIC = "numeric"  # float, normalised with training-split statistics
    TEXT = "text"  # free text: tokens, pooled embedding
    MULTI_HOT = "multi_hot"  # fixed vocabulary, several values per example
    TIMESTAMP = "timestamp"  # seconds since the epoch (UTC)
    SEQUENCE = "sequence"  # variable-length list of ids (recent history)
    LABEL = "label"


class Entity(enum.Enum):
    """Whose property a feature is; decides which tower or table carries it."""

    USER = "user"
    MOVIE = "movie"
    CONTEXT = "context"  # a property of the request (time, history), not of the user
    LABEL = "label"


@dataclasses.dataclass(frozen=True)
class Feature:
    """One feature.

    Attributes:
      name: TFDS feature name; also the model input and signature key.
      dtype: TensorFlow dtype name of one value ("string", "int64", "float32", "bool").
      kind: How the models encode it.
      entity: Whose property it is.
      description: One line for docs, `saved_model_cli` users and error messages.
    """

    name: str
    dtype: str
    kind: Kind
    entity: Entity
    description: str


# Genres as TFDS names them (the ClassLabel of `movie_genres`), in label order.
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "Unknown", "War", "Western", "(no genres listed)",
)  # fmt: skip

# The age buckets TFDS uses for `bucketized_user_age` (lower bound of each range).
AGE_BUCKETS: tuple[float, ...] = (1.0, 18.0, 25.0, 35.0, 45.0, 50.0, 56.0)

# Number of leading characters of a zip code used as the user's region.
ZIP_PREFIX_LENGTH = 3

USER_ID = Feature("user_id", "string", Kind.ID, Entity.USER, "user id")
MOVIE_ID = Feature("movie_id", "string", Kind.ID, Entity.MOVIE, "movie id")
MOVIE_TITLE = Feature("movie_title", "string", Kind.TEXT, Entity.MOVIE, "title with release year")
MOVIE_GENRES = Feature(
    "movie_genres", "float32", Kind.MULTI_HOT, Entity.MOVIE, "multi-hot over GENRES"
)
USER_GENDER = Feature("user_gender", "bool", Kind.CATEGORICAL, Entity.USER, "true is male")
BUCKETIZED_USER_AGE = Feature(
    "bucketized_user_age", "float32", Kind.CATEGORICAL, Entity.USER, "age bucket, one of AGE_BUCKETS"
)
RAW_USER_AGE = Feature("raw_user_age", "float32", Kind.NUMERIC, Entity.USER, "age in years")
USER_OCCUPATION_LABEL = Feature(
    "user_occupation_label", "int64", Kind.CATEGORICAL, Entity.USER, "occupation, TFDS label id"
)
USER_OCCUPATION_TEXT = Feature(
    "user_occupation_text", "string", Kind.CATEGORICAL, Entity.USER, "occupation as in the source"
)
USER_ZIP_CODE = Feature(
    "user_zip_code", "string", Kind.CATEGORICAL, Entity.USER, "zip code; its prefix is the region"
)
TIMESTAMP = Feature(
    "timestamp", "int64", Kind.TIMESTAMP, Entity.CONTEXT, "seconds since 1970-01-01 UTC"
)
USER_RATING = Feature("user_rating", "float32", Kind.LABEL, Entity.LABEL, "rating, 1 to 5 stars")
RATING_RANGE = (1.0, 5.0)  # predictions are clipped to it

# Not a TFDS feature: the ids of the movies the user rated before `timestamp`,
# newest first. Built by the loader from earlier ratings only, never later ones.
RECENT_MOVIE_IDS = Feature(
    "recent_movie_ids", "string", Kind.SEQUENCE, Entity.CONTEXT,
    "ids of movies rated before the request time, newest first",
)  # fmt: skip

# TFDS's MovieLens ratings features, in TFDS's order of description.
TFDS_RATING_FEATURES: tuple[Feature, ...] = (
    MOVIE_ID, MOVIE_TITLE, MOVIE_GENRES, USER_ID, USER_RATING, TIMESTAMP,
    USER_GENDER, BUCKETIZED_USER_AGE, USER_OCCUPATION_LABEL, USER_OCCUPATION_TEXT,
    USER_ZIP_CODE, RAW_USER_AGE,
)  # fmt: skip

# Features present only in the datasets that carry demographics (100k, 1m).
DEMOGRAPHIC_FEATURES: tuple[Feature, ...] = (
    USER_GENDER, BUCKETIZED_USER_AGE, USER_OCCUPATION_LABEL, USER_OCCUPATION_TEXT,
    USER_ZIP_CODE, RAW_USER_AGE,
)  # fmt: skip

MOVIE_FEATURES: tuple[Feature, ...] = (MOVIE_ID, MOVIE_TITLE, MOVIE_GENRES)

BY_NAME: dict[str, Feature] = {f.name: f for f in (*TFDS_RATING_FEATURES, RECENT_MOVIE_IDS)}


def zip_prefix(zip_code: str) -> str:
    """Region of a zip code: its first ZIP_PREFIX_LENGTH characters, upper-cased."""
    return zip_code.strip().upper()[:ZIP_PREFIX_LENGTH]
