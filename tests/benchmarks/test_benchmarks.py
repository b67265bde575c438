"""The benchmark runners end to end on tiny data: every model measured, every file written."""

from __future__ import annotations

import json

from tests.conftest import tiny_config


def test_retrieval_benchmark_measures_every_model_on_both_splits(
    tiny_movielens, tfds_cache, tmp_path
):
    from benchmarks import retrieval_quality

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    retrieval_quality.run(cfg, str(tmp_path / "results"))

    result = json.load(open(tmp_path / "results" / "retrieval.json"))
    assert set(result["metrics"]) == {"two-tower", "popularity", "tfrs-tutorial"}
    for rows in result["metrics"].values():
        assert (
            rows["random"]["queries"] > 0 and rows["temporal"]["queries"] == 12
        )  # one test rating per user
    assert result["index"]["ks"] == [10]  # 20 movies: no recall@100
    # both leaves searched: far above a random top-10 of 20 movies (0.5 expected overlap)
    assert result["index"]["scann_recall@10"] > 0.8
    assert set(result["targets"]) == {
        "top100_vs_tutorial",
        "recall10_vs_popularity",
        "scann_recall@10",
    }
    assert "| tfrs-tutorial |" in (tmp_path / "results" / "retrieval.md").read_text()
    assert (tmp_path / "results" / "retrieval.png").read_bytes().startswith(b"\x89PNG")


def test_ranking_benchmark_measures_ours_against_every_peer(tiny_movielens, tfds_cache, tmp_path):
    from benchmarks import ranking_quality

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    result = ranking_quality.run(cfg, str(tmp_path / "results"))

    peers = {"matrix-factorisation", "user+item-bias", "global-mean", "tfrs-tutorial"}
    halves = {"dcn-ranking", "i-autorec"}  # ours alone, each side of the blend
    assert result["ours"] == "dcn+autorec"
    assert set(result["metrics"]) == {"dcn+autorec"} | halves | peers
    test_ratings = {r["ratings"] for r in result["metrics"].values()}
    assert len(test_ratings) == 1  # every model predicts the same test ratings
    best_peer = min(result["metrics"][p]["rmse"] for p in peers | halves)
    assert result["targets"]["below_every_peer"]["best_peer"] == round(best_peer, 4)
    assert json.load(open(tmp_path / "results" / "ranking.json"))["targets"] == result["targets"]
    assert (tmp_path / "results" / "ranking.png").read_bytes().startswith(b"\x89PNG")


def test_serving_benchmark_times_every_path_over_grpc(models_dir, tmp_path):
    from benchmarks import serving_latency
    from tests.conftest import MODELS_CONFIG

    result = serving_latency.run(MODELS_CONFIG, str(models_dir), str(tmp_path), users=5, k=3)

    assert result["users"] == 5
    assert [name.split(" (")[0] for name in result["paths"]] == [
        "retrieval",
        "retrieval_bruteforce",
        "ranking",
        "two-stage, client-side",
        "two-stage, composite",
    ]
    for row in result["paths"].values():  # one request at a time: throughput is 1 / mean latency
        assert abs(row["requests_per_second"] * row["mean_ms"] / 1000 - 1) < 0.01
    assert "| two-stage, composite |" in (tmp_path / "serving.md").read_text()
    assert (tmp_path / "serving.png").read_bytes().startswith(b"\x89PNG")
