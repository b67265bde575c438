"""A million-movie index: ScaNN against its exact brute-force twin, in one run.

    recsys benchmark index --movies 1000000

Trains the retrieval model on MovieLens's temporal split (so the queries are real users'
query-tower embeddings), then grows the catalogue to `--movies` with synthetic movies drawn
around the real ones (each a real movie's vector plus Gaussian noise of a third of the
catalogue's spread per dimension, so the index sees the real vectors' geometry). Then:

1. tunes ScaNN: builds a searcher per number of leaves and, for each searched-leaves and
   reordering setting, measures recall@100 against exact brute force over the test queries
   and the median single-query latency; the cheapest setting with recall >= the target wins;
2. exports the retrieval SavedModel with that ScaNN index and its brute-force twin (the
   project's own export code), and records each one's size on disk and load time;
3. serves both from the local gRPC server (`recsys serve`, in a process of its own) and
   times single queries through it (p50/p99).

Writes `index-million.{json,md,png}`.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from benchmarks import server_process
from core import features as F
from core import plots
from core.reports import write_report
from pipelines import jobs
from pipelines.config import PipelineConfig
from retrieval import export as retrieval_export
from retrieval import train as retrieval_train
from retrieval.config import IndexConfig
from serving import contract

K = 100
NOISE = 1 / 3  # synthetic movie = real movie + N(0, (NOISE * spread per dimension)^2)


def synthetic_catalogue(ids: np.ndarray, vectors: np.ndarray, size: int, seed: int = 0):
    """(ids, vectors) of `size` movies: the real ones first, then synthetic ones around them."""
    rng = np.random.default_rng(seed)
    extra = size - len(ids)
    if extra < 0:
        raise ValueError(f"--movies {size} is fewer than the {len(ids)} real movies")
    around = rng.integers(0, len(ids), extra)
    spread = vectors.std(axis=0, keepdims=True)
    noise = rng.standard_normal((extra, vectors.shape[1]), dtype=np.float32) * NOISE * spread
    synthetic = (vectors[around] + noise).astype(np.float32)
    names = np.array([f"synthetic-{i}" for i in range(extra)], dtype=object)
    return np.concatenate([ids.astype(object), names]), np.vstack([vectors, synthetic])


def exact_top_k(queries: np.ndarray, movies: np.ndarray, k: int, chunk: int = 32) -> np.ndarray:
    """[n, k] rows of the k best dot products per query (brute force, in chunks)."""
    found = []
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ movies.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        found.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(found)


def grid(num_movies: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """(leaves, [(searched, reordered), ...]) around leaves = sqrt(movies)."""
    root = max(4, int(np.sqrt(num_movies)))
    settings = []
    for leaves in (root, 2 * root):
        searched = sorted({max(1, round(leaves * f)) for f in (0.01, 0.02, 0.05, 0.1, 0.2)})
        settings.append((leaves, [(s, r) for s in searched for r in (2 * K, 5 * K)]))
    return settings


def tune(movies: np.ndarray, queries: np.ndarray, exact: np.ndarray, target: float, timed: int):
    """Every grid setting's recall@K and median single-query ms (ScaNN's own searcher, the
    same builder the TFRS layer uses); returns (rows, the chosen row)."""
    from scann import scann_ops_pybind

    rows = []
    for leaves, settings in grid(len(movies)):
        started = time.time()
        searcher = (
            scann_ops_pybind.builder(movies, K, "dot_product")
            .tree(num_leaves=leaves, num_leaves_to_search=settings[0][0], training_iterations=12)
            .score_ah(2)
            .reorder(max(r for _, r in settings))
            .build()
        )
        print(f"  ScaNN with {leaves} leaves built in {time.time() - started:.0f} s", flush=True)
        for searched, reordered in settings:
            found, _ = searcher.search_batched(
                queries, leaves_to_search=searched, pre_reorder_num_neighbors=reordered
            )
            recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(exact, found)])
            latencies = []
            for q in queries[:timed]:
                t = time.perf_counter()
                searcher.search(q, leaves_to_search=searched, pre_reorder_num_neighbors=reordered)
                latencies.append(time.perf_counter() - t)
            rows.append(
                {
                    "num_leaves": leaves,
                    "num_leaves_to_search": searched,
                    "num_reordering_candidates": reordered,
                    "recall": float(recall),
                    "ms_per_query": 1000 * float(np.median(latencies)),
                }
            )
    meeting = [r for r in rows if r["recall"] >= target]
    chosen = (
        min(meeting, key=lambda r: r["ms_per_query"])
        if meeting
        else max(rows, key=lambda r: r["recall"])
    )
    return rows, chosen


def _size_mb(path: str) -> float:
    total = sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(path)
        for name in names
    )
    return round(total / 2**20, 1)


def load_and_time(path: str, requests: list[dict], timed: int = 300) -> dict:
    """Seconds `tf.saved_model.load` takes (ScaNN's ops registered), as a server's load, and
    p50/p99 ms of single calls of the loaded model's serving signature in this process: the
    model alone, without the server and client both timings through gRPC include."""
    import tensorflow as tf

    from serving.server import import_scann_ops

    import_scann_ops()
    started = time.time()
    model = tf.saved_model.load(path)
    load_seconds = round(time.time() - started, 2)
    signature = model.signatures[contract.SERVING_DEFAULT]
    specs = signature.structured_input_signature[1]
    calls = [
        {k: tf.constant(np.asarray(v), dtype=specs[k].dtype) for k, v in r.items()}
        for r in requests[:timed]
    ]
    signature(**calls[0])  # warm
    latencies = []
    for inputs in calls:
        started = time.perf_counter()
        signature(**inputs)
        latencies.append(1000 * (time.perf_counter() - started))
    return {
        "load_seconds": load_seconds,
        "in_process_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "in_process_p99_ms": round(float(np.percentile(latencies, 99)), 2),
    }


SERVED = """model_config_list {
  config { name: "retrieval" base_path: "/models/retrieval" model_platform: "tensorflow" }
  config { name: "retrieval_bruteforce" base_path: "/models/retrieval_bruteforce"
           model_platform: "tensorflow" }
}"""


def serve_and_time(export_dir: str, requests: list[dict], exact, ids, timed: int = 300) -> dict:
    """Each retrieval model through `recsys serve` in a process of its own, as it is
    deployed: recall@K of its answers against exact brute force, and p50/p99 ms of single
    Predict calls from this process."""
    from serving.client import ServingClient

    config = os.path.join(export_dir, "million.models.config")
    with open(config, "w") as f:
        f.write(SERVED)
    port = server_process.free_port()
    process = server_process.start(config, export_dir, port)
    out = {}
    try:
        with ServingClient(f"127.0.0.1:{port}", timeout=60, retries=30, backoff=0.5) as client:
            models = [contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE]
            client.wait_until_available(models, timeout=600)
            for model in models:
                client.predict(model, requests[0])  # warm the path
                latencies, hits = [], []
                for i, request in enumerate(requests[:timed]):
                    started = time.perf_counter()
                    answer = client.predict(model, request)
                    latencies.append(1000 * (time.perf_counter() - started))
                    truth = set(ids[exact[i]])
                    hits.append(len(truth & set(answer[contract.MOVIE_IDS][0])) / K)
                out[model] = {
                    "recall@100": round(float(np.mean(hits)), 4),
                    "p50_ms": round(float(np.percentile(latencies, 50)), 2),
                    "p99_ms": round(float(np.percentile(latencies, 99)), 2),
                }
                print(f"  {model} through the server: {out[model]}", flush=True)
    finally:
        process.terminate()
        process.wait(timeout=60)
    return out


def to_markdown(r: dict) -> str:
    c = r["chosen"]
    lines = [
        f"# ScaNN over {r['movies']:,} movies ({r['dimensions']} dimensions), "
        f"{r['queries']} real test queries",
        "",
        f"Query tower: {r.get('attention_layers', 0)} self-attention blocks over the history "
        "(`retrieval.model.attention_layers`); both models pay for it on every query.",
        "",
        f"Chosen: {c['num_leaves']} leaves, {c['num_leaves_to_search']} searched, "
        f"{c['num_reordering_candidates']} reordered (cheapest with recall@{r['k']} >= "
        f"{r['target_recall']} in the grid below).",
        "",
        "| model | recall@100 vs brute force | p50 ms | p99 ms | in process p50 ms | "
        "in process p99 ms | SavedModel MB | load s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in r["models"].items():
        lines.append(
            f"| {name} | {m['recall@100']:.4f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
            f"{m['in_process_p50_ms']:.2f} | {m['in_process_p99_ms']:.2f} | "
            f"{m['size_mb']:.0f} | {m['load_seconds']:.1f} |"
        )
    lines += [
        "",
        "p50/p99: single queries through the local gRPC server (`recsys serve` in a process of "
        "its own, the client in the benchmark's); in process: the loaded SavedModel's serving "
        "signature called directly, one "
        f"query at a time. ScaNN is {r['speedup_p50']}x faster than brute force at p50 through "
        f"the server, {r['speedup_in_process_p50']}x as models (the server's fixed cost per "
        "call is the same for both). Targets: "
        + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in r["targets"].items())
        + ".",
        "",
        "| leaves | searched | reordered | recall@100 | ms/query (ScaNN's searcher) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for g in r["grid"]:
        lines.append(
            f"| {g['num_leaves']} | {g['num_leaves_to_search']} | "
            f"{g['num_reordering_candidates']} | {g['recall']:.4f} | {g['ms_per_query']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def run(cfg: PipelineConfig, output_dir: str, movies: int = 1_000_000, target: float = 0.95):
    """The whole benchmark; returns what it writes to `<output_dir>/index-million.json`."""
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split="temporal"))
    cfg = jobs.new_run(cfg)
    run_ = jobs.start_run(cfg, "retrieval")
    print("training the retrieval model for its query tower", flush=True)
    trained = jobs.fit_retrieval(cfg, run_)
    test = run_.prepared.parts["test"]
    queries = retrieval_train.query_embeddings(trained.model, test).astype(np.float32)
    ids, vectors = synthetic_catalogue(
        run_.prepared.catalogue[F.MOVIE_ID.name], trained.movies.astype(np.float32), movies
    )
    print(f"{len(ids)} movies x {vectors.shape[1]} dimensions; exact top {K}", flush=True)
    started = time.time()
    exact = exact_top_k(queries, vectors, K)
    brute_numpy_ms = 1000 * (time.time() - started) / len(queries)
    rows, chosen = tune(vectors, queries, exact, target, timed=min(200, len(queries)))
    index_cfg = IndexConfig(
        kind="scann",
        k=K,
        num_leaves=chosen["num_leaves"],
        num_leaves_to_search=chosen["num_leaves_to_search"],
        num_reordering_candidates=chosen["num_reordering_candidates"],
    )
    export_dir = os.path.join(cfg.run_dir, "models")
    names = trained.model.query_tower.feature_names
    requests = [{n: test[n][i : i + 1] for n in names} for i in range(len(test[F.USER_ID.name]))]
    started = time.time()
    written = retrieval_export.export_all(
        trained.model.query_tower,
        ids,
        vectors,
        index_cfg,
        export_dir,
        requests[:3],
        {"model": "", "lineage": jobs.lineage(cfg, run_.prepared), "synthetic_movies": movies},
    )
    export_seconds = round(time.time() - started, 1)
    models = {
        name: {"size_mb": _size_mb(path), **load_and_time(path, requests)}
        for name, path in written.items()
    }
    served = serve_and_time(export_dir, requests, exact, ids)
    for name in models:
        models[name].update(served[name])
    brute, scann = models[contract.RETRIEVAL_BRUTEFORCE], models[contract.RETRIEVAL]
    speedup = brute["p50_ms"] / scann["p50_ms"]
    speedup_in_process = brute["in_process_p50_ms"] / scann["in_process_p50_ms"]
    result = {
        "movies": int(len(ids)),
        "dimensions": int(vectors.shape[1]),
        "queries": int(len(queries)),
        "k": K,
        "target_recall": target,
        "grid": rows,
        "chosen": chosen,
        "brute_force_numpy_ms_per_query": round(brute_numpy_ms, 2),
        "export_seconds": export_seconds,
        "models": models,
        "server_in_own_process": True,
        "attention_layers": cfg.retrieval.model.attention_layers,
        "speedup_p50": round(speedup, 1),
        "speedup_in_process_p50": round(speedup_in_process, 1),
        "targets": {
            "recall@100 >= 0.95 (through the server)": models[contract.RETRIEVAL]["recall@100"]
            >= 0.95,
            "ScaNN p99 < 10 ms through the server": models[contract.RETRIEVAL]["p99_ms"] < 10,
            "ScaNN >= 20x faster than brute force (p50, through the server)": speedup >= 20,
            "ScaNN >= 20x faster than brute force (p50, the models in process)": (
                speedup_in_process >= 20
            ),
        },
    }
    stem = os.path.join(output_dir, "index-million")
    write_report(stem, result, to_markdown(result))
    plots.tradeoff_chart(
        stem + ".png",
        f"ScaNN over {len(ids):,} movies, recall@{K} against brute force",
        rows,
        chosen,
        target,
    )
    print(to_markdown(result), end="")
    return result
