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

from core import features as F
from core.data import Columns
from core.training import set_seed
from core.vocab import Vocabularies
from ranking import metrics
from ranking.config import AutoRecConfig

log = logging.getLogger(__name__)


class AutoRecScorer(tf.keras.layers.Layer):
    """(user_id, movie_id) [batch] strings -> (rating [batch] float32, known [batch] bool).

    `known` is false where the user or the movie had no training rating; the rating
    there means nothing and callers fall back to another model.
    """

    def __init__(
        self,
        vocab_files: dict[str, str],
        codes: np.ndarray,
        decoder: np.ndarray,
        bias: np.ndarray,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.users = tf.keras.layers.StringLookup(vocabulary=vocab_files[F.USER_ID.name])
        self.movies = tf.keras.layers.StringLookup(vocabulary=vocab_files[F.MOVIE_ID.name])
        constant = tf.keras.initializers.Constant
        self.codes = self.add_weight(
            "movie_codes", codes.shape, initializer=constant(codes), trainable=False
        )
        self.decoder = self.add_weight(
            "user_decoder", decoder.shape, initializer=constant(decoder), trainable=False
        )
        self.bias = self.add_weight(
            "user_bias", bias.shape, initializer=constant(bias), trainable=False
        )

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


def matrix_megabytes(vocab: Vocabularies) -> float:
    """Size of `rating_matrix` for these vocabularies, in MiB."""
    return (len(vocab.movie_id) + 1) * (len(vocab.user_id) + 1) * 4 / 2**20


def fits(cfg: AutoRecConfig, vocab: Vocabularies) -> bool:
    """Whether the rating matrix fits in `cfg.max_matrix_mb`; says so in a warning if not."""
    size = matrix_megabytes(vocab)
    if size <= cfg.max_matrix_mb:
        return True
    log.warning(
        "AutoRec skipped: its rating matrix would take %.0f MB (> autorec.max_matrix_mb=%d); "
        "the network alone predicts the rating",
        size,
        cfg.max_matrix_mb,
    )
    return False


def rating_matrix(train: Columns, vocab: Vocabularies) -> np.ndarray:
    """[movies + 1, users + 1] float32 training ratings; 0 means not rated, and row and
    column 0 (unknown ids) stay 0."""
    matrix = np.zeros((len(vocab.movie_id) + 1, len(vocab.user_id) + 1), np.float32)
    matrix[matrix_positions(train, vocab)] = train[F.USER_RATING.name]
    return matrix


class ItemAutoRec(tf.keras.Model):
    """The trainable autoencoder over movies' rating columns ([batch, users] -> [batch, users]).

    The L2 term of the objective is spread over the steps of an epoch through the kernel
    regularizers: each step adds `share` of lambda / 2 * (squared weights), where `share` is
    the fraction of all movies in one batch.
    """

    def __init__(self, num_users: int, cfg: AutoRecConfig, share: float):
        super().__init__(name="item_autorec")
        penalty = tf.keras.regularizers.l2(share * cfg.l2 / 2)
        self.encoder = tf.keras.layers.Dense(
            cfg.hidden, activation="sigmoid", kernel_regularizer=penalty
        )
        self.decoder = tf.keras.layers.Dense(num_users, kernel_regularizer=penalty)

    def call(self, ratings: tf.Tensor) -> tf.Tensor:
        return self.decoder(self.encoder(ratings))

    def scorer(self, vocab_files: dict[str, str], matrix: np.ndarray) -> AutoRecScorer:
        """The fixed-code scorer of the trained weights."""
        codes = self.encoder(tf.constant(matrix)).numpy()
        decoder = self.decoder.kernel.numpy().T
        return AutoRecScorer(vocab_files, codes, decoder, self.decoder.bias.numpy())


class ObservedSquaredError(tf.keras.losses.Loss):
    """Sum of squared errors over the observed (non-zero) ratings of each row."""

    def __init__(self):
        super().__init__(reduction=tf.keras.losses.Reduction.SUM, name="observed_squared_error")

    def call(self, ratings: tf.Tensor, reconstructed: tf.Tensor) -> tf.Tensor:
        observed = tf.cast(ratings > 0, reconstructed.dtype)
        return tf.reduce_sum(observed * tf.square(reconstructed - ratings), axis=1)


class ValidationRMSE(tf.keras.callbacks.Callback):
    """Adds `val_rmse` over the validation ratings whose user and movie have training ratings."""

    def __init__(
        self, matrix: np.ndarray, rows: np.ndarray, columns: np.ndarray, labels: np.ndarray
    ):
        super().__init__()
        self.matrix, self.rows, self.columns, self.labels = (
            tf.constant(matrix),
            rows,
            columns,
            labels,
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        reconstructed = self.model(self.matrix).numpy()[self.rows, self.columns]
        value = metrics.rmse(self.labels, np.clip(reconstructed, *F.RATING_RANGE))
        if logs is not None:
            logs["val_rmse"] = value
        if epoch % 10 == 0:
            log.info("autorec epoch %d: val_rmse=%.4f", epoch + 1, value)


def train(
    cfg: AutoRecConfig,
    train_part: Columns,
    validation: Columns,
    vocab: Vocabularies,
    vocab_files: dict[str, str],
    seed: int,
) -> AutoRecScorer:
    """Fits I-AutoRec on the training ratings with Keras `fit`, keeping the epoch with the
    best validation RMSE (over validation ratings whose user and movie it knows).

    Raises:
      ValueError: no validation rating has a user and a movie with training ratings.
    """
    rows, columns = matrix_positions(validation, vocab)
    known = (rows > 0) & (columns > 0)
    if not known.any():
        raise ValueError(
            "AutoRec early-stops on validation ratings of known users and movies, and there "
            "are none"
        )
    set_seed(seed)
    matrix = rating_matrix(train_part, vocab)
    movies = matrix[1:]  # row 0 is the unknown movie: no ratings to learn from
    share = min(cfg.movies_per_batch, len(movies)) / len(movies)
    model = ItemAutoRec(matrix.shape[1], cfg, share)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(cfg.learning_rate), loss=ObservedSquaredError()
    )
    by_movie = tf.constant(movies)  # the one copy: batches are gathered from it by row
    data = (
        tf.data.Dataset.range(len(movies))
        .shuffle(len(movies), seed=seed, reshuffle_each_iteration=True)
        .batch(cfg.movies_per_batch)
        .map(lambda rows: (tf.gather(by_movie, rows), tf.gather(by_movie, rows)))
    )
    validation_rmse = ValidationRMSE(
        matrix, rows[known], columns[known], validation[F.USER_RATING.name][known]
    )
    stopping = tf.keras.callbacks.EarlyStopping(
        monitor="val_rmse",
        mode="min",
        patience=cfg.early_stopping_patience,
        restore_best_weights=True,
    )
    history = model.fit(data, epochs=cfg.epochs, callbacks=[validation_rmse, stopping], verbose=0)
    best = int(np.argmin(history.history["val_rmse"]))
    log.info("autorec: best val_rmse=%.4f at epoch %d", history.history["val_rmse"][best], best + 1)
    return model.scorer(vocab_files, matrix)
