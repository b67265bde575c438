"""`recsys benchmark retrieval`: our two-tower model against its peers, one table.

For each split (random, temporal) the same prepared data trains and evaluates:
  * two-tower: this project's model (configs/retrieval.toml), early-stopped on validation;
  * popularity: rating counts over train + validation;
  * tfrs-tutorial: the TFRS basic-retrieval tutorial model, on train + validation
    (the tutorial's 80 % of the data; ours trains on 72 % and early-stops on 8 %).
Then the ScaNN index of the temporal model is compared with brute force on the test
queries: recall@10 and @100, per-query latency and batched throughput of both.
Writes retrieval.json, retrieval.md and retrieval.png into the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import numpy as np
import tensorflow as tf

from core import features as F
from core import plots
from core.config import to_dict
from core.reports import write_report
from pipelines.config import PipelineConfig
from pipelines.jobs import start_run
from retrieval import baselines, evaluate
from retrieval.index import build_index
from retrieval.train import catalogue_embeddings, query_embeddings, scorer, train

log = logging.getLogger(__name__)


def run(cfg: PipelineConfig, output_dir: str) -> dict:
    """Runs the benchmark; returns what it writes to `<output_dir>/retrieval.json`."""
    os.makedirs(output_dir, exist_ok=True)
    rows: dict[str, dict] = {"two-tower": {}, "popularity": {}, "tfrs-tutorial": {}}
    seconds: dict[str, dict] = {name: {} for name in rows}
    index_report = {}
    for split in ("random", "temporal"):
        split_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split=split))
        measured, model, movies, prepared = _measure_split(split_cfg)
        for name, (metrics, took) in measured.items():
            rows[name][split], seconds[name][split] = metrics, took
        if split == "temporal":
            index_report = index_recall(model, movies, prepared, cfg.retrieval)
    result = {
        "config": to_dict(cfg),
        "metrics": rows,
        "train_seconds": seconds,
        "index": index_report,
        "targets": targets(rows, index_report),
    }
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "retrieval"), result, markdown)
    plots.bar_chart(
        os.path.join(output_dir, "retrieval.png"),
        "Retrieval on MovieLens 100K (same splits, same run)",
        {
            "top-100 accuracy\n(random split)": {
                m: r["random"]["top_k_accuracy"]["100"] for m, r in rows.items()
            },
            "Recall@10\n(temporal)": {m: r["temporal"]["recall"]["10"] for m, r in rows.items()},
            "Recall@100\n(temporal)": {m: r["temporal"]["recall"]["100"] for m, r in rows.items()},
            "sampled HR@10\n(temporal, 99 negatives)": {
                m: r["temporal"]["sampled_hr@10"] for m, r in rows.items()
            },
        },
        "fraction of test users",
    )
    print(markdown, end="")
    return result


def _measure_split(cfg: PipelineConfig):
    """Trains and evaluates every model on one split.

    Returns:
      ({model: (test metrics, train seconds)}, our model, its movie embeddings, the data).
    """
    run = start_run(cfg, f"benchmark-retrieval-{cfg.data.split}")
    prepared = run.prepared
    known = {
        k: np.concatenate([prepared.parts["train"][k], prepared.parts["validation"][k]])
        for k in (F.USER_ID.name, F.MOVIE_ID.name, F.MOVIE_TITLE.name)
    }
    measured = {}
    started = time.time()
    model = train(cfg.retrieval, prepared, run.vocab_files, cfg.data.seed)
    movies = catalogue_embeddings(model, prepared.catalogue)
    scorers = {"two-tower": (scorer(model, movies), time.time() - started)}
    scorers["popularity"] = (baselines.popularity_scorer(known, prepared.catalogue), 0.0)
    started = time.time()
    tutorial = baselines.train_tutorial_model(
        known, prepared.movielens.ratings, prepared.catalogue, cfg.data.seed
    )
    scorers["tfrs-tutorial"] = (tutorial, time.time() - started)
    for name, (score, took) in scorers.items():
        metrics = evaluate.evaluate(score, prepared, "test", seed=cfg.data.seed)
        measured[name] = (metrics, round(took, 1))
        log.info("%s on %s split: %s", name, cfg.data.split, json.dumps(metrics))
    return measured, model, movies, prepared


def index_recall(
    model, movie_embeddings, prepared, cfg, ks=(10, 100), timed_queries: int = 200
) -> dict:
    """ScaNN (cfg.index) against brute force on the test queries: recall@k, the median latency
    of one query, and the throughput of all queries in one batch (queries per second)."""
    ids = tf.constant(prepared.catalogue[F.MOVIE_ID.name].astype(str).tolist())
    movies = tf.constant(movie_embeddings)
    queries = tf.constant(query_embeddings(model, prepared.parts["test"]))
    ks = [k for k in ks if k <= int(movies.shape[0])]  # a tiny catalogue has fewer than 100 movies
    report = {"queries": int(queries.shape[0]), "index": to_dict(cfg.index), "ks": ks}
    for k in ks:
        index_cfg = dataclasses.replace(cfg.index, k=k)
        found = {}
        for kind in ("brute_force", "scann"):
            index = build_index(index_cfg, ids, movies, kind=kind)
            _, found[kind] = index(queries)
            index(queries[:1])  # warm up
            latencies = []
            for i in range(min(timed_queries, int(queries.shape[0]))):
                started = time.perf_counter()
                index(queries[i : i + 1])
                latencies.append(time.perf_counter() - started)
            report[f"{kind}_ms_per_query@{k}"] = round(1000 * float(np.median(latencies)), 3)
            started = time.perf_counter()
            index(queries)
            report[f"{kind}_batch_qps@{k}"] = round(
                int(queries.shape[0]) / (time.perf_counter() - started)
            )
        exact, approximate = found["brute_force"].numpy(), found["scann"].numpy()
        report[f"scann_recall@{k}"] = float(
            np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, approximate)])
        )
    return report


def targets(rows: dict, index_report: dict) -> dict:
    """The issue's targets, measured: ratios against the peers and ScaNN's recall."""
    ours, tutorial, popular = rows["two-tower"], rows["tfrs-tutorial"], rows["popularity"]
    top100 = ours["random"]["top_k_accuracy"]["100"] / tutorial["random"]["top_k_accuracy"]["100"]
    recall10 = ours["temporal"]["recall"]["10"] / popular["temporal"]["recall"]["10"]
    scann = index_report.get("scann_recall@10", float("nan"))
    return {
        "top100_vs_tutorial": {"ratio": round(top100, 3), "target": 1.5, "met": top100 >= 1.5},
        "recall10_vs_popularity": {
            "ratio": round(recall10, 3),
            "target": 2.0,
            "met": recall10 >= 2.0,
        },
        "scann_recall@10": {"value": round(scann, 4), "target": 0.95, "met": scann >= 0.95},
    }


def to_markdown(result: dict) -> str:
    lines = [
        "# Retrieval benchmark (MovieLens 100K)",
        "",
        evaluate.to_markdown(result["metrics"]),
        "",
    ]
    lines += ["| model | train seconds (random) | train seconds (temporal) |", "|---|---:|---:|"]
    for model, s in result["train_seconds"].items():
        lines.append(f"| {model} | {s.get('random', '')} | {s.get('temporal', '')} |")
    idx = result["index"]
    if idx:
        lines += [
            "",
            f"Index against brute force ({idx['queries']} temporal test queries through the TFRS "
            "layers: "
            "median latency of one query, and queries per second when all are sent as one batch):",
            "",
            "| k | ScaNN recall@k | ScaNN ms | brute force ms | ScaNN batch QPS "
            "| brute force batch QPS |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for k in idx["ks"]:
            lines.append(
                f"| {k} | {idx[f'scann_recall@{k}']:.4f} | {idx[f'scann_ms_per_query@{k}']} | "
                f"{idx[f'brute_force_ms_per_query@{k}']} | {idx[f'scann_batch_qps@{k}']} | "
                f"{idx[f'brute_force_batch_qps@{k}']} |"
            )
    lines += ["", "| goal | measured | target | met |", "|---|---:|---:|:---:|"]
    for name, t in result["targets"].items():
        value = t.get("ratio", t.get("value"))
        lines.append(f"| {name} | {value} | {t['target']} | {'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"
