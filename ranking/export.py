"""Export the two-headed ranker as the `ranking` SavedModel.

`serving_default` takes `movie_id` [n] (the candidates), their `retrieval_score` and
`retrieval_rank` [n], the request `timestamp`, `recent_movie_ids` and the user features,
each [n] or [1]; a [1] input is broadcast over the n candidates, so one user with a batch
of candidates is one request. It returns `score` [n] (how likely the user picks each
candidate next: the order of recommendations), `predicted_rating` [n] and `movie_title`
[n] (empty for an unknown id). Movie features come from tables inside the model;
vocabularies are assets. What the composite recommender calls takes one list of candidates
per query ([queries, N] in and out), the query's features given once per list: `score_lists`
gives each candidate's `score`; `rate_lists` gives `predicted_rating` and `movie_title` of
the candidates kept (rating all 100 candidates to show 10 made the recommender 15 % slower).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import tensorflow as tf

from core import features as F
from core.dataset import Prepared
from ranking.scorer import LIST_FEATURES, flatten_lists
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
            [
                f"input {name} must have length 1 or the number of movie_id values; lengths:",
                length,
                n,
            ],
        )
        with tf.control_dependencies([check]):
            out[name] = tf.cond(
                tf.equal(length, 1),
                lambda v=value: tf.repeat(v, n, axis=0),
                lambda v=value: tf.identity(v),
            )
    return out


class RankingServingModule(tf.Module):
    """The two-headed ranker behind a broadcasting `serving_default` signature."""

    def __init__(self, network: tf.keras.Model):
        super().__init__()
        self.network = network
        self.feature_names = network.feature_names
        specs = savedmodel.input_specs(self.feature_names)
        list_specs = {
            name: tf.TensorSpec([None, None], spec.dtype, name=name)
            if name in LIST_FEATURES
            else spec
            for name, spec in specs.items()
        }
        self.serve = tf.function(self._serve)
        self.score_lists = tf.function(self._score_lists)
        self.rate_lists = tf.function(self._rate_lists)
        self.serving_signatures = {
            contract.SERVING_DEFAULT: self.serve.get_concrete_function(**specs),
            contract.SCORE_LISTS_SIGNATURE: self.score_lists.get_concrete_function(**list_specs),
            contract.RATE_LISTS_SIGNATURE: self.rate_lists.get_concrete_function(
                **{n: list_specs[n] for n in network.rating_model.feature_names}
            ),
        }

    def _serve(self, **inputs):
        features = broadcast_inputs(inputs, self.feature_names)
        titles = self.network.movies(features[F.MOVIE_ID.name])[F.MOVIE_TITLE.name]
        heads = self.network(features, training=False)
        return {
            contract.PREDICTED_RATING: heads[contract.PREDICTED_RATING],
            contract.SCORE: heads[contract.SCORE],
            contract.MOVIE_TITLE: titles,
        }

    def _flat_lists(self, inputs: dict[str, tf.Tensor]) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        """(flat rows of the lists, the lists' shape): the query features [queries]
        (`recent_movie_ids` [queries, H], looked up once per list, not once per candidate)
        and the candidates' LIST_FEATURES [queries, N]."""
        queries = savedmodel.same_rows({k: v for k, v in inputs.items() if k not in LIST_FEATURES})
        candidates = savedmodel.same_rows({k: v for k, v in inputs.items() if k in LIST_FEATURES})
        shape = tf.shape(candidates[F.MOVIE_ID.name])
        rows = tf.debugging.assert_equal(
            shape[0],
            tf.shape(queries[F.USER_ID.name])[0],
            message="movie_id must have one row (list of candidates) per query",
        )
        with tf.control_dependencies([rows]):
            return flatten_lists({**queries, **candidates}, tuple(inputs)), shape

    def _score_lists(self, **inputs):
        """Lists -> `score` [queries, N]."""
        flat, shape = self._flat_lists(inputs)
        return {contract.SCORE: tf.reshape(self.network.scorer(flat, training=False), shape)}

    def _rate_lists(self, **inputs):
        """Lists (the rating network's inputs) -> `predicted_rating`, `movie_title` [queries, N]."""
        flat, shape = self._flat_lists(inputs)
        titles = self.network.movies(flat[F.MOVIE_ID.name])[F.MOVIE_TITLE.name]
        rating = self.network.rating_model(flat, training=False)
        return {
            contract.PREDICTED_RATING: tf.reshape(rating, shape),
            contract.MOVIE_TITLE: tf.reshape(titles, shape),
        }


def example_requests(
    prepared: Prepared, feature_names, count: int = 3, candidates: int = 5
) -> list[dict[str, np.ndarray]]:
    """One test user with `candidates` catalogue movies per request (made-up retrieval scores
    and ranks), user features given once."""
    test = prepared.parts["test"]
    per_candidate = {
        F.MOVIE_ID.name: prepared.catalogue[F.MOVIE_ID.name][:candidates],
        F.RETRIEVAL_SCORE.name: np.linspace(0.9, 0.1, candidates, dtype=np.float32),
        F.RETRIEVAL_RANK.name: np.arange(candidates, dtype=np.int64),
    }
    requests = []
    for i in range(count):
        request = {
            name: test[name][i : i + 1] for name in feature_names if name not in per_candidate
        }
        requests.append(
            {**request, **{k: v for k, v in per_candidate.items() if k in feature_names}}
        )
    return requests


def export(network: tf.keras.Model, prepared: Prepared, export_dir: str, metadata: dict) -> str:
    """Writes the next version of `<export_dir>/ranking`; returns its directory."""
    module = RankingServingModule(network)
    requests = example_requests(prepared, module.feature_names)
    info = {
        **metadata,
        "model": contract.RANKING,
        "num_movies": len(prepared.catalogue[F.MOVIE_ID.name]),
        "outputs": [contract.SCORE, contract.PREDICTED_RATING, contract.MOVIE_TITLE],
    }
    path = savedmodel.export(os.path.join(export_dir, contract.RANKING), module, requests, info)
    log.info("exported ranking to %s", path)
    return path
