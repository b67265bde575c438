"""The benchmark runners end to end on tiny data: every model measured, every file written."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from tests.conftest import tiny_config, tiny_overrides


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
        "similar_movies",
        "similar_movies",
        "two-stage, client-side",
        "two-stage, composite",
    ]
    for row in result["paths"].values():  # one request at a time: throughput is 1 / mean latency
        assert abs(row["requests_per_second"] * row["mean_ms"] / 1000 - 1) < 0.01
    assert "| two-stage, composite |" in (tmp_path / "serving.md").read_text()
    assert (tmp_path / "serving.png").read_bytes().startswith(b"\x89PNG")


def test_recommend_benchmark_measures_the_exported_pipeline_against_every_peer(
    trained, tiny_movielens, tmp_path
):
    """Over the session's `recsys train all` export (the benchmark's training is that job)."""
    from benchmarks import recommend_quality
    from tests.conftest import MODELS_CONFIG

    cfg, _ = trained
    result = recommend_quality.run(
        cfg, str(tmp_path / "results"), train=False, model_config=MODELS_CONFIG
    )

    assert result["users"] == 12  # one test rating per user
    assert set(result["metrics"]) == {
        "two-stage (ours)",
        "retrieval alone",
        "rating-ordered ranking",
        "popularity",
        "item-to-item (5 newest)",
        "adjacency (newest movie)",
    }
    for name, row in result["metrics"].items():  # one test movie per user: a share of 12
        assert abs(row["hr@10"] * 12 - round(row["hr@10"] * 12)) < 1e-9, name
    # popularity, computed here from the generated records: counts of every user's earlier
    # ratings, each user's unseen movies by count (ties: lower id), the last rating is the test
    by_user = {}
    for user, movie, _, time in tiny_movielens.ratings:
        by_user.setdefault(user, []).append((time, int(movie)))
    histories = {u: [m for _, m in sorted(r)] for u, r in by_user.items()}
    counts = {}
    for movies in histories.values():
        for m in movies[:-1]:
            counts[m] = counts.get(m, 0) + 1
    catalogue = sorted(int(m) for m in tiny_movielens.movies)
    hits = 0
    for movies in histories.values():
        unseen = [m for m in catalogue if m not in movies[:-1]]
        top = sorted(unseen, key=lambda m: (-counts.get(m, 0), m))[:10]
        hits += movies[-1] in top
    assert result["metrics"]["popularity"]["hr@10"] == hits / 12
    low, high = result["targets"]["hr@10 vs retrieval alone"]["interval_95"]
    assert low <= high
    assert result["grpc"]["same_top_k"] == result["grpc"]["users"] == 12
    assert sum(group["users"] for group in result["by_second"].values()) == 12
    assert "| two-stage (ours) |" in (tmp_path / "results" / "recommend.md").read_text()
    assert (tmp_path / "results" / "recommend.png").read_bytes().startswith(b"\x89PNG")


def test_ratio_interval_resamples_users_with_both_lists_kept_together():
    from benchmarks.recommend_quality import ratio_interval

    alone = np.arange(100) < 30  # 30 of 100 users hit
    # the same hits: every resample has equal sums (an unpaired bootstrap would spread)
    assert ratio_interval(alone.copy(), alone, seed=0) == (1.0, 1.0)
    ours = np.arange(100) < 45  # retrieval's 30 hits and 15 more: never below 1
    low, high = ratio_interval(ours, alone, seed=0)
    assert 1.0 <= low < 1.5 < high
    none = np.zeros(100, bool)
    assert ratio_interval(none, none, seed=0) == (1.0, 1.0)  # 0 / 0 counts as equal
    # [seeds, users]: one seed is the 1-D case; over seeds each user's hits are summed first
    assert ratio_interval(ours[None], alone[None], seed=0) == (low, high)
    swapped = np.stack([np.arange(100) < 30, (np.arange(100) >= 30) & (np.arange(100) < 60)])
    assert ratio_interval(swapped, swapped[::-1], seed=0) == (1.0, 1.0)


def test_by_second_compares_the_lists_on_tied_and_untied_test_ratings():
    from benchmarks.recommend_quality import OWN_SECOND, SHARES_SECOND, by_second, shares_second

    users = np.array(["1", "1", "2", "2", "3", "4", "4"], dtype=object)
    known = {"user_id": users, "timestamp": np.array([10, 20, 5, 7, 3, 1, 8])}
    test = {
        "user_id": np.array(["1", "2", "3", "4"], dtype=object),
        "timestamp": np.array([20, 9, 3, 9]),
    }
    # user 1's test shares its second with their newest rating (20), not their first (10)
    tied = shares_second(known, test)
    assert tied.tolist() == [True, False, True, False]

    tied = np.array([True, True, False, False, False, False])
    hits = {
        "two-stage (ours)": np.array([True, False, True, True, True, True]),
        "retrieval alone": np.array([True, False, True, True, True, False]),
    }
    # the two tied users: the same hit (user 0) in both lists, so every resample gives 1.0;
    # the four others: 4 hits against 3
    groups = by_second(hits, tied, seed=0)
    assert groups[SHARES_SECOND] == {
        "users": 2,
        "hr@10": {"two-stage (ours)": 0.5, "retrieval alone": 0.5},
        "ratio": 1.0,
        "interval_95": [1.0, 1.0],
    }
    own = groups[OWN_SECOND]
    assert (own["users"], own["ratio"]) == (4, 1.333)
    assert own["hr@10"] == {"two-stage (ours)": 1.0, "retrieval alone": 0.75}
    assert 1.0 <= own["interval_95"][0] < 1.333 < own["interval_95"][1]
    assert list(by_second(hits, np.zeros(6, bool), seed=0)) == [OWN_SECOND]  # no empty group


def test_absolute_targets_are_judged_on_movielens_100k_only():
    from benchmarks.recommend_quality import _targets

    rows = {
        "two-stage (ours)": {"hr@10": 0.21, "ndcg@10": 0.09},
        "retrieval alone": {"hr@10": 0.14, "ndcg@10": 0.07},
    }
    on_100k = _targets(rows, "movielens-100k", (1.2, 1.8))
    assert on_100k["hr@10"]["met"] and not on_100k["ndcg@10"]["met"]
    assert on_100k["hr@10 vs retrieval alone"] == {
        "value": 1.5,
        "target": 1.2,
        "met": True,
        "interval_95": [1.2, 1.8],
    }
    elsewhere = _targets(rows, "movielens-latest-small", (1.2, 1.8))
    assert list(elsewhere) == ["hr@10 vs retrieval alone"]


def test_load_and_soak_benchmarks_against_a_server_process(models_dir, tmp_path):
    from benchmarks import serving_load, serving_soak
    from tests.conftest import MODELS_CONFIG

    batching = str(pathlib.Path(MODELS_CONFIG).with_name("batching.config"))
    load = serving_load.run(
        MODELS_CONFIG,
        str(models_dir),
        str(tmp_path),
        batching,
        seconds=1,
        levels=(1, 4),
        settings=("batching on",),  # the off server is the same code without the flag
    )
    assert set(load["settings"]) == {"batching on"}
    for rows in load["settings"].values():
        assert set(rows) == {"gRPC/1", "gRPC/4", "REST/1", "REST/4"}
        assert all(r["requests"] > 0 and r["failures"] == 0 for r in rows.values())
    assert (tmp_path / "load.png").read_bytes().startswith(b"\x89PNG")
    soak = serving_soak.run(MODELS_CONFIG, str(models_dir), str(tmp_path), seconds=2, threads=2)
    assert soak["failures"] == 0 and soak["still_serving"] and soak["requests"] >= 9
    assert soak["server_rss"]["start_mb"] > 0
    assert "| 10 MB string |" in (tmp_path / "soak.md").read_text()


def test_million_index_benchmark_on_a_small_catalogue(tiny_movielens, tfds_cache, tmp_path):
    """The same code path as `recsys benchmark index --movies 1000000`, at 3,000 movies."""
    from benchmarks import million_index
    from serving import contract
    from tests.conftest import tiny_config

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    out = tmp_path / "results"
    result = million_index.run(cfg, str(out), movies=3000, target=0.9)
    assert result["movies"] == 3000 and result["grid"]
    exact, scann = (
        result["models"][contract.RETRIEVAL_BRUTEFORCE],
        result["models"][contract.RETRIEVAL],
    )
    assert exact["recall@100"] == 1.0  # the brute-force twin through the server is exact
    # Served ScaNN finds most of the exact top 100 (chance: 100 of 3,000); its partitions are
    # built anew at export, so its recall differs a little from the tuning run's.
    assert scann["recall@100"] > 0.5 and result["chosen"]["recall"] > 0.5
    for m in (exact, scann):
        assert m["size_mb"] > 0 and m["load_seconds"] > 0 and 0 < m["p50_ms"] <= m["p99_ms"]
        assert 0 < m["in_process_p50_ms"] <= m["in_process_p99_ms"]
    for suffix in ("json", "md", "png"):
        assert (out / f"index-million.{suffix}").stat().st_size > 0


def test_scale_benchmark_runs_every_stage_with_the_large_config(
    tiny_movielens, tfds_cache, tmp_path
):
    """The same code path as 20M (configs/large.toml: LazyAdam, per-lookup L2, big batches),
    at 20,000 synthetic ratings, with the tiny models of the other tests (the benchmark sets
    its own data, folders, epochs and, through the config, batch sizes)."""
    from benchmarks import scale

    small_models = [
        f"--set={o}"
        for o in tiny_overrides(tiny_movielens, tfds_cache, tmp_path)
        if not o.startswith(("data.", "run_dir", "export_dir"))
        and not any(key in o for key in ("epochs=", "batch_size="))
    ]
    result = scale.run(str(tmp_path), [20_000], str(tmp_path / "work"), small_models)

    size = result["sizes"]["20000"]
    assert size["exit_code"] == 0
    assert [s["stage"].split(":")[0] for s in size["stages"]] == [
        "synthesize",
        "load (Arrow CSV reader)",
        "split",
        "history",
        "vocabularies",
        "retrieval",
        "ranking",
    ]
    models = tmp_path / "work" / "scale-20000" / "models"
    assert {p.name for p in models.iterdir()} >= {"retrieval", "retrieval_bruteforce", "ranking"}
    config = json.load(open(tmp_path / "work" / "scale-20000" / "runs" / "ranking" / "config.json"))
    assert config["ranking"]["model"]["l2_per_lookup"] is True
    assert config["ranking"]["trainer"]["optimizer"] == "lazy_adam"
    assert "| ranking: 1 epoch per model" in (tmp_path / "scale.md").read_text()
    assert (tmp_path / "scale.png").read_bytes().startswith(b"\x89PNG")


def test_scale_flags_a_stage_whose_time_per_rating_grew_past_the_limit():
    from benchmarks import scale

    def size(load, train):
        stages = [{"stage": "load", "seconds": load}, {"stage": "train", "seconds": train}]
        return {"stages": stages}

    # 10x the ratings: load 10x the time (linear), train 20x (2x per rating)
    results = {"1000": size(1.0, 2.0), "10000": size(10.0, 40.0)}
    assert scale.superlinear(results) == ["train"]
    results["10000"] = size(10.0, 29.0)  # 1.45x per rating: within the limit
    assert scale.superlinear(results) == []


def test_scale_repeats_keep_each_stages_median_and_largest_peak():
    from benchmarks import scale

    def run(load, peak, code=0, stages=("load", "split")):
        found = [{"stage": n, "seconds": load, "peak_mb": peak} for n in stages]
        return {"stages": found, "seconds": load * 2, "exit_code": code}

    runs = [run(4.4, 900), run(1.5, 1000), run(2.1, 950, code=1, stages=("load",))]
    median = scale._median_run(runs)
    load, split = median["stages"]
    assert (load["stage"], load["seconds"], load["peak_mb"]) == ("load", 2.1, 1000)
    assert load["runs"] == [1.5, 2.1, 4.4]
    assert (split["seconds"], split["runs"]) == (4.4, [1.5, 4.4])  # the upper of two
    assert median["seconds"] == 4.2 and median["exit_code"] == 1


def test_recommend_over_seeds_reports_each_seed_and_the_spread(tmp_path, monkeypatch):
    """The aggregation of `recsys benchmark recommend --seeds`: each seed's run (here a
    stand-in that answers by seed, 100 users) is trained with that `data.seed`; mean and
    sample sd; the ratio pooled over the seeds' hits, with its interval over the users."""
    from benchmarks import recommend_quality
    from benchmarks.recommend_quality import OWN_SECOND, SHARES_SECOND
    from pipelines.config import PipelineConfig

    hit_rates = {1: (0.20, 0.16), 2: (0.18, 0.16), 3: (0.22, 0.20)}  # seed: (ours, alone)

    def one_run(cfg, output_dir, grpc_pass):
        assert not grpc_pass and output_dir != str(tmp_path)
        ours, alone = hit_rates[cfg.data.seed]
        return {
            "users": 100,
            "metrics": {
                "two-stage (ours)": {"hr@10": ours, "ndcg@10": ours / 2},
                "retrieval alone": {"hr@10": alone, "ndcg@10": alone / 2},
            },
            # the first 100 * hr@10 users hit: retrieval's hits are a subset of ours
            "users_hit": {
                "two-stage (ours)": list(range(round(ours * 100))),
                "retrieval alone": list(range(round(alone * 100))),
            },
            "users_sharing_second": list(range(10)),
        }

    monkeypatch.setattr(recommend_quality, "run", one_run)
    result = recommend_quality.run_seeds(PipelineConfig(), str(tmp_path), [1, 2, 3])
    assert result["seeds"]["2"]["ratio"] == pytest.approx(0.18 / 0.16)
    assert result["spread"]["two-stage hr@10"] == {"mean": 0.2, "sd": 0.02}
    assert result["spread"]["retrieval hr@10"]["sd"] == pytest.approx(0.0231, abs=1e-4)
    table = (tmp_path / "recommend-seeds.md").read_text()
    assert "| 3 | 0.2200 | 0.1100 | 0.2000 | 0.1000 | 1.1000 |" in table
    assert "0.2000 ± 0.0200" in table
    # users 0-9, hit by both lists at every seed; the other 90: ours 10 + 8 + 12 of 270 hits,
    # retrieval's 6 + 6 + 10
    tied, own = (result["by_second"][g] for g in (SHARES_SECOND, OWN_SECOND))
    assert tied == {
        "users": 10,
        "hr@10": {"two-stage (ours)": 1.0, "retrieval alone": 1.0},
        "ratio": 1.0,
        "interval_95": [1.0, 1.0],
    }
    assert own["users"] == 90 and own["ratio"] == round(30 / 22, 3)
    assert own["hr@10"] == {"two-stage (ours)": round(30 / 270, 4), "retrieval alone": 0.0815}
    low, high = own["interval_95"]
    assert 1.0 <= low < 1.364 < high  # retrieval's hits are a subset of ours in every seed
    assert f"| {OWN_SECOND} (90) | 0.1111 | 0.0815 | 1.364 | {low}-{high} |" in table
    pooled = result["pooled ratio"]
    assert pooled["value"] == round(60 / 52, 3) and not pooled["met"]
    low, high = pooled["interval_95"]
    assert 1.0 <= low < pooled["value"] < high
    assert f"against retrieval alone: {pooled['value']}, 95 % interval {low}-{high}" in table


