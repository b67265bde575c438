"""`recsys benchmark embeddings`: do the movie vectors put similar movies together?

For every movie with at least `min_ratings` training ratings, its 10 nearest movies by
cosine of the candidate-tower vectors are compared with two peers in one run: 10 random
movies, and the 10 nearest by item-item co-rating cosine (users who rated both). Reports
(a) genre agreement@10: the share of neighbours sharing a genre with the movie; (b)
co-rating overlap@10: the share of embedding (or random) neighbours that are also co-rating
neighbours; (c) the top 5 of a few well-known movies. Writes embeddings.json and .md.
"""

from __future__ import annotations

import os

import numpy as np

from core import features as F
from core.reports import write_report
from pipelines import embeddings, jobs
from serving import recommend

K = 10


def co_rating_vectors(ratings, movie_ids: np.ndarray) -> np.ndarray:
    """[n, users] L2-normalised binary rows: who rated each movie (training ratings)."""
    row_of = {m: i for i, m in enumerate(movie_ids)}
    users = {u: j for j, u in enumerate(np.unique(ratings[F.USER_ID.name]))}
    matrix = np.zeros((len(movie_ids), len(users)), dtype=np.float32)
    for movie, user in zip(ratings[F.MOVIE_ID.name], ratings[F.USER_ID.name]):
        movie = movie.decode() if isinstance(movie, bytes) else str(movie)
        if movie in row_of:
            matrix[row_of[movie], users[user]] = 1.0
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def genre_agreement(nn: np.ndarray, genres: np.ndarray) -> float:
    shared = (genres[:, None, :] * genres[nn]).sum(axis=2) > 0
    return float(shared.mean())


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b)]))


def run(cfg, output_dir: str, min_ratings: int = 5, seed: int = 0) -> dict:
    """Measures the run's movie vectors against the peers; returns what it writes."""
    from core.dataset import prepare

    ids, vectors = embeddings.movie_vectors(jobs.run_folder(cfg.run_dir))
    prepared = prepare(cfg.data)
    known = prepared.known()
    movies = recommend.load_movies(cfg.export_dir)
    counts = np.array([movies.get(m, {}).get("ratings", 0) for m in ids])
    keep = np.flatnonzero(counts >= min_ratings)
    ids, vectors = ids[keep], vectors[keep]
    genre_names = [set(movies[m]["genres"]) for m in ids]
    genres = np.array([[g in names for g in F.GENRES] for names in genre_names], dtype=np.float32)
    co_rating = co_rating_vectors(known, ids)
    found = {
        "embedding": embeddings.neighbours(vectors, K),
        "co-rating cosine": embeddings.neighbours(co_rating, K),
    }
    rng = np.random.default_rng(seed)
    found["random"] = np.array(
        [rng.choice(np.delete(np.arange(len(ids)), i), K, replace=False) for i in range(len(ids))]
    )
    result = {
        "movies": len(ids),
        "min_ratings": min_ratings,
        "genre_agreement@10": {
            name: round(genre_agreement(nn, genres), 4) for name, nn in found.items()
        },
        "co_rating_overlap@10": {
            name: round(overlap(found[name], found["co-rating cosine"]), 4)
            for name in ("embedding", "random")
        },
    }
    famous = np.argsort(-counts[keep], kind="stable")[:5]
    result["examples"] = {
        movies[ids[i]]["title"]: [movies[ids[j]]["title"] for j in found["embedding"][i][:5]]
        for i in famous
    }
    g, o = result["genre_agreement@10"], result["co_rating_overlap@10"]
    result["ratios"] = {
        "genre_agreement_vs_random": round(g["embedding"] / max(g["random"], 1e-9), 2),
        "co_rating_overlap_vs_random": round(o["embedding"] / max(o["random"], 1e-9), 2),
    }
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "embeddings"), result, markdown)
    print(markdown, end="")
    return result


def to_markdown(result: dict) -> str:
    g, o, r = result["genre_agreement@10"], result["co_rating_overlap@10"], result["ratios"]
    lines = [
        f"# Movie embeddings: neighbour quality ({result['movies']} movies with at least "
        f"{result['min_ratings']} training ratings)",
        "",
        "| neighbours (10 per movie) | genre agreement@10 | co-rating overlap@10 |",
        "|---|---:|---:|",
        f"| candidate-tower cosine | {g['embedding']} | {o['embedding']} |",
        f"| random | {g['random']} | {o['random']} |",
        f"| co-rating cosine (peer) | {g['co-rating cosine']} | 1.0 |",
        "",
        f"Embedding against random: genre agreement {r['genre_agreement_vs_random']}x, "
        f"co-rating overlap {r['co_rating_overlap_vs_random']}x.",
        "",
        "| movie | its 5 nearest movies |",
        "|---|---|",
    ]
    for title, near in result["examples"].items():
        lines.append(f"| {title} | {'; '.join(near)} |")
    return "\n".join(lines) + "\n"
