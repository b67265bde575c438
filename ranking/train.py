"""`recsys train ranking`: train the rating model, early-stop on validation RMSE, evaluate, export."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import tensorflow as tf

from pipelines import features as F
from pipelines import training
from pipelines.data import Columns
from pipelines.dataset import Prepared, to_tf_dataset
from pipelines.reports import write_report
from ranking import autorec, metrics
from ranking import features as RF
from ranking.config import RankingConfig
from ranking.model import RankingModel, RatingBlend, RatingEnsemble, RatingNetwork

log = logging.getLogger(__name__)

PREDICT_BATCH = 8192


def build_network(cfg: RankingConfig, prepared: Prepared, run_dir: str) -> RatingNetwork | RatingEnsemble:
    """A fresh network (or ensemble of them) with training-split vocabularies and statistics."""
    vocab_files = prepared.vocab.write_files(os.path.join(run_dir, "vocab"))
    train = prepared.parts["train"]
    stats = RF.training_stats(train, prepared.catalogue)
    mean_rating = float(np.mean(train[F.USER_RATING.name]))
    members = [
        RatingNetwork(prepared.vocab, vocab_files, prepared.catalogue, stats, mean_rating, cfg.model,
                      cfg.data.history_length)  # fmt: skip
        for _ in range(cfg.model.ensemble_size)
    ]
    return members[0] if len(members) == 1 else RatingEnsemble(members)


def predict(network: tf.keras.Model, columns: Columns) -> np.ndarray:
    """[n] predicted ratings of rating columns."""
    batches = to_tf_dataset(columns, network.feature_names, PREDICT_BATCH)
    return np.concatenate([network(b, training=False).numpy() for b in batches])


def listwise_columns(train: Columns, names, list_length: int, lists_per_user: int, seed: int) -> Columns:
    """Lists of one user's training ratings: every column becomes [num_lists, list_length].

    Each user with at least `list_length` ratings contributes `lists_per_user` lists,
    each a random sample of their ratings without repetition.
    """
    rng = np.random.default_rng(seed)
    users = train[F.USER_ID.name]
    rows = []
    for user_rows in np.split(np.arange(len(users)), np.flatnonzero(users[1:] != users[:-1]) + 1):
        if len(user_rows) >= list_length:
            rows += [rng.choice(user_rows, list_length, replace=False) for _ in range(lists_per_user)]
    if not rows:
        raise ValueError(f"no user has {list_length} training ratings: lower task.list_length")
    rows = np.stack(rows)
    return {name: train[name][rows] for name in (*names, F.USER_RATING.name)}


class ValidationRMSE(tf.keras.callbacks.Callback):
    """Adds `val_rmse` (RMSE on the validation part, clipped predictions) to the epoch logs."""

    def __init__(self, validation: Columns):
        super().__init__()
        self.validation = validation

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = metrics.rmse(self.validation[F.USER_RATING.name], predict(self.model.network, self.validation))
        if logs is not None:
            logs["val_rmse"] = value
        log.info("epoch %d: val_rmse=%.4f", epoch + 1, value)


def train(cfg: RankingConfig, prepared: Prepared, run_dir: str) -> RankingModel:
    """Trains with early stopping on validation RMSE; returns the best epoch's model.

    With `trainer.refit`, then trains a fresh model on train + validation for the number
    of epochs early stopping chose, and keeps that one. With `autorec.weight` > 0, then
    trains I-AutoRec (on train, early-stopped on validation) and the returned model's
    `network` is the blend of both.
    """
    model = _fit(cfg, prepared, run_dir, prepared.parts["train"], cfg.trainer.epochs, early_stopping=True)
    if cfg.trainer.refit:
        best_epochs = int(np.argmin(model.history.history["val_rmse"])) + 1
        log.info("refitting on train + validation for %d epochs", best_epochs)
        train_part, validation = prepared.parts["train"], prepared.parts["validation"]
        both = {k: np.concatenate([train_part[k], validation[k]]) for k in train_part}
        model = _fit(cfg, prepared, run_dir, both, best_epochs, early_stopping=False)
    if cfg.autorec.weight > 0:
        vocab_files = prepared.vocab.write_files(os.path.join(run_dir, "vocab"))
        scorer = autorec.train(cfg.autorec, prepared.parts["train"], prepared.parts["validation"], prepared.vocab,
                               vocab_files, cfg.data.seed)  # fmt: skip
        model.network = RatingBlend(model.network, scorer, cfg.autorec.weight)
    return model


def variants(network: RatingNetwork | RatingEnsemble | RatingBlend) -> dict[str, tf.keras.Model]:
    """The model under its report name and, for a blend, each side alone (AutoRec alone
    still falls back to the networks where it knows neither user nor movie)."""
    if not isinstance(network, RatingBlend):
        return {"dcn-ranking": network}
    return {
        "dcn+autorec": network,
        "dcn-ranking": network.networks,
        "i-autorec": RatingBlend(network.networks, network.autorec, weight=1.0),
    }


def _fit(cfg: RankingConfig, prepared: Prepared, run_dir: str, train_part: Columns, epochs: int,
         early_stopping: bool) -> RankingModel:  # fmt: skip
    training.set_seed(cfg.data.seed)
    model = RankingModel(build_network(cfg, prepared, run_dir), cfg.task)
    model.compile(optimizer=training.optimizer(cfg.trainer))
    names = (*model.network.feature_names, F.USER_RATING.name)
    if cfg.task.listwise_weight > 0:
        lists = listwise_columns(train_part, model.network.feature_names, cfg.task.list_length,
                                 cfg.task.lists_per_user, cfg.data.seed)  # fmt: skip
        batch_size = max(1, cfg.trainer.batch_size // cfg.task.list_length)
        data = to_tf_dataset(lists, names, batch_size, cfg.data.seed)
    else:
        data = to_tf_dataset(train_part, names, cfg.trainer.batch_size, cfg.data.seed)
    callbacks = [ValidationRMSE(prepared.parts["validation"])]
    if early_stopping:
        callbacks += training.callbacks(cfg.trainer, run_dir, "val_rmse", "min")
    model.fit(data, epochs=epochs, callbacks=callbacks, verbose=2)
    return model


def evaluate(network: tf.keras.Model, prepared: Prepared, part: str = "test") -> dict:
    """RMSE, MAE and per-user NDCG@10 on one part."""
    columns = prepared.parts[part]
    return metrics.report(columns[F.USER_ID.name], columns[F.USER_RATING.name], predict(network, columns))


def main(cfg: RankingConfig) -> dict:
    """Seeds, prepares data, trains, evaluates, exports; writes config and metrics to run_dir."""
    from ranking import export

    started = time.time()
    prepared = training.start_run(cfg)
    model = train(cfg, prepared, cfg.run_dir)
    result = {
        "split": cfg.data.split,
        "train_seconds": round(time.time() - started, 1),
        "test": evaluate(model.network, prepared),
        "test_by_part": {name: evaluate(part, prepared) for name, part in variants(model.network).items()},
    }
    result["exports"] = {"ranking": export.export(model.network, prepared, cfg, metrics=result["test"])}
    table = "| model | RMSE | MAE | NDCG@10 |\n|---|---:|---:|---:|\n" + "".join(
        f"| {name} | {m['rmse']:.4f} | {m['mae']:.4f} | {m['ndcg@10']:.4f} |\n" for name, m in result["test_by_part"].items()
    )
    write_report(os.path.join(cfg.run_dir, "metrics"), result, table)
    print(table, end="")
    return result
