"""Every feature of the project, defined once: the registry.

Names are TensorFlow Datasets' MovieLens feature names, so a TFDS example, a model input, a
SavedModel signature key and a gRPC request key are spelled the same. Each feature says
who reads it (`readers`) and which switchable group it belongs to (`group`); the towers,
the ranker, the signatures, the client's dtypes and the user profiles are derived from
here with `inputs_of`, so a feature cannot be spelled two ways. This module imports
nothing of the project (and no TensorFlow), so anything may import it.
"""

from __future__ import annotations

import dataclasses
import enum


class Kind(enum.Enum):
    """How a feature's values are shaped and encoded."""

    ID = "id"  # high-cardinality string id: lookup with an OOV bucket, embedding
    CATEGORICAL = "categorical"  # small vocabulary: lookup with an OOV bucket, embedding
    NUMERIC = "numeric"  # one number, standardised with training-split statistics
    TEXT = "text"  # free text: tokens, pooled embedding
    MULTI_HOT = "multi_hot"  # [len(GENRES)] per example
    TIMESTAMP = "timestamp"  # seconds since the epoch (UTC)
    SEQUENCE = "sequence"  # variable-length list of ids, "" padded: [batch, n]
    LABEL = "label"


class Entity(enum.Enum):
    """Whose property a feature is: a user profile holds the USER and CONTEXT ones."""

    USER = "user"
    MOVIE = "movie"
    CONTEXT = "context"  # a property of the request (time, history), not of the user
    CANDIDATE = "candidate"  # what the retrieval stage says of one candidate
    LABEL = "label"


class Reader(enum.Enum):
    """Which model reads a feature as a SavedModel input."""

    QUERY_TOWER = "query_tower"
    CANDIDATE_TOWER = "candidate_tower"
    RANKER = "ranker"
    RECOMMENDER = "recommender"  # the composite model only (not a model feature)


class Group(enum.Enum):
    """A set of features a config switches on or off together."""

    CORE = "core"  # always read
    DEMOGRAPHICS = "demographics"  # only in datasets that have them (100k, 1m)
    TIME = "time"
    HISTORY = "history"
    MOVIE_CONTENT = "movie_content"


@dataclasses.dataclass(frozen=True)
class Feature:
    """One feature.

    Attributes:
      name: TFDS feature name; also the model input, signature and request key.
      dtype: TensorFlow dtype name of one value ("string", "int64", "float32", "bool").
      kind: Shape and encoding.
      entity: Whose property it is.
      readers: The models that take it as an input.
      group: The switchable group it belongs to.
      description: One line for docs, export metadata and error messages.
    """

    name: str
    dtype: str
    kind: Kind
    entity: Entity
    readers: frozenset[Reader]
    group: Group
    description: str

    @property
    def shape(self) -> tuple[None, ...]:
        """Signature shape: [batch], or [batch, n] for sequences and multi-hot."""
        return (None, None) if self.kind in (Kind.SEQUENCE, Kind.MULTI_HOT) else (None,)


def _feature(name, dtype, kind, entity, readers, group, description) -> Feature:
    return Feature(name, dtype, kind, entity, frozenset(readers), group, description)


Q, C, R, REC = Reader.QUERY_TOWER, Reader.CANDIDATE_TOWER, Reader.RANKER, Reader.RECOMMENDER

# Genres as TFDS names them (the ClassLabel of `movie_genres`), in label order.
GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "Unknown",
    "War",
    "Western",
    "(no genres listed)",
)

# The age buckets TFDS uses for `bucketized_user_age` (lower bound of each range).
AGE_BUCKETS: tuple[float, ...] = (1.0, 18.0, 25.0, 35.0, 45.0, 50.0, 56.0)

# Number of leading characters of a zip code used as the user's region.
ZIP_PREFIX_LENGTH = 3
RATING_RANGE = (1.0, 5.0)  # predicted ratings are clipped to it
PAD = ""  # padding value of every SEQUENCE feature; never an id

