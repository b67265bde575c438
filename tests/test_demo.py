"""The README's main job (`recsys demo`) end to end on tiny data."""

from __future__ import annotations

import json

import numpy as np

from core.logs import NATIVE_NOISE, PYTHON_NOISE
from tests.conftest import REPO, run_recsys, tiny_set_args


def test_demo_trains_exports_serves_and_recommends(tiny_movielens, tfds_cache, tmp_path):
    """`recsys demo` as a user runs it (the console script, output piped): it answers, and
    its output is quiet: no native library INFO/WARNING lines, no TFDS prints, no
    non-serializable warnings, each epoch reported by Keras alone."""
    done = run_recsys(
        "demo",
        *tiny_set_args(tiny_movielens, tfds_cache, tmp_path),
        "--model-config",
        str(REPO / "configs" / "serving" / "models.config"),
        "--users",
        "1,2",
        "--results",
        str(tmp_path / "results"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Top 3 for user 1" in out and "new user" in out and "Because you watched" in out
    text = done.stdout + done.stderr
    lines = [line.encode() for line in text.splitlines()]  # NATIVE_NOISE matches bytes
    assert not [line for line in lines if NATIVE_NOISE.match(line)]
    for noise in (*PYTHON_NOISE, "Downloading and preparing", "INFO retrieval.train: epoch"):
        assert noise not in text, noise
    # Two retrieval fits (served, and the earlier window for the ranker's lists), 2 epochs each.
    assert text.count("val_recall_at_5:") == 4
    saved = json.loads((tmp_path / "results" / "demo.json").read_text())
    assert set(saved["recommendations"]) == {"1", "2", "new user (demographics only)"}
    for name, shown in saved["recommendations"].items():
        assert len(shown["composite"]) == 3, name
        two_calls = shown["client_side_bruteforce"]
        assert [r["movie_id"] for r in shown["composite"]] == [r["movie_id"] for r in two_calls]
        assert np.allclose(
            [r["score"] for r in shown["composite"]], [r["score"] for r in two_calls], atol=1e-5
        )
        seen = set()
        if name in ("1", "2"):
            because = shown["because_you_watched"]
            assert len(because["similar"]) == 3
            assert because["movie_id"] not in {r["movie_id"] for r in because["similar"]}
            # the profile holds every rating but the held-out test one (the user's last by
            # time, then movie id), which the pipeline may rightly recommend
            rated = sorted((t, int(m)) for (u, m, _, t) in tiny_movielens.ratings if u == name)
            seen = {str(m) for _, m in rated[:-1]}
        assert (
            not {r["movie_id"] for r in shown["composite"]} & seen
        ), "seen movies are never recommended"
