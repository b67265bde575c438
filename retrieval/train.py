"""`recsys train retrieval`: train the two towers, early-stop on validation, evaluate, export."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import tensorflow as tf

from pipelines import features as F
from pipelines import training
from pipelines.data import Columns
from pipelines.dataset import Prepared, seen_movies, to_tf_dataset
from pipelines.reports import write_report
from retrieval import evaluate, metrics
from retrieval.config import RetrievalConfig
from retrieval.model import SAMPLING_PROBABILITY, RetrievalModel, build_model
from retrieval.tune import save_embeddings
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


def scorer(model: RetrievalModel, catalogue: Columns) -> evaluate.Scorer:
    """Dot-product scores of queries against the whole catalogue (exact)."""
    movies = catalogue_embeddings(model, catalogue)
    return lambda queries: query_embeddings(model, queries) @ movies.T


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
        scores = scorer(self.model, self.prepared.catalogue)(self.prepared.parts["validation"])
        ranks = metrics.full_catalogue_ranks(scores, self.targets, self.exclude)
        recall = metrics.hit_rate(ranks, self.k)
        if logs is not None:
            logs[self.key] = recall
        log.info("epoch %d: %s=%.4f", epoch + 1, self.key, recall)


def training_columns(prepared: Prepared) -> Columns:
    """Train columns plus each movie's in-batch sampling probability (for logQ correction)."""
    train = dict(prepared.parts["train"])
    movies, inverse, counts = np.unique(train[F.MOVIE_ID.name], return_inverse=True, return_counts=True)
    train[SAMPLING_PROBABILITY] = (counts / counts.sum()).astype(np.float32)[inverse]
    rows = prepared.catalogue_rows(train[F.MOVIE_ID.name])
    for feature in (F.MOVIE_TITLE, F.MOVIE_GENRES):  # movie features from the catalogue
        train[feature.name] = prepared.catalogue[feature.name][rows]
    return train


def train(cfg: RetrievalConfig, prepared: Prepared, run_dir: str) -> RetrievalModel:
    """Trains with early stopping on validation recall; returns the best epoch's model."""
    training.set_seed(cfg.data.seed)
    vocab_files = prepared.vocab.write_files(os.path.join(run_dir, "vocab"))
    model = build_model(prepared.vocab, vocab_files, cfg.model, cfg.task, cfg.data.history_length)
    model.compile(optimizer=training.optimizer(cfg.trainer))
    names = (
        *model.query_tower.feature_names,
        *candidate_feature_names(cfg.model),
        SAMPLING_PROBABILITY,
    )
    names = tuple(dict.fromkeys(names))
    train_data = to_tf_dataset(training_columns(prepared), names, cfg.trainer.batch_size, cfg.data.seed)
    validation = ValidationRecall(prepared, cfg.trainer.monitor_k)
    callbacks = [validation, *training.callbacks(cfg.trainer, run_dir, validation.key, "max")]
    model.fit(train_data, epochs=cfg.trainer.epochs, callbacks=callbacks, verbose=2)
    return model


def main(cfg: RetrievalConfig) -> dict:
    """Seeds, prepares data, trains, evaluates, exports; writes config and metrics to run_dir.

    Returns:
      The metrics dict written to `<run_dir>/metrics.json` (plus export paths).
    """
    from retrieval import export

    started = time.time()
    prepared = training.start_run(cfg)
    model = train(cfg, prepared, cfg.run_dir)
    trained_seconds = time.time() - started
    result = {
        "split": cfg.data.split,
        "test": evaluate.evaluate(scorer(model, prepared.catalogue), prepared, "test", seed=cfg.data.seed),
        "train_seconds": round(trained_seconds, 1),
    }
    result["exports"] = export.export_all(model, prepared, cfg, metrics=result["test"])
    save_embeddings(
        cfg.run_dir,
        prepared.catalogue[F.MOVIE_ID.name],
        catalogue_embeddings(model, prepared.catalogue),
        query_embeddings(model, prepared.parts["test"]),
    )
    table = evaluate.to_markdown({"two-tower": {cfg.data.split: result["test"]}})
    write_report(os.path.join(cfg.run_dir, "metrics"), result, table)
    print(table, end="")
    return result

