"""Quality and speed benchmarks, measured side by side with peers; results are files."""

from core import env as _env  # noqa: F401  (before tensorflow)
