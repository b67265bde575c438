"""The second stage: score each retrieved candidate for "will this user pick it next".

`CandidateScorer` maps flat (query, candidate) rows to a logit from the hand-made signals
of `ranking.signals` and learned embeddings of the user, the candidate and the user's
recent movies (attention over the history keyed by the candidate); a DCN-v2 cross network
and a deep MLP combine them. It does not read the predicted rating: the rating model was
fit on the training queries' own ratings, so their positives would stand out by it.
`ListwiseModel` trains it on
lists of the retrieval stage's candidates (ranking/candidates.py) with a listwise loss
through `tfrs.tasks.Ranking`. `TwoHeadRanker` is what gets exported: the rating model's
`predicted_rating` and the scorer's `score` from the same inputs.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from core import features as F
from core.encoders import embedding, regularizer
from ranking import features as RF
from ranking.config import ScorerConfig
from ranking.signals import SecondStageSignals, SignalTables

POSITIVE = "positive"  # list batches: [B, N] one-hot label of the movie picked next
SCORE = "score"


class CandidateScorer(tf.keras.Model):
    """Flat rows -> [n] logits. Inputs: the ranker's registry features, each [n]
    (`recent_movie_ids` [n, H], or [queries, H] with `ranking.features.QUERY_ROW`)."""

    def __init__(self, tables: SignalTables, vocab_files: dict[str, str], cfg: ScorerConfig):
        super().__init__(name="candidate_scorer")
        self.signals = SecondStageSignals(tables)
        self.normalize = tf.keras.layers.BatchNormalization()
        self.movie = embedding(
            vocab_files["movie_id"], cfg.embedding_dim, cfg.l2, cfg.l2_per_lookup
        )
        self.user = embedding(vocab_files["user_id"], cfg.embedding_dim, cfg.l2, cfg.l2_per_lookup)
        self.cross = [
            tfrs.layers.dcn.Cross(kernel_regularizer=regularizer(cfg.l2))
            for _ in range(cfg.num_cross_layers)
        ]
        deep = []
        for units in cfg.deep_layers:
            deep.append(
                tf.keras.layers.Dense(units, "relu", kernel_regularizer=regularizer(cfg.l2))
            )
            if cfg.dropout > 0:
                deep.append(tf.keras.layers.Dropout(cfg.dropout))
        deep.append(tf.keras.layers.Dense(1))
        self.deep = tf.keras.Sequential(deep, name="deep")

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False):
        signals = self.normalize(self.signals(inputs), training=training)
        candidate = self.movie(inputs[F.MOVIE_ID.name])  # [n, d]
        history_ids = inputs[F.RECENT_MOVIE_IDS.name]
        # [n, H, d] and [n, H]: looked up once per query, gathered per candidate
        history = RF.per_candidate(self.movie(history_ids), inputs)
        present = RF.per_candidate(tf.not_equal(history_ids, F.PAD), inputs)
        affinity = tf.reduce_sum(history * candidate[:, tf.newaxis, :], axis=2)
        affinity = tf.where(present, affinity, -1e9)
        attention = tf.nn.softmax(affinity, axis=1) * tf.cast(present, tf.float32)
        attended = tf.reduce_sum(history * attention[..., tf.newaxis], axis=1)  # [n, d]
        user = self.user(inputs[F.USER_ID.name])
        x0 = tf.concat(
            [signals, candidate, attended, candidate * attended, user * candidate], axis=1
        )
        crossed = x0
        for layer in self.cross:
            crossed = layer(x0, crossed)
        return tf.squeeze(self.deep(crossed, training=training), axis=1)


class TwoHeadRanker(tf.keras.Model):
    """The exported ranking model: {`predicted_rating`, `score`} of flat rows.

    The rating head is the trained rating model (network, or its blend with AutoRec), the
    score head the candidate scorer; both read the same request.
    """

    def __init__(self, rating_model: tf.keras.Model, scorer: CandidateScorer, feature_names):
        super().__init__(name="two_head_ranker")
        self.rating_model = rating_model
        self.scorer = scorer
        self.feature_names = tuple(feature_names)
        self.movies = rating_model.movies

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        names = (*self.rating_model.feature_names, RF.QUERY_ROW)
        rating = self.rating_model({k: inputs[k] for k in names if k in inputs}, training=False)
        return {"predicted_rating": rating, SCORE: self.scorer(inputs, training=training)}


class PairwiseLogisticLoss(tf.keras.losses.Loss):
    """Mean over the negatives of log(1 + exp(s_negative - s_positive)).

    labels: [B, N] one-hot; logits: [B, N]; returns [B]."""

    def call(self, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        labels = tf.cast(labels, logits.dtype)
        positive = tf.reduce_sum(labels * logits, axis=1, keepdims=True)
        pairs = tf.math.softplus(logits - positive) * (1.0 - labels)
        return tf.reduce_sum(pairs, axis=1) / tf.maximum(tf.reduce_sum(1.0 - labels, axis=1), 1.0)


class ListMLELoss(tf.keras.losses.Loss):
    """ListMLE (Xia et al., 2008): the negative log-likelihood of the labels' order (the
    positive first, the rest in list order) under a Plackett-Luce model of the logits.

    labels, logits: [B, N]; returns [B]."""

    def call(self, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        order = tf.argsort(labels, axis=1, direction="DESCENDING", stable=True)
        ranked = tf.gather(logits, order, batch_dims=1)
        return tf.reduce_sum(
            tf.math.cumulative_logsumexp(ranked, axis=1, reverse=True) - ranked, axis=1
        )


LOSSES = {
    "softmax": lambda: tf.keras.losses.CategoricalCrossentropy(from_logits=True),
    "listmle": ListMLELoss,
    "pairwise": PairwiseLogisticLoss,
}


LIST_FEATURES = (F.MOVIE_ID.name, F.RETRIEVAL_SCORE.name, F.RETRIEVAL_RANK.name)  # [B, N]


def flatten_lists(batch: dict[str, tf.Tensor], feature_names) -> dict[str, tf.Tensor]:
    """Lists (query features [B], `recent_movie_ids` [B, H], LIST_FEATURES [B, N]) -> the
    models' flat rows (B * N, list by list), the history kept per query with QUERY_ROW."""
    size, length = tf.shape(batch[F.MOVIE_ID.name])[0], tf.shape(batch[F.MOVIE_ID.name])[1]
    flat = {RF.QUERY_ROW: tf.repeat(tf.range(size), length)}
    for name in feature_names:
        if name in LIST_FEATURES:
            flat[name] = tf.reshape(batch[name], [-1])
        elif name == F.RECENT_MOVIE_IDS.name:
            flat[name] = batch[name]
        else:
            flat[name] = tf.repeat(batch[name], length, axis=0)
    return flat


