"""Export the query tower plus a top-k index as SavedModels TensorFlow Serving loads.

Two models, one signature set:
  * `retrieval` (ScaNN; needs ScaNN's ops in the server),
  * `retrieval_bruteforce` (exact; stock TensorFlow ops only).
`serving_default` takes the user features named in `pipelines.features` and returns
`movie_ids` [batch, k] and `scores` [batch, k]; `query_embedding` returns the
[batch, d] query embedding. Movie embeddings and vocabularies live inside the model.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import tensorflow as tf

from pipelines import features as F
from pipelines.config import to_dict
from pipelines.data import Columns
from pipelines.dataset import Prepared
from retrieval.config import RetrievalConfig
from retrieval.index import build_index
from retrieval.model import RetrievalModel
from serving import contract, savedmodel

log = logging.getLogger(__name__)

NUM_WARMUP_REQUESTS = 3
MODEL_KINDS = {contract.RETRIEVAL: "scann", contract.RETRIEVAL_BRUTEFORCE: "brute_force"}


class RetrievalServingModule(tf.Module):
    """Query tower -> index, with named signatures (see module docstring)."""

    def __init__(self, query_tower: tf.keras.Model, index: tf.keras.layers.Layer, feature_names):
        super().__init__()
        self.query_tower = query_tower
        self.index = index
        specs = {name: savedmodel.tensor_spec(F.BY_NAME[name]) for name in feature_names}
        self.serve = tf.function(self._serve)
        self.embed = tf.function(self._embed)
        self.serving_signatures = {
            contract.SERVING_DEFAULT: self.serve.get_concrete_function(**specs),
            contract.QUERY_EMBEDDING_SIGNATURE: self.embed.get_concrete_function(**specs),
        }

    def _serve(self, **inputs):
        scores, movie_ids = self.index(self.query_tower(inputs, training=False))
        return {contract.MOVIE_IDS: movie_ids, contract.SCORES: scores}

    def _embed(self, **inputs):
        return {contract.QUERY_EMBEDDING: self.query_tower(inputs, training=False)}


def example_requests(queries: Columns, feature_names, count: int = NUM_WARMUP_REQUESTS) -> list[dict[str, np.ndarray]]:
    """The first `count` queries, one request each, as named numpy inputs."""
    return [{name: queries[name][i : i + 1] for name in feature_names} for i in range(count)]


def save(module: RetrievalServingModule, directory: str, kind: str) -> None:
    """tf.saved_model.save with the options a ScaNN index needs."""
    options = tf.saved_model.SaveOptions(namespace_whitelist=["Scann"] if kind == "scann" else None)
    tf.saved_model.save(module, directory, signatures=module.serving_signatures, options=options)


def export_all(model: RetrievalModel, prepared: Prepared, cfg: RetrievalConfig, metrics: dict) -> dict[str, str]:
    """Writes the next version of both retrieval models under `cfg.export_dir`.

    Returns:
      Model name -> version directory written.
    """
    from retrieval.train import catalogue_embeddings

    movie_ids = tf.constant(prepared.catalogue[F.MOVIE_ID.name].astype(str).tolist())
    embeddings = tf.constant(catalogue_embeddings(model, prepared.catalogue))
    names = model.query_tower.feature_names
    requests = example_requests(prepared.parts["test"], names)
    written = {}
    for model_name, kind in MODEL_KINDS.items():
        index = build_index(cfg.index, movie_ids, embeddings, kind=kind)
        module = RetrievalServingModule(model.query_tower, index, names)
        module.serving_signatures[contract.SERVING_DEFAULT](**requests[0])  # a ScaNN index must be called once before saving

        def write(directory, module=module, kind=kind, model_name=model_name):
            save(module, directory, kind)
            savedmodel.write_warmup(directory, model_name, requests)
            savedmodel.write_metadata(
                directory,
                {
                    "model": model_name,
                    "index": kind,
                    "k": cfg.index.k,
                    "inputs": list(names),
                    "outputs": [contract.MOVIE_IDS, contract.SCORES],
                    "num_movies": int(embeddings.shape[0]),
                    "created_unix": int(time.time()),
                    "config": to_dict(cfg),
                    "test_metrics": metrics,
                },
            )

        written[model_name] = savedmodel.write_version(os.path.join(cfg.export_dir, model_name), write)
        log.info("exported %s (%s index) to %s", model_name, kind, written[model_name])
    return written
