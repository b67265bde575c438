"""The two towers: query (user + context) and candidate (movie), both to d dimensions.

All preprocessing lives inside the towers (lookups, tokenisation, normalisation), so
a SavedModel takes raw TFDS-named features. Unknown ids, occupations and zip prefixes
land in each lookup's out-of-vocabulary bucket and still get an embedding.
"""

from __future__ import annotations

import tensorflow as tf

from pipelines import features as F
from pipelines.encoders import (
    Demographics,
    TitleEncoder,
    embedding,
    masked_mean,
    normalized_multi_hot,
    regularizer,
    standardize,
)
from pipelines.vocab import Vocabularies
from retrieval.config import TowerConfig


def query_feature_names(vocab: Vocabularies, cfg: TowerConfig) -> tuple[str, ...]:
    """The input keys of the query tower, in signature order."""
    names = [F.USER_ID.name]
    if cfg.use_demographics and vocab.has_demographics:
        names += [f.name for f in F.DEMOGRAPHIC_FEATURES if f is not F.USER_OCCUPATION_LABEL]
    if cfg.use_time:
        names.append(F.TIMESTAMP.name)
    if cfg.use_history:
        names.append(F.RECENT_MOVIE_IDS.name)
    return tuple(names)


def candidate_feature_names(cfg: TowerConfig) -> tuple[str, ...]:
    """The input keys of the candidate tower."""
    names = [F.MOVIE_ID.name]
    if cfg.use_title:
        names.append(F.MOVIE_TITLE.name)
    if cfg.use_genres:
        names.append(F.MOVIE_GENRES.name)
    return tuple(names)


def _mlp(cfg: TowerConfig, name: str) -> tf.keras.Sequential:
    layers = []
    for units in cfg.hidden_layers:
        layers.append(tf.keras.layers.Dense(units, "relu", kernel_regularizer=regularizer(cfg.l2)))
        if cfg.dropout > 0:
            layers.append(tf.keras.layers.Dropout(cfg.dropout))
    layers.append(tf.keras.layers.Dense(cfg.output_dim, kernel_regularizer=regularizer(cfg.l2)))
    return tf.keras.Sequential(layers, name=name)


class MovieIdEncoder(tf.keras.layers.Layer):
    """Movie-id embedding shared by the candidate tower and the query tower's history."""

    def __init__(self, vocab_files: dict[str, str], cfg: TowerConfig, **kwargs):
        super().__init__(**kwargs)
        self.encoder = embedding(vocab_files["movie_id"], cfg.id_embedding_dim, cfg.l2)

    def call(self, movie_ids: tf.Tensor) -> tf.Tensor:
        return self.encoder(movie_ids)


class QueryTower(tf.keras.Model):
    """User and request context -> [batch, d] query embedding.

    Inputs (dict of [batch] tensors, [batch, n] for `recent_movie_ids`), keys from
    `query_feature_names`: user id; with demographics gender, age bucket, raw age,
    occupation, zip code; request `timestamp`; `recent_movie_ids` padded with "",
    newest first (only the first `history_length`, as in training, are read).
    """

    def __init__(
        self,
        vocab: Vocabularies,
        vocab_files: dict[str, str],
        movie_ids: MovieIdEncoder,
        cfg: TowerConfig,
        history_length: int,
    ):
        super().__init__(name="query_tower")
        self.cfg = cfg
        self.history_length = history_length
        self.feature_names = query_feature_names(vocab, cfg)
        self.user_id = embedding(vocab_files["user_id"], cfg.id_embedding_dim, cfg.l2)
        self.demographics = None
        if F.USER_ZIP_CODE.name in self.feature_names:
            self.demographics = Demographics(
                vocab_files, vocab.numeric_stats[F.RAW_USER_AGE.name], cfg.feature_embedding_dim, cfg.l2
            )
        if cfg.use_time:
            self.time_stats = vocab.numeric_stats[F.TIMESTAMP.name]
        self.movie_ids = movie_ids
        self.mlp = _mlp(cfg, "query_mlp")

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        parts = [self.user_id(inputs[F.USER_ID.name])]
        if self.demographics is not None:
            parts.append(self.demographics(inputs))
        if self.cfg.use_time:
            parts.append(standardize(inputs[F.TIMESTAMP.name], self.time_stats)[:, tf.newaxis])
        if self.cfg.use_history:
            history = inputs[F.RECENT_MOVIE_IDS.name][:, : self.history_length]  # as trained
            parts.append(masked_mean(self.movie_ids(history), tf.not_equal(history, "")))
        return _finish(self.mlp(tf.concat(parts, axis=1), training=training), self.cfg)


class CandidateTower(tf.keras.Model):
    """Movie features -> [batch, d] candidate embedding.

    Inputs (dict, keys from `candidate_feature_names`): `movie_id` [batch] string,
    `movie_title` [batch] string, `movie_genres` [batch, len(GENRES)] float32 multi-hot.
    """

    def __init__(self, vocab_files: dict[str, str], movie_ids: MovieIdEncoder, cfg: TowerConfig):
        super().__init__(name="candidate_tower")
        self.cfg = cfg
        self.feature_names = candidate_feature_names(cfg)
        self.movie_ids = movie_ids
        if cfg.use_title:
            self.title = TitleEncoder(vocab_files["title_tokens"], cfg.feature_embedding_dim, cfg.l2)
        if cfg.use_genres:
            self.genres = tf.keras.layers.Dense(cfg.feature_embedding_dim, use_bias=False)
        self.mlp = _mlp(cfg, "candidate_mlp")

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        parts = [self.movie_ids(inputs[F.MOVIE_ID.name])]
        if self.cfg.use_title:
            parts.append(self.title(inputs[F.MOVIE_TITLE.name]))
        if self.cfg.use_genres:
            parts.append(self.genres(normalized_multi_hot(inputs[F.MOVIE_GENRES.name])))
        return _finish(self.mlp(tf.concat(parts, axis=1), training=training), self.cfg)


def _finish(embeddings: tf.Tensor, cfg: TowerConfig) -> tf.Tensor:
    return tf.math.l2_normalize(embeddings, axis=1) if cfg.normalize else embeddings
