"""Fitting the rating network (early-stopped on validation RMSE) and I-AutoRec beside it."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from core import features as F
from core import training
from core.columns import Gathered
from core.data import Columns
from core.dataset import Prepared, to_tf_dataset
from ranking import autorec, metrics, signals
from ranking import features as RF
from ranking.candidates import CandidateLists
from ranking.config import RankingConfig
from ranking.model import RankingModel, RatingBlend, RatingNetwork
from ranking.scorer import POSITIVE, CandidateScorer, ListwiseModel, TwoHeadRanker

log = logging.getLogger(__name__)

PREDICT_BATCH = 8192


def build_network(
    cfg: RankingConfig, prepared: Prepared, vocab_files: dict[str, str]
) -> RatingNetwork:
    """A fresh network with training-split vocabularies and statistics."""
    train = prepared.parts["train"]
    stats = RF.training_stats(train, prepared.catalogue)
    mean_rating = float(np.mean(train[F.USER_RATING.name]))
    return RatingNetwork(
        prepared.vocab, vocab_files, prepared.catalogue, stats, mean_rating, cfg.model
    )


def predict(network: tf.keras.Model, columns: Columns) -> np.ndarray:
    """[n] predicted ratings of rating columns."""
    batches = to_tf_dataset(columns, network.feature_names, PREDICT_BATCH)
    return np.concatenate([network(b, training=False).numpy() for b in batches])


class ValidationRMSE(tf.keras.callbacks.Callback):
    """Adds `val_rmse` (RMSE on the validation part, clipped predictions) to the epoch logs."""

    def __init__(self, validation: Columns):
        super().__init__()
        self.validation = validation

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        predictions = predict(self.model.network, self.validation)
        value = metrics.rmse(self.validation[F.USER_RATING.name], predictions)
        if logs is not None:
            logs["val_rmse"] = value
        log.debug("epoch %d: val_rmse=%.4f", epoch + 1, value)  # Keras prints it


def train(
    cfg: RankingConfig, prepared: Prepared, vocab_files: dict[str, str], seed: int, callbacks=()
) -> tf.keras.Model:
    """Fits the network with early stopping on validation RMSE, then (with `autorec.weight`
    > 0) I-AutoRec, and returns the rating model: the network, or its blend with AutoRec."""
    training.set_seed(seed)
    model = RankingModel(build_network(cfg, prepared, vocab_files))
    model.compile(optimizer=training.optimizer(cfg.trainer))
    names = (*model.network.feature_names, F.USER_RATING.name)
    data = to_tf_dataset(prepared.parts["train"], names, cfg.trainer.batch_size, seed)
    stopping = training.early_stopping(cfg.trainer, "val_rmse", "min")
    validation = ValidationRMSE(prepared.parts["validation"])
    model.fit(
        data,
        epochs=cfg.trainer.epochs,
        callbacks=[validation, stopping, *callbacks],
        verbose=training.fit_verbosity(),
    )
    if cfg.autorec.weight == 0 or not autorec.fits(cfg.autorec, prepared.vocab):
        return model.network
    scorer = autorec.train(
        cfg.autorec,
        prepared.parts["train"],
        prepared.parts["validation"],
        prepared.vocab,
        vocab_files,
        seed,
    )
    return RatingBlend(model.network, scorer, cfg.autorec.weight)


def variants(network: tf.keras.Model) -> dict[str, tf.keras.Model]:
    """The model under its report name and, for a blend, each side alone (AutoRec alone
    still falls back to the network where it knows neither user nor movie)."""
    if not isinstance(network, RatingBlend):
        return {"dcn-ranking": network}
    return {
        "dcn+autorec": network,
        "dcn-ranking": network.networks,
        "i-autorec": RatingBlend(network.networks, network.autorec, weight=1.0),
    }


def evaluate(network: tf.keras.Model, columns: Columns) -> dict:
    """RMSE, MAE and per-user NDCG@10 of rating columns."""
    return metrics.report(
        columns[F.USER_ID.name], columns[F.USER_RATING.name], predict(network, columns)
    )


def ranker_feature_names(cfg: RankingConfig, prepared: Prepared) -> tuple[str, ...]:
    """The exported ranking model's inputs: every ranker feature of the registry."""
    return F.inputs_of(F.Reader.RANKER, cfg.model.groups(prepared.vocab.has_demographics))


def list_dataset(lists: CandidateLists, feature_names, batch_size: int, seed: int | None = None):
    """Batches of lists: query features [B], candidates and their scores [B, N], `positive`."""
    per_candidate = (F.MOVIE_ID.name, F.RETRIEVAL_SCORE.name, F.RETRIEVAL_RANK.name)
    columns = {n: lists.queries[n] for n in feature_names if n not in per_candidate}
    columns[F.MOVIE_ID.name] = lists.movie_ids
    columns[F.RETRIEVAL_SCORE.name] = lists.scores
    columns[POSITIVE] = Gathered(lists.positive, np.eye(lists.movie_ids.shape[1], dtype=np.float32))
    return to_tf_dataset(columns, tuple(columns), batch_size, seed)


def train_scorer(
    cfg: RankingConfig,
    prepared: Prepared,
    vocab_files: dict[str, str],
    seed: int,
    rating_model: tf.keras.Model,
    train_lists: CandidateLists,
    validation_lists: CandidateLists,
    earlier: Columns,
    callbacks=(),
) -> TwoHeadRanker:
    """The two-headed ranker: `rating_model` and the scorer of `fit_scorer`."""
    model = fit_scorer(
        cfg, prepared, vocab_files, seed, train_lists, validation_lists, earlier, callbacks
    )
    return TwoHeadRanker(rating_model, model.scorer, model.feature_names)


def fit_scorer(
    cfg: RankingConfig,
    prepared: Prepared,
    vocab_files: dict[str, str],
    seed: int,
    train_lists: CandidateLists,
    validation_lists: CandidateLists,
    earlier: Columns,
    callbacks=(),
) -> ListwiseModel:
    """Fits the candidate scorer on the lists (listwise loss), early-stopped on validation
    HR@10 within the lists.

    Args:
      earlier: The training ratings before the training lists' queries, which the signal
        tables are built from. The exported scorer keeps the same tables: swapping in tables
        of the whole train part after training scored lower on validation (HR@10 0.217
        against 0.230), the learned weights being fit to these tables' scales.
    """
    training.set_seed(seed)
    names = ranker_feature_names(cfg, prepared)
    scorer = CandidateScorer(
        signals.build_tables(earlier, prepared.catalogue), vocab_files, cfg.scorer
    )
    model = ListwiseModel(scorer, names, cfg.scorer.loss)
    model.compile(optimizer=training.optimizer(cfg.scorer_trainer))
    batch = cfg.scorer_trainer.batch_size
    log.info(
        "scorer: %d training lists (of %d queries), %d validation lists (of %d)",
        len(train_lists),
        train_lists.num_queries,
        len(validation_lists),
        validation_lists.num_queries,
    )
    stopping = training.early_stopping(cfg.scorer_trainer, "val_hr_at_10", "max")
    model.fit(
        list_dataset(train_lists, names, batch, seed),
        validation_data=list_dataset(validation_lists, names, batch),
        epochs=cfg.scorer_trainer.epochs,
        callbacks=[stopping, *callbacks],
        verbose=training.fit_verbosity(),
    )
    return model
