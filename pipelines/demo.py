"""`recsys demo`, the README's main job: train both stages, export, serve, recommend, stop.

Trains retrieval (configs/retrieval.toml) and ranking (configs/ranking.toml), composes
the `recommender` model, starts the local TensorFlow Serving-compatible server on a free
loopback port, asks it over gRPC for recommendations (both ways) for a few users, prints
them, writes them to <results>/demo.json, and stops the server.
"""

from __future__ import annotations

import json
import logging
import os

from pipelines import data
from serving import contract

log = logging.getLogger(__name__)


def run(retrieval_cfg, ranking_cfg, model_config: str, users: list[str], k: int, results_dir: str) -> dict:
    """Runs the whole job; returns what it writes to `<results_dir>/demo.json`."""
    from ranking import train as ranking_train
    from retrieval import train as retrieval_train
    from serving import recommender
    from serving.client import ServingClient
    from serving.server import serve_export_dir

    if retrieval_cfg.export_dir != ranking_cfg.export_dir:
        raise ValueError("retrieval and ranking must export to the same export_dir")
    export_dir = retrieval_cfg.export_dir
    retrieval_result = retrieval_train.main(retrieval_cfg)
    ranking_result = ranking_train.main(ranking_cfg)
    recommender.export_recommender(export_dir, k=k)

    server = serve_export_dir(model_config, export_dir)
    shown = {}
    try:
        with ServingClient(server.address, timeout=30) as client:
            client.wait_until_available([contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE, contract.RANKING,
                                         contract.RECOMMENDER], timeout=300)  # fmt: skip
            movielens = data.load(retrieval_cfg.data)
            profiles = {u: recommender.profile_from_ratings(movielens.ratings, u, 50) for u in users}
            profiles["new user (demographics only)"] = recommender.UserProfile(
                user_gender=False, bucketized_user_age=25.0, raw_user_age=27.0, user_occupation_text="writer",
                user_zip_code="10003", timestamp=int(movielens.ratings["timestamp"].max()) + 1,
            )  # fmt: skip
            for name, profile in profiles.items():
                composite = recommender.recommend_composite(client, profile, k)
                exact = recommender.recommend(client, profile, k, retrieval_model=contract.RETRIEVAL_BRUTEFORCE)
                scann = recommender.recommend(client, profile, k, retrieval_model=contract.RETRIEVAL)
                shown[name] = {"composite": composite, "client_side_bruteforce": exact, "client_side_scann": scann}
                print(f"\nTop {k} for user {name} (one Predict call to `{contract.RECOMMENDER}`):")
                print(recommender.format_table(composite))
                ids = [r["movie_id"] for r in composite]
                same = ids == [r["movie_id"] for r in exact]
                common = len(set(ids) & {r["movie_id"] for r in scann})
                print(f"client-side, two calls: {'the same' if same else 'a DIFFERENT'} top-{k} with exact retrieval; "
                      f"{common}/{k} of it with ScaNN retrieval (approximate)")
    finally:
        server.stop()
    result = {
        "retrieval_test_metrics": retrieval_result["test"],
        "ranking_test_metrics": ranking_result["test"],
        "recommendations": shown,
    }
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "demo.json"), "w") as f:
        json.dump(result, f, indent=2)
    log.info("wrote %s", os.path.join(results_dir, "demo.json"))
    return result

