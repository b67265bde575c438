"""Reference rating predictors, measured beside ours on the same split.

* global mean of the known ratings;
* user + item biases (Koren's baseline predictor, alternating least squares with
  the regularisation of Surprise's BaselineOnly: reg_i=10, reg_u=15, 10 epochs);
* biased matrix factorisation (dot product of user and movie embeddings plus
  biases, L2, Adam), early-stopped on validation RMSE like our model;
* the TFRS basic-ranking tutorial model: user-id and movie-title embeddings of 32,
  MLP 256-64-1, MSE, Adagrad 0.1, batch 8192, 3 epochs
  (https://www.tensorflow.org/recommenders/examples/basic_ranking).
Each returns a function from rating columns to [n] predictions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from core import features as F
from core.data import Columns
from core.training import set_seed

Predictor = Callable[[Columns], np.ndarray]


def global_mean(known: Columns) -> Predictor:
    mean = float(np.mean(known[F.USER_RATING.name]))
    return lambda columns: np.full(len(columns[F.USER_ID.name]), mean)


def user_item_bias(
    known: Columns, reg_user: float = 15.0, reg_item: float = 10.0, epochs: int = 10
) -> Predictor:
    """mu + b_u + b_i fitted by alternating least squares; unknown ids get bias 0."""
    ratings = known[F.USER_RATING.name].astype(np.float64)
    mu = ratings.mean()
    users, u = np.unique(known[F.USER_ID.name], return_inverse=True)
    movies, m = np.unique(known[F.MOVIE_ID.name], return_inverse=True)
    b_user, b_item = np.zeros(len(users)), np.zeros(len(movies))
    n_user, n_item = np.bincount(u, minlength=len(users)), np.bincount(m, minlength=len(movies))
    for _ in range(epochs):
        b_item = np.bincount(m, ratings - mu - b_user[u], len(movies)) / (reg_item + n_item)
        b_user = np.bincount(u, ratings - mu - b_item[m], len(users)) / (reg_user + n_user)
    user_bias, item_bias = dict(zip(users, b_user)), dict(zip(movies, b_item))

    def predict(columns: Columns) -> np.ndarray:
        bu = np.array([user_bias.get(x, 0.0) for x in columns[F.USER_ID.name]])
        bi = np.array([item_bias.get(x, 0.0) for x in columns[F.MOVIE_ID.name]])
        return np.clip(mu + bu + bi, 1.0, 5.0)

    return predict


class _BiasedMF(tf.keras.Model):
    def __init__(self, users, movies, dim: int, l2: float, mean: float):
        super().__init__()
        reg = tf.keras.regularizers.l2(l2)
        self.users = tf.keras.layers.StringLookup(vocabulary=users)
        self.movies = tf.keras.layers.StringLookup(vocabulary=movies)
        self.p = tf.keras.layers.Embedding(len(users) + 1, dim, embeddings_regularizer=reg)
        self.q = tf.keras.layers.Embedding(len(movies) + 1, dim, embeddings_regularizer=reg)
        self.bu = tf.keras.layers.Embedding(
            len(users) + 1, 1, embeddings_initializer="zeros", embeddings_regularizer=reg
        )
        self.bi = tf.keras.layers.Embedding(
            len(movies) + 1, 1, embeddings_initializer="zeros", embeddings_regularizer=reg
        )
        self.mean = mean

    def call(self, inputs):
        u, m = self.users(inputs[F.USER_ID.name]), self.movies(inputs[F.MOVIE_ID.name])
        return (
            self.mean
            + tf.reduce_sum(self.p(u) * self.q(m), axis=1)
            + tf.squeeze(self.bu(u), 1)
            + tf.squeeze(self.bi(m), 1)
        )


def matrix_factorization(
    train: Columns, validation: Columns, seed: int, dim: int = 32, l2: float = 1e-4
) -> Predictor:
    """Biased MF, early-stopped on validation RMSE (best weights kept)."""
    set_seed(seed)
    users = sorted(set(train[F.USER_ID.name]))
    movies = sorted(set(train[F.MOVIE_ID.name]))
    model = _BiasedMF(users, movies, dim, l2, float(np.mean(train[F.USER_RATING.name])))
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.002),
        loss="mse",
        metrics=[tf.keras.metrics.RootMeanSquaredError()],
    )

    def data(columns, shuffle):
        ds = tf.data.Dataset.from_tensor_slices(
            (
                {k: list(columns[k]) for k in (F.USER_ID.name, F.MOVIE_ID.name)},
                columns[F.USER_RATING.name],
            )
        )
        return (ds.shuffle(len(columns[F.USER_ID.name]), seed=seed) if shuffle else ds).batch(1024)

    model.fit(
        data(train, True),
        validation_data=data(validation, False),
        epochs=60,
        verbose=0,
        callbacks=[
            tf.keras.callbacks.EarlyStopping(
                "val_root_mean_squared_error", patience=3, restore_best_weights=True
            )
        ],
    )
    return lambda columns: np.clip(model.predict(data(columns, False), verbose=0), 1.0, 5.0)


class TutorialRankingModel(tfrs.Model):
    """The tutorial's model: user-id and movie-title embeddings (32) -> MLP 256-64-1."""

    def __init__(self, user_ids: list[str], titles: list[str]):
        super().__init__()
        self.user = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None),
                tf.keras.layers.Embedding(len(user_ids) + 1, 32),
            ]
        )
        self.movie = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=titles, mask_token=None),
                tf.keras.layers.Embedding(len(titles) + 1, 32),
            ]
        )
        self.ratings = tf.keras.Sequential(
            [
                tf.keras.layers.Dense(256, "relu"),
                tf.keras.layers.Dense(64, "relu"),
                tf.keras.layers.Dense(1),
            ]
        )
        self.task = tfrs.tasks.Ranking(loss=tf.keras.losses.MeanSquaredError())

    def call(self, features):
        both = tf.concat(
            [self.user(features[F.USER_ID.name]), self.movie(features[F.MOVIE_TITLE.name])], axis=1
        )
        return tf.squeeze(self.ratings(both), axis=1)

    def compute_loss(self, features, training=False):
        return self.task(labels=features[F.USER_RATING.name], predictions=self(features))


def tutorial_model(known: Columns, user_ids: list[str], titles: list[str], seed: int) -> Predictor:
    """Trains the tutorial model on `known` exactly as the tutorial does (unclipped output).

    Columns must carry `movie_title` (the tutorial's movie feature).
    """
    set_seed(seed)
    model = TutorialRankingModel(user_ids, titles)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))
    names = (F.USER_ID.name, F.MOVIE_TITLE.name, F.USER_RATING.name)
    ds = tf.data.Dataset.from_tensor_slices(
        {k: known[k] if k == F.USER_RATING.name else list(known[k]) for k in names}
    )
    model.fit(
        ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=False).batch(8192).cache(),
        epochs=3,
        verbose=0,
    )

    def predict(columns: Columns) -> np.ndarray:
        inputs = {k: tf.constant(list(columns[k])) for k in (F.USER_ID.name, F.MOVIE_TITLE.name)}
        return model(inputs).numpy()

    return predict
