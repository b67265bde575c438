"""The ranking model: feature encoders -> DCN-v2 cross network + deep MLP -> rating.

`RatingNetwork` maps raw, TFDS-named features (user features, `movie_id`, rating
`timestamp`) to a predicted rating; movie features come from the movie table inside
it. `RankingModel` wraps it in a `tfrs.Model` whose loss is `tfrs.tasks.Ranking`
(MSE), plus an optional ListMLE term over lists of one user's ratings. `RatingBlend`
averages the trained networks with I-AutoRec (ranking/autorec.py).
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from pipelines import features as F
from pipelines.data import Columns
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
from ranking import features as RF
from ranking.autorec import AutoRecScorer
from ranking.config import RankingModelConfig, RankingTaskConfig


def input_feature_names(vocab: Vocabularies, cfg: RankingModelConfig) -> tuple[str, ...]:
    """The network's input keys (also the exported signature's), besides nothing else."""
    names = [F.USER_ID.name, F.MOVIE_ID.name, F.TIMESTAMP.name]
    if cfg.use_demographics and vocab.has_demographics:
        names += [f.name for f in F.DEMOGRAPHIC_FEATURES if f is not F.USER_OCCUPATION_LABEL]
    if cfg.use_history:
        names.append(F.RECENT_MOVIE_IDS.name)
    return tuple(names)


class RatingNetwork(tf.keras.Model):
    """Raw features -> [batch] predicted rating (clipped to F.RATING_RANGE when not training).

    Inputs: dict of [batch] tensors keyed by `input_feature_names` (`timestamp` is the
    rating's or request's time, int64 seconds; `recent_movie_ids` is [batch, n], ""-padded).
    """

    def __init__(
        self,
        vocab: Vocabularies,
        vocab_files: dict[str, str],
        catalogue: Columns,
        stats: dict[str, tuple[float, float]],
        mean_rating: float,
        cfg: RankingModelConfig,
        history_length: int,
    ):
        super().__init__(name="rating_network")
        self.cfg = cfg
        self.history_length = history_length
        self.feature_names = input_feature_names(vocab, cfg)
        self.stats = {**vocab.numeric_stats, **stats}
        dim, l2 = cfg.feature_embedding_dim, cfg.l2
        self.user_id = embedding(vocab_files["user_id"], cfg.id_embedding_dim, l2)
        self.movie_id = embedding(vocab_files["movie_id"], cfg.id_embedding_dim, l2)
        self.demographics = None
        if F.USER_ZIP_CODE.name in self.feature_names:
            self.demographics = Demographics(vocab_files, self.stats[F.RAW_USER_AGE.name], dim, l2)
        self.movies = RF.MovieTable(catalogue, mean_release_year=self.stats["release_year"][0])
        if cfg.use_movie_features:
            self.title = TitleEncoder(vocab_files["title_tokens"], dim, l2)
            self.genres = tf.keras.layers.Dense(dim, use_bias=False, kernel_regularizer=regularizer(l2))
        if cfg.use_history:
            self.history = embedding(vocab_files["movie_id"], cfg.id_embedding_dim, l2)
        if cfg.use_time:
            self.weekday = tf.keras.layers.Embedding(7, dim)
            self.hour = tf.keras.layers.Embedding(24, dim)
        self.cross = [
            tfrs.layers.dcn.Cross(projection_dim=cfg.cross_projection_dim or None, kernel_regularizer=regularizer(l2))
            for _ in range(cfg.num_cross_layers)
        ]
        deep = []
        for units in cfg.deep_layers:
            deep.append(tf.keras.layers.Dense(units, "relu", kernel_regularizer=regularizer(l2)))
            if cfg.dropout > 0:
                deep.append(tf.keras.layers.Dropout(cfg.dropout))
        self.deep = tf.keras.Sequential(deep, name="deep")
        self.out = tf.keras.layers.Dense(1, bias_initializer=tf.keras.initializers.Constant(mean_rating))

    def encode(self, inputs: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(all features concatenated [batch, n], user-id embedding, movie-id embedding)."""
        user = self.user_id(inputs[F.USER_ID.name])
        movie = self.movie_id(inputs[F.MOVIE_ID.name])
        parts = [user, movie]
        if self.cfg.use_history:
            history = inputs[F.RECENT_MOVIE_IDS.name][:, : self.history_length]  # as trained
            implicit = masked_mean(self.history(history), tf.not_equal(history, ""))
            parts.append(implicit)
            user = user + implicit  # SVD++: p_u + mean of y_j over the rated movies
        if self.demographics is not None:
            parts.append(self.demographics(inputs))
        timestamps = inputs[F.TIMESTAMP.name]
        if self.cfg.use_movie_features:
            table = self.movies(inputs[F.MOVIE_ID.name])
            parts += [
                self.title(table[F.MOVIE_TITLE.name]),
                self.genres(normalized_multi_hot(table[F.MOVIE_GENRES.name])),
                standardize(table["release_year"], self.stats["release_year"])[:, tf.newaxis],
            ]
            if self.cfg.use_time:
                age = RF.rating_years(timestamps) - table["release_year"]
                parts.append(standardize(age, self.stats["movie_age"])[:, tf.newaxis])
        if self.cfg.use_time:
            weekday, hour = RF.weekday_and_hour(timestamps)
            parts += [
                self.weekday(weekday),
                self.hour(hour),
                standardize(timestamps, self.stats[F.TIMESTAMP.name])[:, tf.newaxis],
            ]
        return tf.concat(parts, axis=1), user, movie

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        x0, user, movie = self.encode(inputs)
        crossed = x0
        for layer in self.cross:
            crossed = layer(x0, crossed)
        if self.cfg.structure == "stacked":
            hidden = self.deep(crossed, training=training)
        else:
            hidden = tf.concat([crossed, self.deep(x0, training=training)], axis=1)
        rating = tf.squeeze(self.out(hidden), axis=1)
        if self.cfg.dot_product:
            rating += tf.reduce_sum(user * movie, axis=1)
        if not training:
            rating = tf.clip_by_value(rating, *F.RATING_RANGE)
        return rating


