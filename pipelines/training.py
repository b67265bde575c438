"""Training helpers shared by the pipelines: seeding, optimizers, callbacks."""

from __future__ import annotations

import os

import tensorflow as tf

from pipelines.config import TrainerConfig


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
