"""The composite `recommender` SavedModel: unseen candidates -> ranking -> top k, one graph.

Retrieval's `unseen_candidates` returns the N best movies the user has not seen (with their
retrieval scores and ranks); the ranking model scores them in one batch (`score_lists`);
the k best by the ranker's `score` are returned with `scores` (that score), and their
`predicted_rating` and `movie_title` (`rate_lists`, for the k alone).

Built from the exported brute-force retrieval model and the ranking model (loaded as
SavedModels, so it needs no model code and only stock TensorFlow ops): a single Predict
call answers, and stock TensorFlow Serving can serve it.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import tensorflow as tf

from core import features as F
from serving import contract, savedmodel

log = logging.getLogger(__name__)


class RecommenderModule(tf.Module):
    """Retrieval's unseen candidates (loaded SavedModel) -> ranking (loaded SavedModel) -> top k."""

    def __init__(self, retrieval, ranking, k: int):
        super().__init__()
        self.retrieval, self.ranking, self.k = retrieval, ranking, k
        for model, name, retrain in (
            (retrieval, contract.UNSEEN_CANDIDATES_SIGNATURE, "retrieval"),
            (ranking, contract.SCORE_LISTS_SIGNATURE, "ranking"),
            (ranking, contract.RATE_LISTS_SIGNATURE, "ranking"),
        ):
            if name not in model.signatures:
                raise ValueError(
                    f"the {retrain} export has no {name!r} signature (exported by an older "
                    f"version): retrain it (`recsys train {retrain}`)"
                )
        retrieve = retrieval.signatures[contract.UNSEEN_CANDIDATES_SIGNATURE]
        self.retrieval_inputs = tuple(retrieve.structured_input_signature[1])
        self.ranking_inputs = tuple(
            ranking.signatures[contract.SCORE_LISTS_SIGNATURE].structured_input_signature[1]
        )
        self.rating_inputs = tuple(
            ranking.signatures[contract.RATE_LISTS_SIGNATURE].structured_input_signature[1]
        )
        num_candidates = retrieve.structured_outputs[contract.MOVIE_IDS].shape[1]
        if num_candidates is not None and k > num_candidates:
            raise ValueError(
                f"k={k} exceeds the {num_candidates} candidates the retrieval model returns"
            )
        user_side = [
            n
            for n in (*self.retrieval_inputs, *self.ranking_inputs, *self.rating_inputs)
            if F.BY_NAME[n].entity in (F.Entity.USER, F.Entity.CONTEXT)
        ]
        self.input_names = tuple(sorted({*user_side, F.SEEN_MOVIE_IDS.name}))
        self.serve = tf.function(self._serve)
        specs = savedmodel.input_specs(self.input_names)
        self.serving_signatures = {
            contract.SERVING_DEFAULT: self.serve.get_concrete_function(**specs)
        }

    def _serve(self, **inputs):
        inputs = savedmodel.same_rows(inputs)
        retrieve = self.retrieval.signatures[contract.UNSEEN_CANDIDATES_SIGNATURE]
        retrieved = retrieve(**{k: inputs[k] for k in self.retrieval_inputs})
        ids = retrieved[contract.MOVIE_IDS]  # [batch, N]
        # -inf: seen movies filling a row once the catalogue has no more unseen ones
        filler = tf.math.is_inf(retrieved[contract.SCORES])
        batch, n = tf.shape(ids)[0], tf.shape(ids)[1]
        rank_inputs = {k: inputs[k] for k in self.ranking_inputs if k in inputs}
        rank_inputs[F.MOVIE_ID.name] = ids
        rank_inputs[F.RETRIEVAL_SCORE.name] = tf.where(filler, 0.0, retrieved[contract.SCORES])
        rank_inputs[F.RETRIEVAL_RANK.name] = tf.tile(tf.range(n, dtype=tf.int64)[None], [batch, 1])
        score = self.ranking.signatures[contract.SCORE_LISTS_SIGNATURE](**rank_inputs)[
            contract.SCORE
        ]
        scores, best = tf.math.top_k(
            tf.where(filler, -np.inf, score), k=self.k
        )  # ties: retrieval order
        kept = tf.gather(ids, best, batch_dims=1)
        rate_inputs = {k: inputs[k] for k in self.rating_inputs if k in inputs}
        rate_inputs[F.MOVIE_ID.name] = kept
        rated = self.ranking.signatures[contract.RATE_LISTS_SIGNATURE](**rate_inputs)
        return {
            contract.MOVIE_IDS: kept,
            contract.SCORES: scores,
            contract.PREDICTED_RATING: rated[contract.PREDICTED_RATING],
            contract.MOVIE_TITLE: rated[contract.MOVIE_TITLE],
        }


def latest_version(export_dir: str, model: str) -> str:
    """`<export_dir>/<model>/<newest version>`.

    Raises:
      FileNotFoundError: if the model has no exported version.
    """
    numbers = savedmodel.versions(os.path.join(export_dir, model))
    if not numbers:
        raise FileNotFoundError(
            f"no exported version under {os.path.join(export_dir, model)}: train it first"
        )
    return os.path.join(export_dir, model, str(numbers[-1]))


def export_recommender(export_dir: str, k: int = 10, destination: str | None = None) -> str:
    """Composes the newest brute-force retrieval and ranking exports of `export_dir` into
    `<destination>/recommender/<v>` (default destination: `export_dir`); returns its directory.
    """
    retrieval_dir = latest_version(export_dir, contract.RETRIEVAL_BRUTEFORCE)
    ranking_dir = latest_version(export_dir, contract.RANKING)
    lineage = savedmodel.read_lineage(retrieval_dir)
    if lineage != savedmodel.read_lineage(ranking_dir):
        raise ValueError(
            f"cannot compose the recommender: {retrieval_dir} was trained on "
            f"{lineage or 'unknown data'} and {ranking_dir} on "
            f"{savedmodel.read_lineage(ranking_dir) or 'unknown data'} (dataset:split:vocabulary); "
            "train both on the same data (`recsys train all`)"
        )
    module = RecommenderModule(
        tf.saved_model.load(retrieval_dir), tf.saved_model.load(ranking_dir), k
    )
    warmup = {n: _example(F.BY_NAME[n]) for n in module.input_names}
    metadata = {
        "model": contract.RECOMMENDER,
        "k": k,
        "outputs": [
            contract.MOVIE_IDS,
            contract.SCORES,
            contract.PREDICTED_RATING,
            contract.MOVIE_TITLE,
        ],
        contract.LINEAGE: lineage,
        "retrieval": os.path.abspath(retrieval_dir),
        "ranking": os.path.abspath(ranking_dir),
    }
    base = os.path.join(destination or export_dir, contract.RECOMMENDER)
    path = savedmodel.export(base, module, [warmup], metadata)
    log.info(
        "exported recommender (k=%d) from %s and %s to %s", k, retrieval_dir, ranking_dir, path
    )
    return path


def _example(feature: F.Feature) -> np.ndarray:
    """A batch of one plausible value of a feature, for a warm-up request (never read as data)."""
    value = {"string": "1", "int64": 893_286_638, "float32": 30.0, "bool": True}[feature.dtype]
    dtype = object if feature.dtype == "string" else feature.dtype
    return np.asarray([[value]] if feature.kind is F.Kind.SEQUENCE else [value], dtype=dtype)