def test_signals_benchmark_fuses_every_family_with_the_scorer(tiny_movielens, tfds_cache, tmp_path):
    from benchmarks import ranker_signals

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    result = ranker_signals.run(cfg, str(tmp_path / "results"))

    rows = result["rows"]
    assert set(rows) == {
        "retrieval order",
        "scorer",
        "scorer, another seed",
        "retrieval, another seed",
        "EASE, whole profile",
        "user-kNN (50 users)",
        "retrieval-space cosine to the newest movie",
        "mean rating",
        "demographic lift",
        "next-movie model (SASRec-style)",
        "scorer on the lists of a quarter of the users",
        "scorer on the lists of half of the users",
        ranker_signals.EVERY_FAMILY,
    }
    held, users = result["lists"]["test"]
    every = rows.pop(ranker_signals.EVERY_FAMILY)
    assert set(every["chosen"]) <= set(rows) and every["fused_test_hr@10"] <= held / 12
    not_fused = {"retrieval order", "scorer", *(n for n in rows if n.startswith("scorer on"))}
    assert users == 12 and held <= users
    for name, row in rows.items():  # a share of the 12 test users (4 decimals), at most held
        assert abs(row["test_hr@10"] * 12 - round(row["test_hr@10"] * 12)) < 12 * 5e-5, name
        assert row["test_hr@10"] <= held / 12
        if name in not_fused:
            assert "weight" not in row, name
        else:
            assert row["weight"] in ranker_signals.WEIGHTS
    markdown = (tmp_path / "results" / "signals.md").read_text()
    assert "| EASE, whole profile |" in markdown and "Every family at once: " in markdown
    assert (tmp_path / "results" / "signals.png").read_bytes().startswith(b"\x89PNG")


