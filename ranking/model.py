"""The ranking model: feature encoders -> DCN-v2 cross network + deep MLP -> rating.

`RatingNetwork` maps raw, TFDS-named features (user features, `movie_id`, rating
`timestamp`) to a predicted rating; movie features come from the movie table inside
it. `RankingModel` wraps it in a `tfrs.Model` whose loss is `tfrs.tasks.Ranking`
(MSE). `RatingBlend` averages the trained network with I-AutoRec (ranking/autorec.py).
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from core import features as F
from core.data import Columns
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
from ranking import features as RF
from ranking.autorec import AutoRecScorer
from ranking.config import RankingModelConfig


def input_feature_names(vocab: Vocabularies, cfg: RankingModelConfig) -> tuple[str, ...]:
    """The rating network's input keys: the ranker's registry features, less what the
    retrieval stage says of a candidate (the rating does not depend on it)."""
    names = F.inputs_of(F.Reader.RANKER, cfg.groups(vocab.has_demographics))
    return tuple(n for n in names if F.BY_NAME[n].entity is not F.Entity.CANDIDATE)


class RatingNetwork(tf.keras.Model):
    """Raw features -> [batch] predicted rating (clipped to F.RATING_RANGE when not training).

    Inputs: dict of [batch] tensors keyed by `input_feature_names` (`timestamp` is the
    rating's or request's time, int64 seconds; `recent_movie_ids` is [batch, n], ""-padded,
    or [queries, n] with `ranking.features.QUERY_ROW`).
    """

    def __init__(
        self,
        vocab: Vocabularies,
        vocab_files: dict[str, str],
        catalogue: Columns,
        stats: dict[str, tuple[float, float]],
        mean_rating: float,
        cfg: RankingModelConfig,
    ):
        super().__init__(name="rating_network")
        self.cfg = cfg
        self.feature_names = input_feature_names(vocab, cfg)
        self.stats = {**vocab.numeric_stats, **stats}
        self.time_range = vocab.time_range
        dim, l2, per_lookup = cfg.feature_embedding_dim, cfg.l2, cfg.l2_per_lookup
        self.user_id = embedding(vocab_files["user_id"], cfg.id_embedding_dim, l2, per_lookup)
        self.movie_id = embedding(vocab_files["movie_id"], cfg.id_embedding_dim, l2, per_lookup)
        self.demographics = None
        if F.USER_ZIP_CODE.name in self.feature_names:
            self.demographics = Demographics(
                vocab_files, self.stats[F.RAW_USER_AGE.name], dim, l2, per_lookup
            )
        self.movies = RF.MovieTable(catalogue, mean_release_year=self.stats["release_year"][0])
        if cfg.use_movie_content:
            self.title = TitleEncoder(vocab_files["title_tokens"], dim, l2, per_lookup)
            # every table row's title tokenised once, not once per scored candidate
            self.title_tokens = self.title.tokens(self.movies.titles)
            self.genres = tf.keras.layers.Dense(
                dim, use_bias=False, kernel_regularizer=regularizer(l2)
            )
        if cfg.use_history:
            self.history = embedding(vocab_files["movie_id"], cfg.id_embedding_dim, l2, per_lookup)
        if cfg.use_time:
            self.weekday = tf.keras.layers.Embedding(7, dim)
            self.hour = tf.keras.layers.Embedding(24, dim)
        self.cross = [
            tfrs.layers.dcn.Cross(
                projection_dim=cfg.cross_projection_dim or None, kernel_regularizer=regularizer(l2)
            )
            for _ in range(cfg.num_cross_layers)
        ]
        deep = []
        for units in cfg.deep_layers:
            deep.append(tf.keras.layers.Dense(units, "relu", kernel_regularizer=regularizer(l2)))
            if cfg.dropout > 0:
                deep.append(tf.keras.layers.Dropout(cfg.dropout))
        self.deep = tf.keras.Sequential(deep, name="deep")
        self.out = tf.keras.layers.Dense(
            1, bias_initializer=tf.keras.initializers.Constant(mean_rating)
        )

    def encode(self, inputs: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(all features concatenated [batch, n], user-id embedding, movie-id embedding)."""
        user = self.user_id(inputs[F.USER_ID.name])
        movie = self.movie_id(inputs[F.MOVIE_ID.name])
        parts = [user, movie]
        if self.cfg.use_history:
            history = inputs[F.RECENT_MOVIE_IDS.name]
            implicit = RF.per_candidate(
                masked_mean(self.history(history), tf.not_equal(history, F.PAD)), inputs
            )
            parts.append(implicit)
            user = user + implicit  # SVD++: p_u + mean of y_j over the rated movies
        if self.demographics is not None:
            parts.append(self.demographics(inputs))
        timestamps = inputs[F.TIMESTAMP.name]
        clipped = clip_time(timestamps, self.time_range)  # weekday and hour need no clipping
        if self.cfg.use_movie_content:
            table = self.movies(inputs[F.MOVIE_ID.name])
            parts += [
                self.title.embed_tokens(tf.gather(self.title_tokens, table["row"])),
                self.genres(normalized_multi_hot(table[F.MOVIE_GENRES.name])),
                standardize(table["release_year"], self.stats["release_year"])[:, tf.newaxis],
            ]
            if self.cfg.use_time:
                age = RF.rating_years(clipped) - table["release_year"]
                parts.append(standardize(age, self.stats["movie_age"])[:, tf.newaxis])
        if self.cfg.use_time:
            weekday, hour = RF.weekday_and_hour(timestamps)
            parts += [
                self.weekday(weekday),
                self.hour(hour),
                standardize(clipped, self.stats[F.TIMESTAMP.name])[:, tf.newaxis],
            ]
        return tf.concat(parts, axis=1), user, movie

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        x0, user, movie = self.encode(inputs)
        crossed = x0
        for layer in self.cross:
            crossed = layer(x0, crossed)
        hidden = self.deep(crossed, training=training)
        # Plus a matrix-factorisation term: the user-movie dot product.
        rating = tf.squeeze(self.out(hidden), axis=1) + tf.reduce_sum(user * movie, axis=1)
        if not training:
            rating = tf.clip_by_value(rating, *F.RATING_RANGE)
        return rating


class RatingBlend(tf.keras.Model):
    """(1 - weight) * networks + weight * AutoRec where AutoRec knows the user and the
    movie; the networks alone elsewhere (new users, new movies). For prediction only:
    each side is trained on its own (ranking.train)."""

    def __init__(self, networks: RatingNetwork, autorec: AutoRecScorer, weight: float):
        super().__init__(name="rating_blend")
        self.networks = networks
        self.autorec = autorec
        self.weight = weight
        self.feature_names = networks.feature_names
        self.movies = networks.movies

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        rating = self.networks(inputs, training=False)  # QUERY_ROW passes through
        other, known = self.autorec(inputs[F.USER_ID.name], inputs[F.MOVIE_ID.name])
        return tf.where(known, (1.0 - self.weight) * rating + self.weight * other, rating)


class RankingModel(tfrs.Model):
    """The rating network's pointwise MSE through `tfrs.tasks.Ranking`."""

    def __init__(self, network: RatingNetwork):
        super().__init__()
        self.network = network
        self.task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.MeanSquaredError(),
            metrics=[tf.keras.metrics.RootMeanSquaredError("rmse")],
        )

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.network(inputs, training=training)

    def compute_loss(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        predictions = self.network(inputs, training=training)
        return self.task(labels=inputs[F.USER_RATING.name], predictions=predictions)
