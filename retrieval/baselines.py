"""Reference retrieval models, measured beside ours in the same run.

* popularity: every user gets the movies rated most often in the training data;
* the TFRS basic-retrieval tutorial model: user-id and movie-title embeddings of
  size 32, in-batch softmax, Adagrad 0.1, batch 8192, 3 epochs, as the tutorial
  (https://www.tensorflow.org/recommenders/examples/basic_retrieval) trains it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from core import features as F
from core.data import Columns
from retrieval.evaluate import Scorer


def popularity_scorer(train: Columns, catalogue: Columns) -> Scorer:
    """Scores each catalogue movie by its number of ratings in `train`, for every query."""
    index = {m: i for i, m in enumerate(catalogue[F.MOVIE_ID.name])}
    counts = np.zeros(len(index), dtype=np.float64)
    np.add.at(counts, [index[m] for m in train[F.MOVIE_ID.name]], 1.0)
    return lambda queries: np.broadcast_to(counts, (len(queries[F.USER_ID.name]), len(counts)))


class TutorialRetrievalModel(tfrs.Model):
    """The tutorial's model: user-id tower and movie-title tower, embeddings of size 32."""

    def __init__(self, user_ids: list[str], titles: list[str], dim: int = 32):
        super().__init__()
        self.user_model = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None),
                tf.keras.layers.Embedding(len(user_ids) + 1, dim),
            ]
        )
        self.movie_model = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=titles, mask_token=None),
                tf.keras.layers.Embedding(len(titles) + 1, dim),
            ]
        )
        # The tutorial also attaches FactorizedTopK metrics; they do not change training,
        # and evaluation here is done over the catalogue by retrieval.evaluate.
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, features, training=False):
        return self.task(
            self.user_model(features[F.USER_ID.name]),
            self.movie_model(features[F.MOVIE_TITLE.name]),
        )


def train_tutorial_model(
    train: Columns, all_ratings: Columns, catalogue: Columns, seed: int
) -> Scorer:
    """Trains the tutorial model on `train` exactly as the tutorial does; returns its scorer.

    Like the tutorial, vocabularies come from all ratings' user ids and all movies' titles.
    """
    tf.keras.utils.set_random_seed(seed)
    user_ids = sorted(set(all_ratings[F.USER_ID.name]))
    titles = sorted(set(catalogue[F.MOVIE_TITLE.name]))
    model = TutorialRetrievalModel(user_ids, titles)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))
    dataset = tf.data.Dataset.from_tensor_slices(
        {
            F.USER_ID.name: list(train[F.USER_ID.name]),
            F.MOVIE_TITLE.name: list(train[F.MOVIE_TITLE.name]),
        }
    )
    dataset = (
        dataset.shuffle(100_000, seed=seed, reshuffle_each_iteration=False).batch(8192).cache()
    )
    model.fit(dataset, epochs=3, verbose=0)
    movies = model.movie_model(tf.constant(list(catalogue[F.MOVIE_TITLE.name]))).numpy()
    return (
        lambda queries: model.user_model(tf.constant(list(queries[F.USER_ID.name]))).numpy()
        @ movies.T
    )