D, CORE = Group.DEMOGRAPHICS, Group.CORE
USER_ID = _feature("user_id", "string", Kind.ID, Entity.USER, {Q, R}, CORE, "user id")
MOVIE_ID = _feature(
    "movie_id", "string", Kind.ID, Entity.MOVIE, {C, R}, CORE, "movie id (ranking: the candidates)"
)
MOVIE_TITLE = _feature(
    "movie_title", "string", Kind.TEXT, Entity.MOVIE, {C}, Group.MOVIE_CONTENT, "title with year"
)
MOVIE_GENRES = _feature(
    "movie_genres",
    "float32",
    Kind.MULTI_HOT,
    Entity.MOVIE,
    {C},
    Group.MOVIE_CONTENT,
    "multi-hot over GENRES",
)
USER_GENDER = _feature(
    "user_gender", "bool", Kind.CATEGORICAL, Entity.USER, {Q, R}, D, "true is male"
)
BUCKETIZED_USER_AGE = _feature(
    "bucketized_user_age",
    "float32",
    Kind.CATEGORICAL,
    Entity.USER,
    {Q, R},
    D,
    "age bucket, one of AGE_BUCKETS",
)
RAW_USER_AGE = _feature(
    "raw_user_age", "float32", Kind.NUMERIC, Entity.USER, {Q, R}, D, "age in years"
)
USER_OCCUPATION_LABEL = _feature(
    "user_occupation_label", "int64", Kind.CATEGORICAL, Entity.USER, (), D, "TFDS occupation id"
)
USER_OCCUPATION_TEXT = _feature(
    "user_occupation_text", "string", Kind.CATEGORICAL, Entity.USER, {Q, R}, D, "occupation"
)
USER_ZIP_CODE = _feature(
    "user_zip_code",
    "string",
    Kind.CATEGORICAL,
    Entity.USER,
    {Q, R},
    D,
    "zip code; its prefix is the region",
)
TIMESTAMP = _feature(
    "timestamp",
    "int64",
    Kind.TIMESTAMP,
    Entity.CONTEXT,
    {Q, R},
    Group.TIME,
    "request (or rating) time, seconds since 1970-01-01 UTC",
)
USER_RATING = _feature(
    "user_rating", "float32", Kind.LABEL, Entity.LABEL, (), CORE, "rating, 1 to 5 stars"
)
# Not TFDS features. The ids of the movies the user rated before `timestamp`, newest
# first, built from earlier ratings only, never later ones.
RECENT_MOVIE_IDS = _feature(
    "recent_movie_ids",
    "string",
    Kind.SEQUENCE,
    Entity.CONTEXT,
    {Q, R},
    Group.HISTORY,
    "ids of movies rated before the request time, newest first",
)
# What the retrieval stage says of each candidate: the ranker's second-stage inputs.
RETRIEVAL_SCORE = _feature(
    "retrieval_score",
    "float32",
    Kind.NUMERIC,
    Entity.CANDIDATE,
    {R},
    CORE,
    "the candidate's retrieval score (query . movie embedding)",
)
RETRIEVAL_RANK = _feature(
    "retrieval_rank",
    "int64",
    Kind.NUMERIC,
    Entity.CANDIDATE,
    {R},
    CORE,
    "the candidate's position in the retrieval list, 0 is the top",
)
SEEN_MOVIE_IDS = _feature(
    "seen_movie_ids",
    "string",
    Kind.SEQUENCE,
    Entity.CONTEXT,
    {REC},
    CORE,
    "movies never to recommend (already rated), any order",
)

# Every feature, in signature order.
REGISTRY: tuple[Feature, ...] = (
    USER_ID,
    USER_GENDER,
    BUCKETIZED_USER_AGE,
    RAW_USER_AGE,
    USER_OCCUPATION_LABEL,
    USER_OCCUPATION_TEXT,
    USER_ZIP_CODE,
    TIMESTAMP,
    RECENT_MOVIE_IDS,
    SEEN_MOVIE_IDS,
    MOVIE_ID,
    MOVIE_TITLE,
    MOVIE_GENRES,
    RETRIEVAL_SCORE,
    RETRIEVAL_RANK,
    USER_RATING,
)
BY_NAME: dict[str, Feature] = {f.name: f for f in REGISTRY}

# TFDS's MovieLens ratings features, and the ones only datasets with demographics carry.
TFDS_RATING_FEATURES = tuple(
    f
    for f in REGISTRY
    if f.entity is not Entity.CANDIDATE and f not in (RECENT_MOVIE_IDS, SEEN_MOVIE_IDS)
)
DEMOGRAPHIC_FEATURES = tuple(f for f in REGISTRY if f.group is D)
# What a request carries about its user: a user profile's fields.
PROFILE_FEATURES = tuple(
    f for f in REGISTRY if f.entity in (Entity.USER, Entity.CONTEXT) and f.readers
)


def enabled_groups(
    *, demographics: bool, time: bool, history: bool, movie_content: bool
) -> set[Group]:
    """The switchable groups that are on (CORE is always read)."""
    switches = {
        Group.DEMOGRAPHICS: demographics,
        Group.TIME: time,
        Group.HISTORY: history,
        Group.MOVIE_CONTENT: movie_content,
    }
    return {group for group, on in switches.items() if on}


def inputs_of(reader: Reader, groups: set[Group] | frozenset[Group]) -> tuple[str, ...]:
    """Input names of `reader`'s features in the enabled `groups` (CORE always), in
    registry order."""
    enabled = set(groups) | {CORE}
    return tuple(f.name for f in REGISTRY if reader in f.readers and f.group in enabled)


def zip_prefix(zip_code: str) -> str:
    """Region of a zip code: its first ZIP_PREFIX_LENGTH characters, upper-cased."""
    return zip_code.strip().upper()[:ZIP_PREFIX_LENGTH]
