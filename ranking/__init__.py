"""ranking package."""

from core import env as _env  # noqa: F401  (sets TF_USE_LEGACY_KERAS before tensorflow loads)
