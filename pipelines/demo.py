"""`recsys demo`, the README's main job: train both stages, export, serve, recommend, stop.

Trains retrieval and ranking on one prepared split (`recsys train all`), composes the
`recommender` model, starts the local TensorFlow Serving-compatible server on a free
loopback port, asks it over gRPC for recommendations (both ways) for a few known users
(profiles from the exported table) and a new one, prints them, writes them to
<results>/demo.json, and stops the server.
"""

from __future__ import annotations

import json
import logging
import os

from pipelines.config import PipelineConfig
from serving import contract

log = logging.getLogger(__name__)


def run(cfg: PipelineConfig, model_config: str, users: list[str], results_dir: str) -> dict:
    """Runs the whole job; returns what it writes to `<results_dir>/demo.json`."""
    from pipelines import gate, jobs
    from serving import recommend
    from serving.client import ServingClient
    from serving.server import serve_export_dir

    try:
        trained = jobs.train_all(jobs.new_run(cfg))
    except gate.ExportRefused as refused:  # the blessed models already there stay served
        print(f"{refused}\nServing the blessed models already in {cfg.export_dir}.")
        trained = None
    k = cfg.k
    profiles = {u: recommend.load_profile(cfg.export_dir, u) for u in users}
    newest = recommend.default_request_time(cfg.export_dir)
    movies = recommend.load_movies(cfg.export_dir)
    profiles["new user (demographics only)"] = recommend.UserProfile(
        user_gender=False,
        bucketized_user_age=25.0,
        raw_user_age=27.0,
        user_occupation_text="writer",
        user_zip_code="10003",
        timestamp=newest,
    )
    server = serve_export_dir(model_config, cfg.export_dir)
    shown = {}
    try:
        with ServingClient(server.address, timeout=30) as client:
            client.wait_until_available(
                [
                    contract.RETRIEVAL,
                    contract.RETRIEVAL_BRUTEFORCE,
                    contract.RANKING,
                    contract.RECOMMENDER,
                ],
                timeout=300,
            )
            for name, profile in profiles.items():
                composite = recommend.recommend_composite(client, profile, k)
                exact = recommend.recommend(
                    client, profile, k, retrieval_model=contract.RETRIEVAL_BRUTEFORCE
                )
                scann = recommend.recommend(client, profile, k, retrieval_model=contract.RETRIEVAL)
                shown[name] = {
                    "composite": composite,
                    "client_side_bruteforce": exact,
                    "client_side_scann": scann,
                }
                print(
                    f"\nTop {k} for {'user ' + name if name in users else name} "
                    f"(one Predict call to `{contract.RECOMMENDER}`):"
                )
                print(recommend.format_table(composite))
                ids = [r["movie_id"] for r in composite]
                same = ids == [r["movie_id"] for r in exact]
                common = len(set(ids) & {r["movie_id"] for r in scann})
                print(
                    f"client-side, two calls: {'the same' if same else 'a DIFFERENT'} top-{k} "
                    "with exact "
                    f"retrieval; {common}/{k} of it with ScaNN retrieval (approximate)"
                )
                if profile.recent_movie_ids:  # "more like this" for their newest movie
                    last = profile.recent_movie_ids[0]
                    near = recommend.similar(client, last, contract.RETRIEVAL)[:k]
                    shown[name]["because_you_watched"] = {"movie_id": last, "similar": near}
                    titles = [
                        movies.get(r["movie_id"], {}).get("title", r["movie_id"]) for r in near
                    ]
                    watched = movies.get(last, {}).get("title", last)
                    print(f"Because you watched {watched}: {'; '.join(titles)}")
    finally:
        server.stop()
    result = {
        "retrieval_test_metrics": trained and trained["retrieval"]["test"],
        "ranking_test_metrics": trained and trained["ranking"]["test"],
        "recommendations": shown,
    }
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "demo.json"), "w") as f:
        json.dump(result, f, indent=2)
    log.info("wrote %s", os.path.join(results_dir, "demo.json"))
    return result