def test_mean_rating_and_demographic_lift_read_the_ratings_before_the_queries():
    from types import SimpleNamespace

    from benchmarks import ranker_signals
    from core import features as F
    from core.columns import Gathered
    from ranking.candidates import CandidateLists

    ids = np.array(["a", "b", "c"], dtype=object)
    prepared = SimpleNamespace(
        catalogue={F.MOVIE_ID.name: ids},
        catalogue_rows=lambda m: np.array([{"a": 0, "b": 1, "c": 2}[x] for x in m]),
    )
    train = {  # women rate a (5, 5), men rate b (1)
        F.MOVIE_ID.name: np.array(["a", "a", "b"], dtype=object),
        F.USER_RATING.name: np.array([5.0, 5.0, 1.0]),
        F.USER_GENDER.name: np.array([False, False, True]),
        F.BUCKETIZED_USER_AGE.name: np.array([25.0, 25.0, 25.0], np.float32),
        F.USER_OCCUPATION_TEXT.name: np.array(["x", "x", "x"], dtype=object),
    }
    validation = {**train, F.USER_RATING.name: np.array([1.0, 1.0, 1.0])}
    queries = {  # a woman, a man, and an age bucket nobody rated in
        F.USER_GENDER.name: np.array([False, True, False]),
        F.BUCKETIZED_USER_AGE.name: np.array([25.0, 25.0, 45.0], np.float32),
        F.USER_OCCUPATION_TEXT.name: np.array(["x", "x", "x"], dtype=object),
    }
    lists = CandidateLists(queries, Gathered(np.tile([0, 1, 2], (3, 1)), ids), None, None, 3)
    both = {"validation": lists, "test": lists}
    known = {"validation": [train], "test": [train, validation]}

    mean = ranker_signals.mean_rating(prepared, both, known)
    prior = ranker_signals.RATING_PRIOR
    assert np.allclose(
        mean["validation"][0],
        [(10 + prior * 11 / 3) / (2 + prior), (1 + prior * 11 / 3) / (1 + prior), 11 / 3],
    )
    assert np.allclose(mean["test"][0][2], 14 / 6)  # test reads validation's ratings too

    lift = ranker_signals.demographic_lift(prepared, both, known)["validation"]
    share = lambda counts: np.log((np.array(counts) + 1.0) / (sum(counts) + 3))  # noqa: E731
    overall = share([2, 1, 0])
    # gender, age bucket and occupation: the age and occupation groups are everyone
    assert np.allclose(lift[0], share([2, 0, 0]) - overall)
    assert np.allclose(lift[1], share([0, 1, 0]) - overall)
    assert np.allclose(lift[2], share([2, 0, 0]) - overall)  # an unseen age bucket adds 0
    assert lift[0, 0] > 0 > lift[1, 0] and lift[1, 1] > 0 > lift[0, 1]


