"""The retrieval evaluation protocols, for any model that scores the whole catalogue.

* tutorial: top-K accuracy over all movies, nothing left out (TFRS FactorizedTopK);
  reported on the random split, to compare with the TFRS tutorials.
* full catalogue: Recall@K and NDCG@10 over all movies minus those the user rated
  before (train and validation); reported on the temporal split (leakage-free).
* sampled (NCF): the held-out movie among 99 movies the user never rated, HR@10 and
  NDCG@10; always printed beside the full-catalogue numbers, never alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core import features as F
from core.data import Columns
from core.dataset import Prepared, seen_movies
from retrieval import metrics

# Query columns [n] -> scores [n, num_movies] over the catalogue's row order.
Scorer = Callable[[Columns], np.ndarray]

TOP_K = (1, 5, 10, 50, 100)
RECALL_K = (10, 50, 100)
NUM_SAMPLED_NEGATIVES = 99


def evaluate(
    scorer: Scorer, prepared: Prepared, part: str = "test", seed: int = 0, chunk: int = 2048
) -> dict:
    """Every protocol's metrics of `scorer` on one part of the prepared split.

    Movies the user rated in earlier parts (train for validation; train and validation
    for test) are left out of the full-catalogue ranking. Sampled negatives come from
    movies the user never rated in any part, seeded by `seed`.
    """
    queries = prepared.parts[part]
    earlier = [prepared.parts["train"]] + ([prepared.parts["validation"]] if part == "test" else [])
    users = queries[F.USER_ID.name]
    targets = prepared.catalogue_rows(queries[F.MOVIE_ID.name])
    exclude = seen_movies(users, *earlier, movie_index=prepared.movie_index)
    everything = seen_movies(users, *prepared.parts.values(), movie_index=prepared.movie_index)
    num_movies = len(prepared.catalogue[F.MOVIE_ID.name])
    # 99 in the NCF protocol; fewer only when a tiny catalogue has fewer unrated movies.
    num_negatives = min([NUM_SAMPLED_NEGATIVES] + [num_movies - len(e) for e in everything])
    negatives = metrics.sample_negatives(everything, num_movies, num_negatives, seed)
    plain, left_out, sampled = [], [], []
    for start in range(0, len(users), chunk):
        rows = slice(start, start + chunk)
        scores = scorer({name: values[rows] for name, values in queries.items()})
        plain.append(metrics.full_catalogue_ranks(scores, targets[rows]))
        left_out.append(metrics.full_catalogue_ranks(scores, targets[rows], exclude[rows]))
        sampled.append(metrics.sampled_ranks(scores, targets[rows], negatives[rows]))
    plain, left_out, sampled = (np.concatenate(r) for r in (plain, left_out, sampled))
    return {
        "queries": int(len(users)),
        "sampled_negatives": int(num_negatives),
        "top_k_accuracy": {str(k): metrics.hit_rate(plain, k) for k in TOP_K},
        "recall": {str(k): metrics.hit_rate(left_out, k) for k in RECALL_K},
        "ndcg@10": metrics.ndcg(left_out, 10),
        "sampled_hr@10": metrics.hit_rate(sampled, 10),
        "sampled_ndcg@10": metrics.ndcg(sampled, 10),
    }


PROTOCOLS = (
    ("top-K", "tutorial protocol: random split, top-K accuracy over all movies"),
    ("Recall@K, NDCG@10", "leakage-free: temporal split, all movies minus the user's earlier ones"),
    ("sampled", "NCF protocol: temporal split, the held-out movie among 99 sampled unrated ones"),
)


def to_markdown(rows: dict[str, dict[str, dict]]) -> str:
    """One table: a row per model; tutorial columns from its random-split result,
    full-catalogue and sampled columns from its temporal-split result. Columns no model has
    a value for are left out; a legend names each protocol shown.

    Args:
      rows: model name -> {"random": evaluate(...), "temporal": evaluate(...)} (either may
        be absent).
    """
    columns = [(f"top-{k}", 0, ("top_k_accuracy", str(k)), "random") for k in TOP_K]
    columns += [(f"Recall@{k}", 1, ("recall", str(k)), "temporal") for k in RECALL_K]
    columns += [
        ("NDCG@10", 1, ("ndcg@10",), "temporal"),
        ("sampled HR@10", 2, ("sampled_hr@10",), "temporal"),
        ("sampled NDCG@10", 2, ("sampled_ndcg@10",), "temporal"),
    ]

    def cell(result: dict | None, path: tuple[str, ...]) -> str:
        for key in path:
            if not result:
                return ""
            result = result.get(key)
        return "" if result is None else _fmt(result)

    table = {
        model: [cell(result.get(split), path) for _, _, path, split in columns]
        for model, result in rows.items()
    }
    shown = [i for i in range(len(columns)) if any(cells[i] for cells in table.values())]
    groups = sorted({columns[i][1] for i in shown})
    lines = [f"- {PROTOCOLS[g][0]}: {PROTOCOLS[g][1]}" for g in groups]
    lines += ["", "| model | " + " | ".join(columns[i][0] for i in shown) + " |"]
    lines.append("|---" + "|---:" * len(shown) + "|")
    for model, cells in table.items():
        lines.append(f"| {model} | " + " | ".join(cells[i] for i in shown) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return f"{value:.4f}"
