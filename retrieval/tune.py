"""`recsys tune-index`: the cheapest ScaNN setting that meets a recall target.

Reads the movie embeddings and held-out (test) query embeddings a training run saved
(`<run_dir>/embeddings.npz`), measures recall@k of ScaNN against exact brute force and
the median per-query latency of the TFRS ScaNN layer for a grid of settings, and writes the
fastest setting whose recall meets the target as a `[retrieval.index]` config file
(usable as a second `--config`), plus the whole grid as JSON and Markdown.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import time

import numpy as np
import tensorflow as tf

from core import plots
from core.reports import write_report
from retrieval.config import IndexConfig
from retrieval.index import build_index

log = logging.getLogger(__name__)

EMBEDDINGS_FILE = "embeddings.npz"


def save_embeddings(
    run_dir: str, movie_ids: np.ndarray, movies: np.ndarray, queries: np.ndarray
) -> str:
    """Saves what tuning needs: movie ids [m], movie embeddings [m, d], query embeddings [n, d]."""
    path = os.path.join(run_dir, EMBEDDINGS_FILE)
    np.savez(path, movie_ids=movie_ids.astype(str), movies=movies, queries=queries)
    return path


def grid(num_movies: int, k: int) -> list[IndexConfig]:
    """Settings around num_leaves = sqrt(num_movies), searching 5 % to 50 % of leaves."""
    root = max(2, int(math.sqrt(num_movies)))
    configs = []
    for leaves in sorted({max(2, root // 2), root, 2 * root}):
        searched = sorted({max(1, round(leaves * f)) for f in (0.05, 0.1, 0.25, 0.5)})
        for to_search, reorder in itertools.product(searched, (0, 2 * k, 4 * k)):
            configs.append(
                IndexConfig(
                    kind="scann",
                    k=k,
                    num_leaves=leaves,
                    num_leaves_to_search=to_search,
                    num_reordering_candidates=reorder,
                )
            )
    return configs


def measure(
    configs: list[IndexConfig], ids, movies, queries, exact: np.ndarray, timed: int, rounds: int
) -> list[dict]:
    """Recall of each setting, and its single-query latency from `rounds` rounds over all
    settings in turn (so a busy moment of the machine hits every setting alike): the median
    of each round's median, with the spread of the rounds."""
    indexes = [build_index(c, ids, movies, kind="scann") for c in configs]
    rows = []
    for config, index in zip(configs, indexes):
        _, found = index(queries)
        recall = np.mean([len(set(a) & set(b)) / config.k for a, b in zip(exact, found.numpy())])
        index(queries[:1])  # trace once before timing
        rows.append(
            {
                "num_leaves": config.num_leaves,
                "num_leaves_to_search": config.num_leaves_to_search,
                "num_reordering_candidates": config.num_reordering_candidates,
                "recall": float(recall),
            }
        )
    medians = np.zeros((rounds, len(indexes)))
    for r in range(rounds):
        for j, index in enumerate(indexes):
            latencies = []
            for i in range(timed):
                started = time.perf_counter()
                index(queries[i : i + 1])
                latencies.append(time.perf_counter() - started)
            medians[r, j] = 1000 * np.median(latencies)
        log.info("timing round %d/%d done", r + 1, rounds)
    for j, row in enumerate(rows):
        row["ms_per_query"] = float(np.median(medians[:, j]))
        row["ms_spread"] = [float(medians[:, j].min()), float(medians[:, j].max())]
    return rows


def tune(
    run_dir: str,
    output: str,
    k: int = 10,
    target: float = 0.95,
    timed_queries: int = 200,
    rounds: int = 5,
) -> dict:
    """Runs the grid; writes `output` (TOML) and `output` with .json/.md/.png; returns the result.

    Raises:
      FileNotFoundError: when the run has no saved embeddings (train first).
    """
    path = os.path.join(run_dir, EMBEDDINGS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} does not exist: run `recsys train retrieval` with run_dir={run_dir} first"
        )
    saved = np.load(path)
    ids, movies, queries = (
        tf.constant(saved["movie_ids"]),
        tf.constant(saved["movies"]),
        tf.constant(saved["queries"]),
    )
    exact = build_index(IndexConfig(kind="brute_force", k=k), ids, movies)(queries)[1].numpy()
    timed = min(timed_queries, int(queries.shape[0]))
    rows = measure(grid(int(movies.shape[0]), k), ids, movies, queries, exact, timed, rounds)
    meeting = [r for r in rows if r["recall"] >= target]
    best = (
        min(meeting, key=lambda r: r["ms_per_query"])
        if meeting
        else max(rows, key=lambda r: r["recall"])
    )
    result = {
        "k": k,
        "target": target,
        "queries": int(queries.shape[0]),
        "timed_queries": timed,
        "rounds": rounds,
        "met": bool(meeting),
        "best": best,
        "grid": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as f:
        f.write(
            f"# Written by `recsys tune-index` (recall@{k} >= {target} against brute force"
            f"{'' if meeting else ': NOT MET, the best recall found'})."
            '\n[retrieval.index]\nkind = "scann"\n'
        )
        for key in ("num_leaves", "num_leaves_to_search", "num_reordering_candidates"):
            f.write(f"{key} = {best[key]}\n")
    stem = os.path.splitext(output)[0]
    write_report(stem, result, to_markdown(result))
    plots.tradeoff_chart(
        stem + ".png", f"ScaNN settings, recall@{k} against brute force", rows, best, target
    )
    return result


def to_markdown(result: dict) -> str:
    lines = [
        f"ScaNN against brute force, {result['queries']} queries, recall@{result['k']}, "
        f"target {result['target']}; ms/query: median of {result.get('rounds', 1)} rounds of "
        f"{result.get('timed_queries', '')} single queries (range over the rounds)",
        "",
        "| leaves | searched | reordered | recall | ms/query | range | chosen |",
        "|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in result["grid"]:
        chosen = "yes" if r is result["best"] or r == result["best"] else ""
        lines.append(
            f"| {r['num_leaves']} | {r['num_leaves_to_search']} "
            f"| {r['num_reordering_candidates']} | "
            f"{r['recall']:.4f} | {r['ms_per_query']:.3f} | "
            f"{'–'.join(f'{x:.3f}' for x in r.get('ms_spread', []))} | {chosen} |"
        )
    return "\n".join(lines) + "\n"
