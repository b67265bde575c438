"""`recsys benchmark serving`: gRPC latency of every serving path, side by side.

Over exported models (after `recsys demo`, or the train and export commands), a local
server on a free loopback port answers the same user profiles on each path, one request at
a time:
  * retrieval (ScaNN) and retrieval_bruteforce: one Predict returning the top-k movie ids;
  * ranking: one Predict scoring that user's retrieved candidates;
  * similar_movies (ScaNN, brute force): "more like this" for the user's top movie;
  * two-stage, client-side: `serving.recommend.recommend` (metadata, retrieval and
    ranking calls);
  * two-stage, composite: one Predict to the `recommender` model.
Writes serving.json, serving.md and serving.png into the output folder.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from core import plots
from core.reports import write_report
from serving import contract, recommend
from serving.client import ServingClient
from serving.server import serve_export_dir

log = logging.getLogger(__name__)


def run(model_config: str, export_dir: str, output_dir: str, users: int = 200, k: int = 10) -> dict:
    """Measures each path on the first `users` users of the exported profile table; returns
    what it writes."""
    profiles = recommend.load_profiles(export_dir)[:users]
    server = serve_export_dir(model_config, export_dir)
    try:
        with ServingClient(server.address, timeout=60) as client:
            models = [
                contract.RETRIEVAL,
                contract.RETRIEVAL_BRUTEFORCE,
                contract.RANKING,
                contract.RECOMMENDER,
            ]
            client.wait_until_available(models, timeout=300)
            keys = {
                m: client.metadata(m)["signatures"][contract.SERVING_DEFAULT]["inputs"]
                for m in models
            }
            retrieved = [
                client.predict(
                    contract.RETRIEVAL_BRUTEFORCE, p.inputs(keys[contract.RETRIEVAL_BRUTEFORCE])
                )
                for p in profiles
            ]
            candidates = [(r[contract.MOVIE_IDS][0], r[contract.SCORES][0]) for r in retrieved]
            paths = {
                "retrieval (ScaNN)": lambda i: client.predict(
                    contract.RETRIEVAL, profiles[i].inputs(keys[contract.RETRIEVAL])
                ),
                "retrieval_bruteforce": lambda i: client.predict(
                    contract.RETRIEVAL_BRUTEFORCE,
                    profiles[i].inputs(keys[contract.RETRIEVAL_BRUTEFORCE]),
                ),
                f"ranking ({len(candidates[0][0])} candidates)": lambda i: client.predict(
                    contract.RANKING,
                    recommend.ranking_inputs(profiles[i], keys[contract.RANKING], *candidates[i]),
                ),
                "similar_movies (ScaNN)": lambda i: recommend.similar(
                    client, candidates[i][0][0], contract.RETRIEVAL
                ),
                "similar_movies (brute force)": lambda i: recommend.similar(
                    client, candidates[i][0][0], contract.RETRIEVAL_BRUTEFORCE
                ),
                "two-stage, client-side": lambda i: recommend.recommend(client, profiles[i], k),
                "two-stage, composite": lambda i: recommend.recommend_composite(
                    client, profiles[i], k
                ),
            }
            rows = {name: _measure(name, call, len(profiles)) for name, call in paths.items()}
    finally:
        server.stop()
    result = {"users": len(profiles), "k": k, "export_dir": export_dir, "paths": rows}
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "serving"), result, markdown)
    plots.bar_chart(
        os.path.join(output_dir, "serving.png"),
        f"gRPC latency on loopback, {len(profiles)} users, one request at a time",
        {p: {name: r[f"{p}_ms"] for name, r in rows.items()} for p in ("p50", "p95")},
        "milliseconds",
    )
    print(markdown, end="")
    return result


def _measure(name: str, call, n: int) -> dict:
    call(0)  # warm up the path (graph tracing, connection)
    latencies = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        latencies.append(1000 * (time.perf_counter() - started))
    ms = np.array(latencies)
    row = {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}
    row.update(
        mean_ms=round(float(ms.mean()), 2), requests_per_second=round(1000 * n / float(ms.sum()), 1)
    )
    log.info(
        "%s: p50 %.2f ms, p95 %.2f ms, %.0f req/s",
        name,
        row["p50_ms"],
        row["p95_ms"],
        row["requests_per_second"],
    )
    return row


def to_markdown(result: dict) -> str:
    lines = [
        f"# Serving latency (local gRPC server on loopback, {result['users']} users, "
        "one request at a time)",
        "",
        "| path | p50 ms | p95 ms | p99 ms | mean ms | requests/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["paths"].items():
        lines.append(
            f"| {name} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['mean_ms']} "
            f"| {r['requests_per_second']} |"
        )
    return "\n".join(lines) + "\n"
