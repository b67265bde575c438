"""Training helpers shared by the stages: seeding, optimizers, callbacks."""

from __future__ import annotations

import sys

import tensorflow as tf

from core.config import TrainerConfig


def fit_verbosity() -> int:
    """Keras `fit(verbose=...)`: a progress bar on a terminal, else one line per epoch."""
    return 1 if sys.stdout.isatty() else 2


def set_seed(seed: int) -> None:
    """Seeds Python, numpy and TensorFlow (initialisers, dropout, shuffling)."""
    tf.keras.utils.set_random_seed(seed)


def optimizer(cfg: TrainerConfig) -> tf.keras.optimizers.Optimizer:
    """The configured optimizer."""
    optimizers = {"adam": tf.keras.optimizers.Adam, "adagrad": tf.keras.optimizers.Adagrad}
    return optimizers[cfg.optimizer](learning_rate=cfg.learning_rate)


def early_stopping(cfg: TrainerConfig, monitor: str, mode: str) -> tf.keras.callbacks.EarlyStopping:
    """Early stopping on `monitor`, the best epoch's weights kept."""
    return tf.keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=cfg.early_stopping_patience, restore_best_weights=True
    )