def test_every_family_at_once_adds_only_families_that_lift_validation():
    from types import SimpleNamespace

    from benchmarks import ranker_signals

    order = -np.arange(20.0)  # the scorer ranks candidate i at i
    scorer = np.tile(order, (4, 1))
    lists = SimpleNamespace(positive=np.full(4, 12), num_queries=4)  # scorer alone: all miss
    at_positive = np.zeros((4, 20))
    at_positive[:, 12] = 1.0
    families = {
        "helps": at_positive,
        "misleads": -at_positive,  # puts the user's movie last
        "says nothing": np.zeros((4, 20)),
    }
    both = dict.fromkeys(ranker_signals.PARTS, lists)
    per_part = lambda x: dict.fromkeys(ranker_signals.PARTS, x)  # noqa: E731

    row = ranker_signals.every_family(
        per_part(scorer), {n: per_part(f) for n, f in families.items()}, both
    )

    # z-scores: the user's movie gets (12 - 9.5) / -5.77 from the scorer and 4.36 w from
    # "helps"; from w = 0.2 it is in the top 10, from w = 1 first; nothing lifts it further
    assert row["chosen"] == {"helps": 1.0}
    assert row["fused_validation_hr@10"] == row["fused_test_hr@10"] == 1.0
    assert row["fused_test_ndcg@10"] == 1.0

    nothing = ranker_signals.every_family(
        per_part(scorer), {"misleads": per_part(-at_positive)}, both
    )
    assert nothing["chosen"] == {} and nothing["fused_test_hr@10"] == 0.0