class RatingEnsemble(tf.keras.Model):
    """The mean prediction of independently initialised RatingNetworks (same inputs)."""

    def __init__(self, members: list[RatingNetwork]):
        super().__init__(name="rating_ensemble")
        self.members = members
        self.feature_names = members[0].feature_names
        self.movies = members[0].movies

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return tf.add_n([m(inputs, training=training) for m in self.members]) / len(self.members)


class RatingBlend(tf.keras.Model):
    """(1 - weight) * networks + weight * AutoRec where AutoRec knows the user and the
    movie; the networks alone elsewhere (new users, new movies). For prediction only:
    each side is trained on its own (ranking.train)."""

    def __init__(self, networks: RatingNetwork | RatingEnsemble, autorec: AutoRecScorer, weight: float):
        super().__init__(name="rating_blend")
        self.networks = networks
        self.autorec = autorec
        self.weight = weight
        self.feature_names = networks.feature_names
        self.movies = networks.movies

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        rating = self.networks(inputs, training=False)
        other, known = self.autorec(inputs[F.USER_ID.name], inputs[F.MOVIE_ID.name])
        return tf.where(known, (1.0 - self.weight) * rating + self.weight * other, rating)


class ListMLELoss(tf.keras.losses.Loss):
    """ListMLE (Xia et al., 2008): the negative log-likelihood of the true order of each
    list under a Plackett-Luce model of the predicted scores.

    labels, predictions: [batch, list_length]; returns [batch] losses.
    (TFRS 0.7.7 has no listwise loss; its listwise tutorial borrows TF-Ranking's.)
    """

    def call(self, labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
        order = tf.argsort(labels, axis=1, direction="DESCENDING", stable=True)
        ranked = tf.gather(predictions, order, batch_dims=1)
        return tf.reduce_sum(tf.math.cumulative_logsumexp(ranked, axis=1, reverse=True) - ranked, axis=1)


class RankingModel(tfrs.Model):
    """Pointwise MSE (`tfrs.tasks.Ranking`) and, optionally, ListMLE over rating lists.

    Pointwise batches hold [batch] features; listwise batches hold [batch, list_length]
    features of one user's ratings per row.
    """

    def __init__(self, network: RatingNetwork | RatingEnsemble, task: RankingTaskConfig):
        super().__init__()
        self.network = network
        # An ensemble's members each get their own loss, so they learn independently.
        self.members = network.members if isinstance(network, RatingEnsemble) else [network]
        self.task_config = task
        self.task = tfrs.tasks.Ranking(
            loss=tf.keras.losses.MeanSquaredError(), metrics=[tf.keras.metrics.RootMeanSquaredError("rmse")]
        )
        self.listwise = tfrs.tasks.Ranking(loss=ListMLELoss()) if task.listwise_weight > 0 else None

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.network(inputs, training=training)

    def compute_loss(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        labels = inputs[F.USER_RATING.name]
        if labels.shape.rank == 1:
            return tf.add_n([self.task(labels=labels, predictions=m(inputs, training=training)) for m in self.members])
        list_shape = tf.shape(labels)
        flat = {k: _flatten_lists(inputs[k]) for k in self.network.feature_names}
        losses = []
        for member in self.members:
            predictions = tf.reshape(member(flat, training=training), list_shape)
            pointwise = self.task(labels=tf.reshape(labels, [-1]), predictions=tf.reshape(predictions, [-1]))
            losses.append(pointwise + self.task_config.listwise_weight * self.listwise(labels=labels, predictions=predictions))
        return tf.add_n(losses)


def _flatten_lists(values: tf.Tensor) -> tf.Tensor:
    """[batch, list, ...] -> [batch * list, ...]."""
    return tf.reshape(values, tf.concat([[-1], tf.shape(values)[2:]], axis=0))
