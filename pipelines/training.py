"""Training helpers shared by the pipelines: seeding, optimizers, callbacks."""

from __future__ import annotations

import os

import tensorflow as tf

from pipelines.config import TrainerConfig, save_config
from pipelines.dataset import Prepared, prepare


def set_seed(seed: int) -> None:
    """Seeds Python, numpy and TensorFlow (initialisers, dropout, shuffling)."""
    tf.keras.utils.set_random_seed(seed)


def optimizer(cfg: TrainerConfig) -> tf.keras.optimizers.Optimizer:
    """The configured optimizer."""
    return {"adam": tf.keras.optimizers.Adam, "adagrad": tf.keras.optimizers.Adagrad}[cfg.optimizer](
        learning_rate=cfg.learning_rate
    )


def callbacks(cfg: TrainerConfig, run_dir: str, monitor: str, mode: str) -> list[tf.keras.callbacks.Callback]:
    """Early stopping on `monitor` (best weights kept) and, if configured, TensorBoard."""
    result = [
        tf.keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=cfg.early_stopping_patience, restore_best_weights=True
        )
    ]
    if cfg.tensorboard:
        result.append(tf.keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")))
    return result


def start_run(cfg) -> Prepared:
    """A pipeline's first steps: create `cfg.run_dir`, save the resolved config there,
    prepare `cfg.data` and save its vocabularies beside the config."""
    os.makedirs(cfg.run_dir, exist_ok=True)
    save_config(cfg, os.path.join(cfg.run_dir, "config.json"))
    prepared = prepare(cfg.data)
    prepared.vocab.save(cfg.run_dir)
    return prepared
