"""Typed configs: files, overrides, rejection of unknown keys and wrong types."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

import pytest

from core.config import ConfigError, DataConfig, load_config


@dataclasses.dataclass
class Inner:
    """Attributes: layers: sizes. rate: a float."""

    layers: tuple[int, ...] = (64, 32)
    rate: float = 0.1
    flag: bool = False


@dataclasses.dataclass
class Outer:
    """Attributes: data: data. inner: inner."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_defaults_file_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\nsplit = "temporal"\n[inner]\nrate = 1\n')
    cfg = load_config(Outer, path, ["inner.layers=[8, 4]", "data.seed=7", "inner.flag=true"])
    assert cfg.data.split == "temporal" and cfg.data.seed == 7
    assert cfg.inner == Inner(layers=(8, 4), rate=1.0, flag=True)
    assert cfg.data.dataset == "movielens-100k"


def test_bare_string_override():
    assert (
        load_config(Outer, None, ["data.movielens_dir=/some/where"]).data.movielens_dir
        == "/some/where"
    )


@pytest.mark.parametrize(
    "override, message",
    [
        ("inner.ratee=0.2", "unknown config key 'inner.ratee'"),
        ("nope.x=1", "unknown config key 'nope'"),
        ("data.seed=1.5", r"data.seed=1.5: expected int, got float"),
        ("data.seed=true", r"data.seed=True: expected int, got bool"),
        ('inner.layers=[1, "a"]', r"inner.layers\[1\]='a': expected int"),
        ("data.split=weekly", "data.split='weekly': expected 'random' or 'temporal'"),
        ("data.test_fraction=1.5", r"data.test_fraction=1.5: expected a fraction"),
        ("novalue", "expected dotted.key=value"),
    ],
)
def test_bad_overrides_are_rejected_by_name(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, None, [override])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Outer, tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(Outer, bad)


def test_every_shipped_config_file_parses_and_states_only_differences():
    from pipelines.config import PipelineConfig

    configs = pathlib.Path(__file__).resolve().parents[2] / "configs"
    files = sorted(configs.glob("*.toml"))
    assert files, "configs/ has no TOML files"
    for path in files:
        loaded = load_config(PipelineConfig, path)
        with open(path, "rb") as f:
            stated = tomllib.load(f)
        for dotted, value in _leaves(stated):  # a value equal to the default restates it
            node = PipelineConfig()
            for part in dotted:
                node = getattr(node, part)
            assert (
                node != value
            ), f"{path.name}: {'.'.join(dotted)} = {value!r} is the default already"
        assert isinstance(loaded, PipelineConfig)


def _leaves(table, prefix=()):
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


@dataclasses.dataclass
class WithNestedDefault:
    """Attributes: data: a nested default that differs from DataConfig's own."""

    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(split="random"))


def test_partial_nested_table_keeps_the_parents_default(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[data]\nseed = 3\n")
    cfg = load_config(WithNestedDefault, path)
    assert (cfg.data.split, cfg.data.seed) == ("random", 3)
