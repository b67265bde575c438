"""The README's main job (`recsys demo`) end to end on tiny data."""

from __future__ import annotations

import json

from pipelines import demo
from pipelines.config import load_config
from ranking.config import RankingConfig
from retrieval.config import RetrievalConfig
from tests.conftest import REPO, tiny_ranking_overrides, tiny_retrieval_overrides


def test_demo_trains_exports_serves_and_recommends(tiny_movielens, tfds_cache, tmp_path, capsys):
    retrieval_cfg = load_config(RetrievalConfig, None, tiny_retrieval_overrides(tiny_movielens, tfds_cache, tmp_path))
    ranking_cfg = load_config(
        RankingConfig, None, tiny_ranking_overrides(tiny_movielens, tfds_cache, tmp_path) + [f"run_dir={tmp_path / 'rk'}"]
    )
    result = demo.run(retrieval_cfg, ranking_cfg, str(REPO / "configs" / "serving" / "models.config"),
                      users=["1", "2"], k=3, results_dir=str(tmp_path / "results"))  # fmt: skip
    out = capsys.readouterr().out
    assert "Top 3 for user 1" in out and "new user" in out
    saved = json.loads((tmp_path / "results" / "demo.json").read_text())
    assert saved == json.loads(json.dumps(result))
    for name, shown in saved["recommendations"].items():
        assert len(shown["composite"]) == 3, name
        assert shown["composite"] == [{k: r[k] for k in ("movie_id", "title", "predicted_rating")}
                                      for r in shown["client_side_bruteforce"]]  # fmt: skip
        seen = set()
        if name in ("1", "2"):
            seen = {m for (u, m, _, _) in tiny_movielens.ratings if u == name}
        assert not {r["movie_id"] for r in shown["composite"]} & seen, "seen movies are never recommended"
