"""`recsys benchmark ranking`: our rating model against its peers on the random split.

One prepared split; every model predicts the same test ratings:
  * dcn+autorec: this project's model (configs/ranking.toml): the DCN networks
    (early-stopped on validation) averaged with I-AutoRec (trained on train,
    early-stopped on validation); and each side alone, dcn-ranking and i-autorec;
  * matrix-factorisation: biased MF, early-stopped on the same validation part;
  * user+item-bias, global-mean: fitted on train + validation;
  * tfrs-tutorial: the TFRS basic-ranking tutorial model on train + validation
    (the tutorial's 80 %; ours trains on 72 % and early-stops on 8 %).
Writes ranking.json, ranking.md and ranking.png into the output folder.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import numpy as np

from core import features as F
from core import plots
from core.config import to_dict
from core.reports import write_report
from pipelines.config import PipelineConfig
from pipelines.jobs import start_run
from ranking import baselines
from ranking import metrics as M
from ranking.train import predict, train, variants

log = logging.getLogger(__name__)
TARGET_RMSE = 0.89


def run(cfg: PipelineConfig, output_dir: str) -> dict:
    """Runs the benchmark on the random split (the RMSE protocol, whatever `cfg.data.split`
    says); returns what it writes to `<output_dir>/ranking.json`."""
    os.makedirs(output_dir, exist_ok=True)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split="random"))
    run = start_run(cfg, "benchmark-ranking")
    prepared = run.prepared
    train_part, validation, test = (prepared.parts[p] for p in ("train", "validation", "test"))
    rows = prepared.catalogue_rows
    for part in (train_part, validation, test):  # the tutorial's movie feature is the title
        part[F.MOVIE_TITLE.name] = prepared.catalogue[F.MOVIE_TITLE.name][
            rows(part[F.MOVIE_ID.name])
        ]
    known = {k: np.concatenate([train_part[k], validation[k]]) for k in train_part}

    results, seconds = {}, {}
    started = time.time()
    network = train(cfg.ranking, prepared, run.vocab_files, cfg.data.seed)
    train_seconds = round(time.time() - started, 1)
    for name, variant in variants(network).items():  # ours first, then its halves alone
        seconds[name] = train_seconds
        results[name] = M.report(
            test[F.USER_ID.name], test[F.USER_RATING.name], predict(variant, test)
        )
    ours = next(iter(results))
    # Like the tutorial, its vocabularies span every user and every title.
    user_ids = sorted(set(prepared.movielens.ratings[F.USER_ID.name]))
    titles = sorted(set(prepared.catalogue[F.MOVIE_TITLE.name]))
    builders = {
        "matrix-factorisation": lambda: baselines.matrix_factorization(
            train_part, validation, cfg.data.seed
        ),
        "user+item-bias": lambda: baselines.user_item_bias(known),
        "global-mean": lambda: baselines.global_mean(known),
        "tfrs-tutorial": lambda: baselines.tutorial_model(known, user_ids, titles, cfg.data.seed),
    }
    for name, build in builders.items():
        started = time.time()
        predictor = build()
        seconds[name] = round(time.time() - started, 1)
        results[name] = M.report(test[F.USER_ID.name], test[F.USER_RATING.name], predictor(test))
        log.info("%s: %s", name, results[name])
    our_rmse = results[ours]["rmse"]
    best_peer = min(r["rmse"] for n, r in results.items() if n != ours)
    result = {
        "ours": ours,
        "config": to_dict(cfg),
        "metrics": results,
        "train_seconds": seconds,
        "targets": {
            "rmse": {
                "value": round(our_rmse, 4),
                "target": TARGET_RMSE,
                "met": our_rmse <= TARGET_RMSE,
            },
            "below_every_peer": {
                "value": round(our_rmse, 4),
                "best_peer": round(best_peer, 4),
                "met": our_rmse < best_peer,
            },
        },
    }
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "ranking"), result, markdown)
    plots.bar_chart(
        os.path.join(output_dir, "ranking.png"),
        "Rating prediction on MovieLens 100K, random split (lower is better)",
        {
            "RMSE": {m: r["rmse"] for m, r in results.items()},
            "MAE": {m: r["mae"] for m, r in results.items()},
        },
        "error on the test ratings",
        zoom=True,
    )
    print(markdown, end="")
    return result


def to_markdown(result: dict) -> str:
    lines = [
        "# Ranking benchmark (MovieLens 100K, random split: 72 % train, 8 % validation, 20 % test)",
        "",
        "| model | RMSE | MAE | NDCG@10 (per user) | train seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in result["metrics"].items():
        lines.append(
            f"| {name} | {r['rmse']:.4f} | {r['mae']:.4f} | {r['ndcg@10']:.4f} "
            f"| {result['train_seconds'][name]} |"
        )
    t = result["targets"]
    lines += [
        "",
        f"{result['ours']} is this project's model. With AutoRec on, dcn-ranking and i-autorec "
        "are its two halves"
        " alone, from the same training run.",
        "",
        f"RMSE target <= {t['rmse']['target']}: measured {t['rmse']['value']} "
        f"({'met' if t['rmse']['met'] else 'NOT met'}); below every peer (best "
        f"{t['below_every_peer']['best_peer']}): "
        f"{'yes' if t['below_every_peer']['met'] else 'no'}.",
    ]
    return "\n".join(lines) + "\n"
