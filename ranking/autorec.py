"""I-AutoRec (Sedhain et al., 2015): the item-based autoencoder blended with the networks.

Each movie's column of training ratings (one entry per training user, 0 where the
user did not rate it) is encoded into a code h = sigmoid(W r + b); the decoder
reconstructs every user's rating from the code, and the loss counts the observed
entries only. Trained movie by movie, early-stopped on validation RMSE.

Once trained, the codes of all movies are fixed, so serving needs no rating matrix:
`AutoRecScorer` predicts a (user, movie) rating as code[movie] . decoder[user] + bias[user].
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from pipelines import features as F
from pipelines.data import Columns
from pipelines.training import set_seed
from pipelines.vocab import Vocabularies
from ranking import metrics
from ranking.config import AutoRecConfig

log = logging.getLogger(__name__)


class AutoRecScorer(tf.keras.layers.Layer):
    """(user_id, movie_id) [batch] strings -> (rating [batch] float32, known [batch] bool).

    `known` is false where the user or the movie had no training rating; the rating
    there means nothing and callers fall back to another model.
    """

    def __init__(self, vocab_files: dict[str, str], codes: np.ndarray, decoder: np.ndarray, bias: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self.users = tf.keras.layers.StringLookup(vocabulary=vocab_files[F.USER_ID.name])
        self.movies = tf.keras.layers.StringLookup(vocabulary=vocab_files[F.MOVIE_ID.name])
        constant = tf.keras.initializers.Constant
        self.codes = self.add_weight("movie_codes", codes.shape, initializer=constant(codes), trainable=False)
        self.decoder = self.add_weight("user_decoder", decoder.shape, initializer=constant(decoder), trainable=False)
        self.bias = self.add_weight("user_bias", bias.shape, initializer=constant(bias), trainable=False)

    def call(self, user_ids: tf.Tensor, movie_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        users, movies = self.users(user_ids), self.movies(movie_ids)  # 0: not in the vocabulary
        code, decoder = tf.gather(self.codes, movies), tf.gather(self.decoder, users)
        rating = tf.reduce_sum(code * decoder, axis=1) + tf.gather(self.bias, users)
        return tf.clip_by_value(rating, *F.RATING_RANGE), (users > 0) & (movies > 0)


def matrix_positions(columns: Columns, vocab: Vocabularies) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of ratings in the rating matrix, in StringLookup order: index 0
    is an id without training ratings, known ids count from 1 in vocabulary order."""
    movie_index = {m: i + 1 for i, m in enumerate(vocab.movie_id)}
    user_index = {u: i + 1 for i, u in enumerate(vocab.user_id)}
    rows = np.array([movie_index.get(m, 0) for m in columns[F.MOVIE_ID.name]], dtype=np.int64)
    return rows, np.array([user_index.get(u, 0) for u in columns[F.USER_ID.name]], dtype=np.int64)


def rating_matrix(train: Columns, vocab: Vocabularies) -> np.ndarray:
    """[movies + 1, users + 1] float32 training ratings; 0 means not rated, and row and
    column 0 (unknown ids) stay 0."""
    matrix = np.zeros((len(vocab.movie_id) + 1, len(vocab.user_id) + 1), np.float32)
    matrix[matrix_positions(train, vocab)] = train[F.USER_RATING.name]
    return matrix


class ItemAutoRec(tf.keras.Model):
    """The trainable autoencoder over movies' rating columns."""

    def __init__(self, num_users: int, cfg: AutoRecConfig):
        super().__init__(name="item_autorec")
        self.encoder = tf.keras.layers.Dense(cfg.hidden, activation="sigmoid")
        self.decoder = tf.keras.layers.Dense(num_users)

    def call(self, ratings: tf.Tensor) -> tf.Tensor:
        return self.decoder(self.encoder(ratings))

    def penalty(self) -> tf.Tensor:
        return tf.reduce_sum(tf.square(self.encoder.kernel)) + tf.reduce_sum(tf.square(self.decoder.kernel))

    def scorer(self, vocab_files: dict[str, str], matrix: np.ndarray) -> AutoRecScorer:
        """The fixed-code scorer of the trained weights."""
        codes = self.encoder(tf.constant(matrix)).numpy()
        decoder = self.decoder.kernel.numpy().T
        return AutoRecScorer(vocab_files, codes, decoder, self.decoder.bias.numpy())


def train(cfg: AutoRecConfig, train_part: Columns, validation: Columns, vocab: Vocabularies,
          vocab_files: dict[str, str], seed: int) -> AutoRecScorer:  # fmt: skip
    """Fits I-AutoRec on the training ratings, keeping the epoch with the best validation
    RMSE (over validation ratings whose user and movie it knows).

    Raises:
      ValueError: no validation rating has a user and a movie with training ratings.
    """
    rows, columns = matrix_positions(validation, vocab)
    known = (rows > 0) & (columns > 0)
    if not known.any():
        raise ValueError("AutoRec early-stops on validation ratings of known users and movies, and there are none")
    set_seed(seed)
    matrix = rating_matrix(train_part, vocab)
    ratings = tf.constant(matrix)
    observed = tf.cast(ratings > 0, tf.float32)
    model = ItemAutoRec(matrix.shape[1], cfg)
    model(ratings[:1])
    optimizer = tf.keras.optimizers.Adam(cfg.learning_rate)
    num_movies = matrix.shape[0] - 1

    @tf.function
    def step(rows: tf.Tensor) -> tf.Tensor:
        batch, mask = tf.gather(ratings, rows), tf.gather(observed, rows)
        share = tf.cast(tf.size(rows), tf.float32) / num_movies  # of the penalty, per batch
        with tf.GradientTape() as tape:
            error = tf.reduce_sum(mask * tf.square(model(batch) - batch))
            loss = error + share * cfg.l2 / 2 * model.penalty()
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return error

    num_observed = float(tf.reduce_sum(observed))
    rng = np.random.default_rng(seed)
    best_rmse, best_epoch, best_weights = np.inf, 0, model.get_weights()
    for epoch in range(1, cfg.epochs + 1):
        order = rng.permutation(np.arange(1, num_movies + 1))
        batches = np.array_split(order, -(-num_movies // cfg.movies_per_batch))
        squared = sum(float(step(tf.constant(rows))) for rows in batches)
        rmse = metrics.rmse(validation[F.USER_RATING.name][known], predict_at(model, ratings, rows[known], columns[known]))
        if rmse < best_rmse:
            best_rmse, best_epoch, best_weights = rmse, epoch, model.get_weights()
        if epoch % 10 == 0 or epoch == 1:
            log.info("autorec epoch %d: train_rmse=%.4f val_rmse=%.4f (best %.4f at %d)", epoch,
                     np.sqrt(squared / num_observed), rmse, best_rmse, best_epoch)  # fmt: skip
        if epoch - best_epoch >= cfg.early_stopping_patience:
            break
    model.set_weights(best_weights)
    log.info("autorec: best val_rmse=%.4f at epoch %d", best_rmse, best_epoch)
    return model.scorer(vocab_files, matrix)


def predict_at(model: ItemAutoRec, ratings: tf.Tensor, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Clipped reconstructed ratings at matrix positions."""
    return np.clip(model(ratings).numpy()[rows, columns], *F.RATING_RANGE)
