"""The README's main job (`recsys demo`) end to end on tiny data."""

from __future__ import annotations

import json

import numpy as np

from pipelines import demo
from tests.conftest import REPO, tiny_config


def test_demo_trains_exports_serves_and_recommends(tiny_movielens, tfds_cache, tmp_path, capsys):
    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    demo.run(
        cfg,
        str(REPO / "configs" / "serving" / "models.config"),
        users=["1", "2"],
        results_dir=str(tmp_path / "results"),
    )
    out = capsys.readouterr().out
    assert "Top 3 for user 1" in out and "new user" in out and "Because you watched" in out
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
            seen = {m for (u, m, _, _) in tiny_movielens.ratings if u == name}
        assert (
            not {r["movie_id"] for r in shown["composite"]} & seen
        ), "seen movies are never recommended"