def test_next_movie_model_learns_which_movie_follows_the_newest_one():
    from types import SimpleNamespace

    from benchmarks import ranker_signals
    from core import features as F
    from core.columns import Gathered
    from ranking.candidates import CandidateLists

    ids = np.array([f"m{i}" for i in range(40)], dtype=object)
    index = {m: i for i, m in enumerate(ids)}
    rng = np.random.default_rng(0)

    def part(count):  # movie k is always followed by movie k + 1 (mod 40); 2 random older
        newest = rng.integers(0, 40, count)
        history = ids[np.column_stack([newest, rng.integers(0, 40, (count, 2))])]
        history[: count // 4, 1:] = F.PAD  # some histories of one movie
        return {F.MOVIE_ID.name: ids[(newest + 1) % 40], F.RECENT_MOVIE_IDS.name: history}

    prepared = SimpleNamespace(
        catalogue={F.MOVIE_ID.name: ids},
        catalogue_rows=lambda m: np.array([index[x] for x in m], dtype=np.int64),
        parts={"train": part(2000), "validation": part(200)},
    )
    queries = {F.RECENT_MOVIE_IDS.name: ids[[[2, 30, 7], [39, 3, 0]]]}
    lists = CandidateLists(queries, Gathered(np.tile(np.arange(40), (2, 1)), ids), None, None, 2)
    config = ranker_signals.NextMovieConfig(  # stops at the first epoch with HR@1 at its best
        history=3, dim=16, blocks=1, batch_size=64, monitor_k=1
    )
    logits = ranker_signals.next_movie(prepared, {"validation": lists, "test": lists}, 0, config)
    assert logits["test"].shape == (2, 40)
    assert logits["test"].argmax(axis=1).tolist() == [3, 0]  # after m2: m3; after m39: m0


def test_signal_metrics_count_ties_against_the_users_movie_and_pick_the_weight_on_validation():
    from benchmarks import ranker_signals
    from ranking.candidates import CandidateLists

    def lists(positive, num_queries):
        return CandidateLists(None, None, None, np.array(positive), num_queries)

    scores = np.zeros((2, 12))
    scores[0, :11] = np.arange(11, 0, -1)  # list 0: the movie at position 10 ranks 11th
    scores[1, 3] = 5.0  # list 1: the user's movie (position 3) first, the rest tied
    hr, ndcg = ranker_signals.list_metrics(scores, lists([10, 3], 4))
    assert hr == 1 / 4 and ndcg == 1 / 4  # one hit at rank 1 over 4 users
    tied = np.zeros((1, 12))
    assert ranker_signals.list_metrics(tied, lists([0], 1)) == (0.0, 0.0)  # 12-way tie: 12th

    # 30 candidates, the user's movie last by the scorer and alone flagged by the family:
    # the fused z-scores lift it into the top 10 from weight 0.42 on, so 0.5 is chosen
    scorer = {p: np.arange(30, 0, -1, dtype=float)[None] for p in ("validation", "test")}
    family = {p: np.eye(30)[[29]] * 100 for p in ("validation", "test")}
    both = {p: lists([29], 1) for p in ("validation", "test")}
    out = ranker_signals.fused(scorer, family, both)
    assert out["weight"] == 0.5
    assert out["fused_validation_hr@10"] == out["fused_test_hr@10"] == 1.0
