"""Export the query tower plus a top-k index as SavedModels TensorFlow Serving loads.

Two models, one signature set:
  * `retrieval` (ScaNN; needs ScaNN's ops in the server),
  * `retrieval_bruteforce` (exact; stock TensorFlow ops only).
`serving_default` takes the query tower's features (from the registry) and returns
`movie_ids` [batch, k] and `scores` [batch, k]; `unseen_candidates` takes them and
`seen_movie_ids` [batch, s] and returns the k best movies not seen (what the recommender
ranks: dropping the seen from the k best would leave a heavy user few, or none);
`query_embedding` returns the [batch, d] query embedding; `similar_movies` takes `movie_id`
[batch] and returns the movie's nearest movies in the same index ("more like this"), the
movie itself excluded. Movie embeddings and vocabularies live inside the model.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import tensorflow as tf

from core import features as F
from retrieval.config import IndexConfig
from retrieval.index import build_index
from serving import contract, savedmodel

log = logging.getLogger(__name__)

MODEL_KINDS = {contract.RETRIEVAL: "scann", contract.RETRIEVAL_BRUTEFORCE: "brute_force"}


class RetrievalServingModule(tf.Module):
    """Query tower -> index, with named signatures (see module docstring)."""

    def __init__(
        self,
        query_tower: tf.keras.Model,
        index: tf.keras.layers.Layer,
        movie_ids: tf.Tensor,
        movie_embeddings: tf.Tensor,
        k: int,
    ):
        super().__init__()
        self.query_tower = query_tower
        self.index = index
        self.k = k
        self.num_movies = int(movie_ids.shape[0])
        self.movie_embeddings = movie_embeddings
        self.movie_rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                movie_ids, tf.range(tf.size(movie_ids, out_type=tf.int64))
            ),
            default_value=-1,
        )
        self.similar_k = min(contract.SIMILAR_K, self.num_movies - 1)
        specs = savedmodel.input_specs(query_tower.feature_names)
        self.serve = tf.function(self._serve)
        self.embed = tf.function(self._embed)
        self.similar = tf.function(self._similar)
        self.unseen = tf.function(self._unseen)
        self.serving_signatures = {
            contract.SERVING_DEFAULT: self.serve.get_concrete_function(**specs),
            contract.UNSEEN_CANDIDATES_SIGNATURE: self.unseen.get_concrete_function(
                **savedmodel.input_specs([*query_tower.feature_names, F.SEEN_MOVIE_IDS.name])
            ),
            contract.QUERY_EMBEDDING_SIGNATURE: self.embed.get_concrete_function(**specs),
            contract.SIMILAR_MOVIES_SIGNATURE: self.similar.get_concrete_function(
                **savedmodel.input_specs([F.MOVIE_ID.name])
            ),
        }

    def _serve(self, **inputs):
        scores, movie_ids = self.index(self.query_tower(inputs, training=False))
        return {contract.MOVIE_IDS: movie_ids, contract.SCORES: scores}

    def _unseen(self, **inputs):
        inputs = savedmodel.same_rows(inputs)
        seen = inputs.pop(F.SEEN_MOVIE_IDS.name)
        # Over-fetch by the number of seen movies: at least k of the fetched are unseen.
        fetch = tf.minimum(self.k + tf.shape(seen)[1], self.num_movies)
        scores, ids = self.index(self.query_tower(inputs, training=False), k=fetch)
        # Seen movies score -inf and sort last: they fill a row only once the catalogue has
        # fewer than k unseen movies left (an approximate index may return fewer than asked).
        scores = tf.where(savedmodel.contains(seen, ids), -np.inf, scores)
        best, order = tf.math.top_k(scores, k=tf.minimum(self.k, tf.shape(scores)[1]))
        return {contract.MOVIE_IDS: tf.gather(ids, order, batch_dims=1), contract.SCORES: best}

    def _embed(self, **inputs):
        return {contract.QUERY_EMBEDDING: self.query_tower(inputs, training=False)}

    def _similar(self, movie_id):
        rows = self.movie_rows.lookup(movie_id)
        known = tf.debugging.assert_non_negative(
            rows, message="similar_movies: a movie_id is not in the catalogue"
        )
        with tf.control_dependencies([known]):
            query = tf.gather(self.movie_embeddings, rows)
        scores, ids = self.index(query, k=self.similar_k + 1)
        # The movie itself scores -inf and sorts last; one column fewer than returned drops it
        # (an approximate index may return fewer than asked: then the answer is shorter).
        scores = tf.where(tf.equal(ids, movie_id[:, tf.newaxis]), -np.inf, scores)
        best, order = tf.math.top_k(scores, k=tf.shape(scores)[1] - 1)
        return {contract.MOVIE_IDS: tf.gather(ids, order, batch_dims=1), contract.SCORES: best}


def export_all(
    query_tower: tf.keras.Model,
    movie_ids: np.ndarray,
    movie_embeddings: np.ndarray,
    index_cfg: IndexConfig,
    export_dir: str,
    requests: list[dict],
    metadata: dict,
) -> dict[str, str]:
    """Writes the next version of both retrieval models under `export_dir`.

    Args:
      movie_ids: [num_movies] str, the catalogue.
      movie_embeddings: [num_movies, d] float32, computed once by the caller.
      requests: Warm-up requests (named numpy inputs, one query each).
      metadata: Written to each version's assets.extra/recsys.json.

    Returns:
      Model name -> version directory written.
    """
    ids = tf.constant(movie_ids.astype(str).tolist())
    embeddings = tf.constant(movie_embeddings)
    written = {}
    for model_name, kind in MODEL_KINDS.items():
        module = RetrievalServingModule(
            query_tower,
            build_index(index_cfg, ids, embeddings, kind=kind),
            ids,
            embeddings,
            index_cfg.k,
        )
        module.serving_signatures[contract.SERVING_DEFAULT](
            **requests[0]
        )  # ScaNN: call once before saving
        info = {
            **metadata,
            "model": model_name,
            "index": kind,
            "k": index_cfg.k,
            "num_movies": len(movie_ids),
        }
        options = tf.saved_model.SaveOptions(
            namespace_whitelist=["Scann"] if kind == "scann" else None
        )
        written[model_name] = savedmodel.export(
            os.path.join(export_dir, model_name), module, requests, info, options
        )
        log.info("exported %s (%s index) to %s", model_name, kind, written[model_name])
    return written
