"""Fitting the two towers: in-batch softmax, early stopping on validation recall."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from core import data, distribute, training
from core import features as F
from core.data import Columns
from core.dataset import Prepared, seen_movies, to_tf_dataset
from retrieval import metrics
from retrieval.config import RetrievalConfig
from retrieval.model import SAMPLING_PROBABILITY, RetrievalModel, build_model
from retrieval.towers import candidate_feature_names

log = logging.getLogger(__name__)

PREDICT_BATCH = 4096


def catalogue_embeddings(model: RetrievalModel, catalogue: Columns) -> np.ndarray:
    """[num_movies, d] candidate embeddings in catalogue order."""
    names = candidate_feature_names(model.candidate_tower.cfg)
    batches = to_tf_dataset(catalogue, names, PREDICT_BATCH)
    return np.concatenate([model.candidate_tower(b, training=False).numpy() for b in batches])


def query_embeddings(model: RetrievalModel, queries: Columns) -> np.ndarray:
    """[n, d] query embeddings of query feature columns."""
    batches = to_tf_dataset(queries, model.query_tower.feature_names, PREDICT_BATCH)
    return np.concatenate([model.query_tower(b, training=False).numpy() for b in batches])


def scorer(model: RetrievalModel, movie_embeddings: np.ndarray):
    """Exact dot-product scores [n, num_movies] of query columns against the catalogue."""
    return lambda queries: query_embeddings(model, queries) @ movie_embeddings.T


class ValidationRecall(tf.keras.callbacks.Callback):
    """Adds `val_recall_at_<k>`: full-catalogue recall on validation, training movies left out."""

    def __init__(self, prepared: Prepared, k: int):
        super().__init__()
        self.prepared = prepared
        self.k = k
        self.key = f"val_recall_at_{k}"
        validation = prepared.parts["validation"]
        self.targets = prepared.catalogue_rows(validation[F.MOVIE_ID.name])
        self.exclude = seen_movies(
            validation[F.USER_ID.name], prepared.parts["train"], movie_index=prepared.movie_index
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        score = scorer(self.model, catalogue_embeddings(self.model, self.prepared.catalogue))
        validation, ranks = self.prepared.parts["validation"], []
        for start in range(0, len(self.targets), PREDICT_BATCH):  # [chunk, movies] at a time
            rows = slice(start, start + PREDICT_BATCH)
            scores = score({name: values[rows] for name, values in validation.items()})
            ranks.append(
                metrics.full_catalogue_ranks(scores, self.targets[rows], self.exclude[rows])
            )
        recall = metrics.hit_rate(np.concatenate(ranks), self.k)
        if logs is not None:
            logs[self.key] = recall
        log.debug("epoch %d: %s=%.4f", epoch + 1, self.key, recall)  # Keras prints it


def training_columns(train: Columns) -> Columns:
    """Training ratings (their movie columns read through catalogue rows, as `data.load`
    gives them) plus each movie's in-batch sampling probability (logQ correction)."""
    rows = data.movie_rows(train)
    columns = dict(train)
    columns[SAMPLING_PROBABILITY] = (np.bincount(rows) / len(rows)).astype(np.float32)[rows]
    return columns


def train(
    cfg: RetrievalConfig,
    prepared: Prepared,
    vocab_files: dict[str, str],
    seed: int,
    train_part: Columns | None = None,
    callbacks=(),
) -> RetrievalModel:
    """Fits a fresh model with early stopping on validation recall; returns the best epoch's.

    Args:
      train_part: The ratings to fit (default: the prepared train part).
      callbacks: More Keras callbacks (e.g. TensorBoard).
    """
    training.set_seed(seed)
    with distribute.strategy().scope():  # several workers under TF_CONFIG; else plain
        model = build_model(prepared.vocab, vocab_files, cfg.model, cfg.task)
        model.compile(optimizer=training.optimizer(cfg.trainer))
    names = (
        *model.query_tower.feature_names,
        *candidate_feature_names(cfg.model),
        SAMPLING_PROBABILITY,
    )
    part = prepared.parts["train"] if train_part is None else train_part
    columns = training_columns(part)
    data = to_tf_dataset(columns, tuple(dict.fromkeys(names)), cfg.trainer.batch_size, seed)
    validation = ValidationRecall(prepared, cfg.trainer.monitor_k)
    stopping = training.early_stopping(cfg.trainer, validation.key, "max")
    model.fit(
        data,
        epochs=cfg.trainer.epochs,
        callbacks=[validation, stopping, *callbacks],
        verbose=training.fit_verbosity(),
    )
    return model
