"""Typed, nested dataclass configs: defaults in code, TOML files override, `--set` overrides last.

A config file is TOML whose tables mirror the dataclass nesting::

    [data]
    dataset = "movielens-100k"
    [trainer]
    epochs = 10

An unknown key or a value of the wrong type is rejected with its dotted name, so
a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from typing import Any, TypeVar

from core import features as F

T = TypeVar("T")

ENV_MOVIELENS_DIR = "RECSYS_MOVIELENS_DIR"
# The development copy beside a checkout (../shared/data/movielens), used when neither the flag
# nor the environment names a folder.
DEVELOPMENT_COPY = os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "movielens")
)


class ConfigError(ValueError):
    """A config file, key or value that cannot be used."""


@dataclasses.dataclass
class DataConfig:
    """Which data, from where, split how.

    Attributes:
      dataset: "movielens-100k" (with demographics), "movielens-latest-small" (without), or
        "movielens-csv": any folder in the ml-latest-small / ml-20m layout (`ratings.csv`,
        `movies.csv`), e.g. your own catalogue or `recsys data synthesize`'s output, read
        through the same TFDS parser; it needs `movielens_dir`.
      movielens_dir: Folder with MovieLens files: an extracted `ml-100k/` and/or
        `ml-latest-small.zip` (or the extracted `ml-100k` folder itself), or the CSV folder
        of "movielens-csv". Empty: TFDS downloads the official archives. Looked up in
        this order: this field (--movielens-dir), $RECSYS_MOVIELENS_DIR, the development
        copy ../shared/data/movielens beside the checkout; none of them: download.
      tfds_data_dir: Where TFDS keeps prepared datasets; empty means TFDS's default
        (~/tensorflow_datasets or $TFDS_DATA_DIR).
      split: "temporal" (per user: last rating is test, the one before validation: no
        future in training, the headline protocol) or "random" (seeded shuffle,
        test_fraction held out: the TFRS tutorials' and the RMSE protocol).
      seed: Seed of the random split (and of everything else seeded by a pipeline).
      test_fraction: Share of all ratings held out as test by the random split.
      validation_fraction: Share of the non-test ratings held out as validation by the
        random split (for early stopping).
      history_length: How many of the user's previous ratings form `recent_movie_ids` (each
        model reads as many of the newest as it is configured to).
      reader: How "movielens-csv" is read: "tfds" (TFDS's parser, prepared once into its
        cache; about 9,000 ratings a second) or "arrow" (Apache Arrow's CSV parser, the same
        columns in seconds: for ML-20M-sized folders). Other datasets always use TFDS.
    """

    dataset: str = "movielens-100k"
    movielens_dir: str = ""
    tfds_data_dir: str = ""
    split: str = "temporal"
    seed: int = 42
    test_fraction: float = 0.2
    validation_fraction: float = 0.1
    history_length: int = 50
    reader: str = "tfds"

    def __post_init__(self) -> None:
        datasets = ("movielens-100k", "movielens-latest-small", "movielens-csv")
        if self.dataset not in datasets:
            raise ConfigError(f"data.dataset={self.dataset!r}: expected one of {datasets}")
        if self.split not in ("random", "temporal"):
            raise ConfigError(f"data.split={self.split!r}: expected 'random' or 'temporal'")
        for name in ("test_fraction", "validation_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"data.{name}={value}: expected a fraction in (0, 1)")
        if self.reader not in ("tfds", "arrow"):
            raise ConfigError(f"data.reader={self.reader!r}: expected 'tfds' or 'arrow'")
        if self.reader == "arrow" and self.dataset != "movielens-csv":
            raise ConfigError("data.reader='arrow' reads data.dataset='movielens-csv' only")
        if self.history_length < 0:
            raise ConfigError(f"data.history_length={self.history_length}: expected >= 0")

    def resolved_movielens_dir(self) -> str:
        """`movielens_dir`, else $RECSYS_MOVIELENS_DIR, else the development copy if it
        exists, else "" (download through TFDS)."""
        found = self.movielens_dir or os.environ.get(ENV_MOVIELENS_DIR, "")
        return found or (DEVELOPMENT_COPY if os.path.isdir(DEVELOPMENT_COPY) else "")


@dataclasses.dataclass
class TrainerConfig:
    """Optimisation and early stopping (shared by the pipelines).

    Attributes:
      epochs: Upper bound on epochs; early stopping usually ends sooner.
      batch_size: Examples per step.
      optimizer: "adam", "lazy_adam" (Adam that updates only the embedding rows a batch
        touches: the step cost of plain Adam grows with the vocabularies, see BUILD.md,
        Scale) or "adagrad".
      learning_rate: Optimizer learning rate.
      early_stopping_patience: Epochs without a better validation score before
        stopping; the best epoch's weights are kept.
      tensorboard: Write TensorBoard logs under the run directory.
    """

    epochs: int = 40
    batch_size: int = 1024
    optimizer: str = "adam"
    learning_rate: float = 0.002
    early_stopping_patience: int = 4
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "lazy_adam", "adagrad"):
            raise ConfigError(
                f"trainer.optimizer={self.optimizer!r}: expected 'adam', 'lazy_adam' or 'adagrad'"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("trainer.epochs and trainer.batch_size must be >= 1")


@dataclasses.dataclass
class FeatureSwitches:
    """Which switchable feature groups of the registry (core.features.Group) a model reads.

    Attributes:
      use_demographics: Age (bucket and years), gender, occupation, zip prefix (only where
        the dataset has them).
      use_time: The request (or rating) time.
      use_history: `recent_movie_ids`, the movies the user rated before.
      use_movie_content: Title tokens and genres (ranking: and release year).
    """

    use_demographics: bool = True
    use_time: bool = True
    use_history: bool = True
    use_movie_content: bool = True

    def groups(self, has_demographics: bool) -> set[F.Group]:
        """The registry groups that are on (demographics only where the data has them)."""
        return F.enabled_groups(
            demographics=self.use_demographics and has_demographics,
            time=self.use_time,
            history=self.use_history,
            movie_content=self.use_movie_content,
        )


def load_config(cls: type[T], paths=None, overrides=()) -> T:
    """Builds `cls` from its defaults, then TOML files in order, then `key.sub=value` overrides.

    Args:
      cls: A dataclass type whose fields are scalars, tuples or nested dataclasses.
      paths: Optional TOML file, or a list of them; later files override earlier ones.
      overrides: Strings `dotted.key=value`; the value is read as TOML
        (`5`, `0.1`, `true`, `[64, 32]`, `"text"`) or, failing that, as a bare string.

    Returns:
      The config instance.

    Raises:
      ConfigError: on a missing or unparsable file, an unknown key, or a wrong type.
    """
    values: dict[str, Any] = {}
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    for path in paths or ():
        try:
            with open(path, "rb") as f:
                _merge(values, tomllib.load(f))
        except FileNotFoundError:
            raise ConfigError(f"config file {os.fspath(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {os.fspath(path)!r} is not valid TOML: {e}") from None
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"override {item!r}: expected dotted.key=value, e.g. trainer.epochs=5"
            )
        node = values
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is a value, not a section")
        node[leaf] = _parse_value(raw.strip())
    return _build(cls, values, prefix="")


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain JSON-ready data (for saving beside artefacts)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def save_config(config: Any, path: str | os.PathLike) -> None:
    """Writes the resolved config as JSON."""
    with open(path, "w") as f:
        json.dump(to_dict(config), f, indent=2, sort_keys=True)
        f.write("\n")


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _build(cls: type[T], values: dict[str, Any], prefix: str, base: Any = None) -> T:
    """`base` (default: `cls()`) with `values` applied; nested tables keep their parent's
    defaults."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table, got {values!r}")
    base = cls() if base is None else base
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix + unknown[0]!r} in {cls.__name__}; "
            f"known keys: {', '.join(prefix + k for k in fields)}"
        )
    changes = {}
    for name, value in values.items():
        hint = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            changes[name] = _build(hint, value, prefix=key + ".", base=getattr(base, name))
        else:
            changes[name] = _coerce(key, hint, value)
    try:
        return dataclasses.replace(base, **changes)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {e}") from None


def _coerce(key: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item_type, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}={value!r}: expected a list of {item_type.__name__}")
        return tuple(_coerce(f"{key}[{i}]", item_type, v) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(key, inner, value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (hint is bool) or not isinstance(value, hint):
        got = type(value).__name__
        raise ConfigError(f"{key}={value!r}: expected {hint.__name__}, got {got}")
    return value
