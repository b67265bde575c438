"""The `recsys` CLI: every subcommand has --help; data summary on tiny data; clear errors."""

from __future__ import annotations

import json

import pytest

from pipelines import cli


def _subcommand_paths(parser, prefix=()):
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommand_paths(sub, (*prefix, name))


def test_every_subcommand_has_help(capsys):
    paths = list(_subcommand_paths(cli.build_parser()))
    assert ("data", "summary") in paths
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*path, "--help"])
        assert exit_info.value.code == 0
        assert "usage: recsys " + " ".join(path) in capsys.readouterr().out


def test_data_summary_on_tiny_data(tiny_movielens, tfds_cache, tmp_path, capsys):
    code = cli.main(
        [
            "data",
            "summary",
            "--movielens-dir",
            str(tiny_movielens.folder),
            "--split",
            "temporal",
            "--set",
            f"data.tfds_data_dir={tfds_cache}",
            "--output",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    num_users = len(tiny_movielens.users)
    assert f"| {len(tiny_movielens.ratings)} | {num_users} | {len(tiny_movielens.movies)} |" in out
    summary = json.loads((tmp_path / "summary-movielens-100k-temporal.json").read_text())
    assert summary["splits"]["test"]["ratings"] == num_users
    assert summary["splits"]["validation"]["ratings"] == num_users
    assert summary["users_with_future_in_train"] == 0
    assert summary["users_validation_after_test"] == 0
    expected_histogram = {}
    for _, _, rating, _ in tiny_movielens.ratings:
        expected_histogram[str(rating)] = expected_histogram.get(str(rating), 0) + 1
    assert summary["rating_histogram"] == dict(sorted(expected_histogram.items()))
    assert (
        (tmp_path / "summary-movielens-100k-temporal.md").read_text().startswith("# movielens-100k")
    )


def test_errors_are_one_clear_line_not_a_traceback(tmp_path, capsys):
    assert cli.main(["data", "summary", "--movielens-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recsys: error: MovieLens folder") and "nowhere" in err
    assert cli.main(["data", "summary", "--set", "data.bogus=1"]) == 2
    assert "unknown config key 'data.bogus'" in capsys.readouterr().err


def test_every_option_with_a_default_shows_it_in_help():
    import argparse

    from pipelines import cli

    def parsers(parser, path="recsys"):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from parsers(sub, f"{path} {name}")

    missing = []
    for path, parser in parsers(cli.build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            has_default = action.default not in (None, False, [], argparse.SUPPRESS)
            if action.option_strings and has_default:
                if "default" not in formatter._get_help_string(action):
                    missing.append(f"{path} {action.option_strings[0]}")
    assert not missing, missing
