"""The bottom layer: feature registry, configs, TFDS loading, splits, history, vocabularies,
shared Keras encoders, result files. Imports nothing else of the project."""

from core import env as _env  # noqa: F401  (sets TF_USE_LEGACY_KERAS before tensorflow loads)
