"""Top-k indexes over all movie embeddings: ScaNN and its exact brute-force twin.

Both are TFRS `TopK` layers with the same call: [batch, d] query embeddings (or raw
query features, when built with the query tower) -> ([batch, k] scores,
[batch, k] movie ids). ScaNN is approximate and needs ScaNN's TensorFlow ops
wherever it runs; brute force is exact and runs on stock TensorFlow Serving.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from retrieval.config import IndexConfig


def build_index(
    cfg: IndexConfig,
    movie_ids: tf.Tensor,
    movie_embeddings: tf.Tensor,
    query_model: tf.keras.Model | None = None,
    kind: str | None = None,
) -> tfrs.layers.factorized_top_k.TopK:
    """An index of `kind` (default `cfg.kind`) over the movies.

    Args:
      cfg: Index parameters.
      movie_ids: [num_movies] string.
      movie_embeddings: [num_movies, d] float32.
      query_model: Optional query tower applied to the layer's inputs first.
      kind: "scann" or "brute_force", overriding cfg.kind.

    Raises:
      ValueError: if k exceeds the number of movies, or the inputs disagree in length.
    """
    kind = kind or cfg.kind
    num_movies = int(movie_embeddings.shape[0])
    if int(movie_ids.shape[0]) != num_movies:
        raise ValueError(f"movie_ids has {movie_ids.shape[0]} rows, movie_embeddings {num_movies}")
    if cfg.k > num_movies:
        raise ValueError(f"index.k={cfg.k} exceeds the {num_movies} movies; lower index.k")
    if kind == "brute_force":
        index = tfrs.layers.factorized_top_k.BruteForce(query_model, k=cfg.k)
    elif kind == "scann":
        index = tfrs.layers.factorized_top_k.ScaNN(
            query_model,
            k=cfg.k,
            num_leaves=min(cfg.num_leaves, num_movies),
            num_leaves_to_search=min(cfg.num_leaves_to_search, num_movies),
            num_reordering_candidates=cfg.num_reordering_candidates or None,
            dimensions_per_block=cfg.dimensions_per_block,
            training_iterations=cfg.training_iterations,
        )
    else:
        raise ValueError(f"index kind {kind!r}: expected 'scann' or 'brute_force'")
    index.index(tf.convert_to_tensor(movie_embeddings, tf.float32), tf.convert_to_tensor(movie_ids))
    return index
