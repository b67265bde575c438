"""The two-tower retrieval model: a `tfrs.Model` whose loss is the Retrieval task."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

from core import features as F
from core.encoders import embedding
from core.vocab import Vocabularies
from retrieval.config import TaskConfig, TowerConfig
from retrieval.towers import CandidateTower, QueryTower

# Training-only input: how often the example's movie is drawn as an in-batch candidate.
SAMPLING_PROBABILITY = "candidate_sampling_probability"


class RetrievalModel(tfrs.Model):
    """Query tower, candidate tower and an in-batch softmax over the batch's movies.

    Evaluation is done outside the model, over the full catalogue (see
    `retrieval.metrics`), so the task computes no metrics.
    """

    def __init__(self, query_tower: QueryTower, candidate_tower: CandidateTower, task: TaskConfig):
        super().__init__()
        self.query_tower = query_tower
        self.candidate_tower = candidate_tower
        self.task_config = task
        self.task = tfrs.tasks.Retrieval(
            temperature=task.temperature or None,
            num_hard_negatives=task.num_hard_negatives or None,
            remove_accidental_hits=task.remove_accidental_hits,
        )

    def compute_loss(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        queries = self.query_tower(inputs, training=training)
        candidates = self.candidate_tower(inputs, training=training)
        return self.task(
            queries,
            candidates,
            candidate_sampling_probability=(
                inputs[SAMPLING_PROBABILITY] if self.task_config.logq_correction else None
            ),
            candidate_ids=inputs[F.MOVIE_ID.name]
            if self.task_config.remove_accidental_hits
            else None,
            compute_metrics=False,
        )


def build_model(
    vocab: Vocabularies, vocab_files: dict[str, str], tower: TowerConfig, task: TaskConfig
) -> RetrievalModel:
    """A fresh retrieval model whose lookups read `vocab_files` (see Vocabularies.write_files).

    The movie-id embedding is shared: the candidate tower's movie and the query tower's
    history read the same table.
    """
    movie_ids = embedding(vocab_files["movie_id"], tower.id_embedding_dim, tower.l2)
    return RetrievalModel(
        QueryTower(vocab, vocab_files, movie_ids, tower),
        CandidateTower(vocab_files, movie_ids, tower),
        task,
    )