class ListwiseModel(tfrs.Model):
    """Trains the scorer on candidate lists.

    A batch holds per list: the query's features [B] (`recent_movie_ids` [B, H]), the
    candidates' `movie_id` and `retrieval_score` [B, N], and `positive` [B, N] one-hot.
    """

    def __init__(self, scorer: CandidateScorer, feature_names, loss: str):
        super().__init__()
        self.scorer = scorer
        self.feature_names = tuple(feature_names)
        self.task = tfrs.tasks.Ranking(
            loss=LOSSES[loss](),
            metrics=[tf.keras.metrics.TopKCategoricalAccuracy(10, name="hr_at_10")],
        )

    def list_logits(self, batch: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """[B, N] logits of the lists' candidates."""
        candidates = batch[F.MOVIE_ID.name]
        size, length = tf.shape(candidates)[0], tf.shape(candidates)[1]
        ranks = tf.tile(tf.range(length, dtype=tf.int64)[tf.newaxis], [size, 1])
        flat = flatten_lists({**batch, F.RETRIEVAL_RANK.name: ranks}, self.feature_names)
        return tf.reshape(self.scorer(flat, training=training), [size, length])

    def compute_loss(self, batch: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.task(
            labels=batch[POSITIVE], predictions=self.list_logits(batch, training=training)
        )
