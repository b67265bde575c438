"""The two towers: query (user + context) and candidate (movie), both to d dimensions.

All preprocessing lives inside the towers (lookups, tokenisation, normalisation), so a
SavedModel takes raw TFDS-named features. Which features each tower reads comes from the
registry (`core.features.inputs_of`). Unknown ids, occupations and zip prefixes land in
each lookup's out-of-vocabulary bucket and still get an embedding.
"""

from __future__ import annotations

import tensorflow as tf

from core import features as F
from core.encoders import (
    Demographics,
    TitleEncoder,
    clip_time,
    embedding,
    masked_mean,
    normalized_multi_hot,
    regularizer,
    standardize,
)
from core.vocab import Vocabularies
from retrieval.config import TowerConfig


def query_feature_names(vocab: Vocabularies, cfg: TowerConfig) -> tuple[str, ...]:
    """The query tower's input keys (also the exported signatures'), in registry order."""
    return F.inputs_of(F.Reader.QUERY_TOWER, cfg.groups(vocab.has_demographics))


def candidate_feature_names(cfg: TowerConfig) -> tuple[str, ...]:
    """The candidate tower's input keys."""
    return F.inputs_of(F.Reader.CANDIDATE_TOWER, cfg.groups(has_demographics=False))


def _mlp(cfg: TowerConfig, name: str) -> tf.keras.Sequential:
    layers = []
    for units in cfg.hidden_layers:
        layers.append(tf.keras.layers.Dense(units, "relu", kernel_regularizer=regularizer(cfg.l2)))
        if cfg.dropout > 0:
            layers.append(tf.keras.layers.Dropout(cfg.dropout))
    layers.append(tf.keras.layers.Dense(cfg.output_dim, kernel_regularizer=regularizer(cfg.l2)))
    return tf.keras.Sequential(layers, name=name)


class QueryTower(tf.keras.Model):
    """User and request context -> [batch, d] query embedding.

    Inputs: dict keyed by `query_feature_names`, [batch] tensors, `recent_movie_ids`
    [batch, n] "" padded, newest first (the first `cfg.history_length` are read).
    """

    def __init__(
        self, vocab: Vocabularies, vocab_files: dict[str, str], movie_ids, cfg: TowerConfig
    ):
        super().__init__(name="query_tower")
        self.cfg = cfg
        self.feature_names = query_feature_names(vocab, cfg)
        self.user_id = embedding(vocab_files["user_id"], cfg.id_embedding_dim, cfg.l2)
        self.demographics = None
        if F.USER_ZIP_CODE.name in self.feature_names:
            self.demographics = Demographics(
                vocab_files,
                vocab.numeric_stats[F.RAW_USER_AGE.name],
                cfg.feature_embedding_dim,
                cfg.l2,
            )
        if cfg.use_time:
            self.time_stats = vocab.numeric_stats[F.TIMESTAMP.name]
            self.time_range = vocab.time_range
        self.movie_ids = movie_ids
        self.attention = None
        if cfg.use_history:
            self.last_movie = embedding(vocab_files["movie_id"], cfg.id_embedding_dim, cfg.l2)
            if cfg.attention_layers:
                self.attention = HistoryAttention(
                    cfg.history_length,
                    cfg.id_embedding_dim,
                    cfg.attention_layers,
                    cfg.attention_heads,
                    cfg.dropout,
                )
        self.mlp = _mlp(cfg, "query_mlp")

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        parts = [self.user_id(inputs[F.USER_ID.name])]
        if self.demographics is not None:
            parts.append(self.demographics(inputs))
        if self.cfg.use_time:
            time = clip_time(inputs[F.TIMESTAMP.name], self.time_range)
            parts.append(standardize(time, self.time_stats)[:, tf.newaxis])
        if self.cfg.use_history:
            history = inputs[F.RECENT_MOVIE_IDS.name][:, : self.cfg.history_length]
            present = tf.not_equal(history, F.PAD)
            movies = self.movie_ids(history)
            parts.append(masked_mean(movies, present))
            is_movie = tf.cast(present[:, :1], tf.float32)
            parts.append(self.last_movie(history[:, 0]) * is_movie)
            if self.attention is not None:
                parts.append(self.attention(movies, present, training=training) * is_movie)
        return _finish(self.mlp(tf.concat(parts, axis=1), training=training), self.cfg)


class HistoryAttention(tf.keras.layers.Layer):
    """SASRec's encoder over a newest-first history: [batch, n, d] movie embeddings and
    their [batch, n] presence -> [batch, d], the newest position's output after
    `num_layers` blocks of self-attention and a feed-forward layer (residuals, layer norms,
    learned positions). Padding is masked out of every attention."""

    def __init__(self, length: int, dim: int, num_layers: int, num_heads: int, dropout: float):
        super().__init__(name="history_attention")
        self.positions = tf.keras.layers.Embedding(length, dim)
        self.blocks = [
            (
                tf.keras.layers.MultiHeadAttention(
                    num_heads, key_dim=max(1, dim // num_heads), dropout=dropout
                ),
                tf.keras.layers.LayerNormalization(),
                tf.keras.Sequential(
                    [
                        tf.keras.layers.Dense(dim, "relu"),
                        tf.keras.layers.Dropout(dropout),
                        tf.keras.layers.Dense(dim),
                    ]
                ),
                tf.keras.layers.LayerNormalization(),
            )
            for _ in range(num_layers)
        ]

    def call(self, movies: tf.Tensor, present: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = movies + self.positions(tf.range(tf.shape(movies)[1]))[tf.newaxis]
        mask = present[:, tf.newaxis, :] & present[:, :, tf.newaxis]
        for attention, norm, feed_forward, norm_out in self.blocks:
            x = norm(x + attention(x, x, attention_mask=mask, training=training))
            x = norm_out(x + feed_forward(x, training=training))
        return x[:, 0, :]


class CandidateTower(tf.keras.Model):
    """Movie features -> [batch, d] candidate embedding.

    Inputs (dict, keys from `candidate_feature_names`): `movie_id` [batch] string,
    `movie_title` [batch] string, `movie_genres` [batch, len(GENRES)] float32 multi-hot.
    """

    def __init__(self, vocab_files: dict[str, str], movie_ids, cfg: TowerConfig):
        super().__init__(name="candidate_tower")
        self.cfg = cfg
        self.feature_names = candidate_feature_names(cfg)
        self.movie_ids = movie_ids
        if cfg.use_movie_content:
            self.title = TitleEncoder(
                vocab_files["title_tokens"], cfg.feature_embedding_dim, cfg.l2
            )
            self.genres = tf.keras.layers.Dense(cfg.feature_embedding_dim, use_bias=False)
        self.mlp = _mlp(cfg, "candidate_mlp")

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        parts = [self.movie_ids(inputs[F.MOVIE_ID.name])]
        if self.cfg.use_movie_content:
            parts.append(self.title(inputs[F.MOVIE_TITLE.name]))
            parts.append(self.genres(normalized_multi_hot(inputs[F.MOVIE_GENRES.name])))
        return _finish(self.mlp(tf.concat(parts, axis=1), training=training), self.cfg)


def _finish(embeddings: tf.Tensor, cfg: TowerConfig) -> tf.Tensor:
    return tf.math.l2_normalize(embeddings, axis=1) if cfg.normalize else embeddings
