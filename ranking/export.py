"""Export the rating network as the `ranking` SavedModel.

`serving_default` takes `movie_id` [n] (the candidates), the rating/request
`timestamp` and the user features, each [n] or [1]; a [1] input is broadcast over
the n candidates, so one user with a batch of candidates is one request. It returns
`predicted_rating` [n] and `movie_title` [n] (empty for an unknown id). Movie features (title, genres, release year) come from the
movie table inside the model; vocabularies are assets.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import tensorflow as tf

from pipelines import features as F
from pipelines.config import to_dict
from pipelines.dataset import Prepared
from ranking.config import RankingConfig
from serving import contract, savedmodel

log = logging.getLogger(__name__)


def broadcast_inputs(inputs: dict[str, tf.Tensor], feature_names) -> dict[str, tf.Tensor]:
    """Repeats every [1] input to the length n of `movie_id`; other lengths must equal n.

    Raises (inside the graph):
      InvalidArgumentError: an input whose length is neither 1 nor n.
    """
    n = tf.shape(inputs[F.MOVIE_ID.name])[0]
    out = {}
    for name in feature_names:
        value = inputs[name]
        length = tf.shape(value)[0]
        check = tf.debugging.Assert(
            tf.logical_or(tf.equal(length, 1), tf.equal(length, n)),
            [f"input {name} must have length 1 or the number of movie_id values; lengths:", length, n],
        )
        with tf.control_dependencies([check]):
            out[name] = tf.cond(
                tf.equal(length, 1), lambda v=value: tf.repeat(v, n, axis=0), lambda v=value: tf.identity(v)
            )
    return out


class RankingServingModule(tf.Module):
    """The network (or blend; anything with `feature_names` and `movies`) behind a
    broadcasting `serving_default` signature."""

    def __init__(self, network: tf.keras.Model):
        super().__init__()
        self.network = network
        self.feature_names = network.feature_names
        specs = {name: savedmodel.tensor_spec(F.BY_NAME[name]) for name in self.feature_names}
        self.serve = tf.function(self._serve)
        self.serving_signatures = {contract.SERVING_DEFAULT: self.serve.get_concrete_function(**specs)}

    def _serve(self, **inputs):
        features = broadcast_inputs(inputs, self.feature_names)
        titles = self.network.movies(features[F.MOVIE_ID.name])[F.MOVIE_TITLE.name]
        return {contract.PREDICTED_RATING: self.network(features, training=False), contract.MOVIE_TITLE: titles}


def example_requests(prepared: Prepared, feature_names, count: int = 3, candidates: int = 5) -> list[dict[str, np.ndarray]]:
    """One user with `candidates` catalogue movies per request, user features given once."""
    test = prepared.parts["test"]
    movies = prepared.catalogue[F.MOVIE_ID.name][:candidates]
    requests = []
    for i in range(count):
        request = {name: test[name][i : i + 1] for name in feature_names if name != F.MOVIE_ID.name}
        request[F.MOVIE_ID.name] = movies
        requests.append(request)
    return requests


def export(network: tf.keras.Model, prepared: Prepared, cfg: RankingConfig, metrics: dict) -> str:
    """Writes the next version of `<export_dir>/ranking`; returns its directory."""
    module = RankingServingModule(network)
    requests = example_requests(prepared, module.feature_names)

    def write(directory: str) -> None:
        tf.saved_model.save(module, directory, signatures=module.serving_signatures)
        savedmodel.write_warmup(directory, contract.RANKING, requests)
        savedmodel.write_metadata(
            directory,
            {
                "model": contract.RANKING,
                "inputs": list(module.feature_names),
                "outputs": [contract.PREDICTED_RATING, contract.MOVIE_TITLE],
                "num_movies": int(len(prepared.catalogue[F.MOVIE_ID.name])),
                "created_unix": int(time.time()),
                "config": to_dict(cfg),
                "test_metrics": metrics,
            },
        )

    path = savedmodel.write_version(os.path.join(cfg.export_dir, contract.RANKING), write)
    log.info("exported ranking to %s", path)
    return path
