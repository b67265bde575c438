"""What the towers learned, for people: Projector files, 2-D maps, neighbour quality.

Reads the movie vectors a retrieval run saved (`<run_dir>/retrieval/embeddings.npz`), the
movie table and user profiles exported beside the models (`movies.json`,
`user_profiles.json`), and the exported brute-force retrieval model's `query_embedding`
signature (each known user at their last rating).
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np

from core import features as F
from serving import contract, recommend

log = logging.getLogger(__name__)
PROJECTOR_CONFIG = "projector_config.pbtxt"


def movie_vectors(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """(movie ids [n] str, L2-normalised vectors [n, d]) of a retrieval run."""
    from retrieval.tune import EMBEDDINGS_FILE

    path = os.path.join(run_dir, "retrieval", EMBEDDINGS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: train retrieval first (recsys train all)")
    saved = np.load(path)
    vectors = saved["movies"].astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return saved["movie_ids"].astype(str), vectors


def _year(title: str) -> str:
    match = re.search(r"\((\d{4})\)\s*$", title)
    return match.group(1) if match else ""


def _tsv(path: str, rows, header: list[str] | None = None) -> None:
    with open(path, "w") as f:
        if header:
            f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in row) + "\n")


def user_vectors(export_dir: str, profiles, batch: int = 256) -> np.ndarray:
    """Query-tower embeddings of `profiles` from the exported brute-force retrieval model."""
    import tensorflow as tf

    from pipelines.composite import latest_version

    model = tf.saved_model.load(latest_version(export_dir, contract.RETRIEVAL_BRUTEFORCE))
    signature = model.signatures[contract.QUERY_EMBEDDING_SIGNATURE]
    specs = signature.structured_input_signature[1]
    out = []
    for start in range(0, len(profiles), batch):
        chunk = profiles[start : start + batch]
        columns = {}
        for name, spec in specs.items():
            values = [p.inputs([name])[name][0] for p in chunk]
            if F.BY_NAME[name].kind is F.Kind.SEQUENCE:
                width = max(len(v) for v in values)
                values = [list(v) + [F.PAD] * (width - len(v)) for v in values]
            columns[name] = tf.constant(values, dtype=spec.dtype)
        out.append(signature(**columns)[contract.QUERY_EMBEDDING].numpy())
    return np.concatenate(out)


def export_projector(run_dir: str, export_dir: str, output: str, users: bool = True) -> dict:
    """Writes TensorBoard Projector files into `output`: movie (and user) vectors as TSV, their
    metadata with a header, and projector_config.pbtxt. Returns {name: rows}."""
    ids, vectors = movie_vectors(run_dir)
    movies = recommend.load_movies(export_dir)
    os.makedirs(output, exist_ok=True)
    _tsv(os.path.join(output, "movies.tsv"), (np.round(v, 6).tolist() for v in vectors))
    header = ["title", "year", "genres", "main_genre", "ratings", "mean_rating"]
    rows = []
    for movie_id in ids:
        m = movies.get(movie_id, {"title": movie_id, "genres": [], "ratings": 0})
        genres = m.get("genres") or ["(none)"]
        mean = m.get("mean_rating")
        rows.append(
            [m["title"], _year(m["title"]), "|".join(genres), genres[0], m["ratings"], mean or ""]
        )
    _tsv(os.path.join(output, "movies_metadata.tsv"), rows, header)
    written = {"movies": len(ids)}
    embeddings = [("movies", "movies.tsv", "movies_metadata.tsv")]
    if users:
        profiles = recommend.load_profiles(export_dir)
        queries = user_vectors(export_dir, profiles)
        _tsv(os.path.join(output, "users.tsv"), (np.round(v, 6).tolist() for v in queries))
        _tsv(
            os.path.join(output, "users_metadata.tsv"),
            (
                [
                    p.user_id,
                    "M" if p.user_gender else "F",
                    p.raw_user_age,
                    p.user_occupation_text,
                    len(p.seen_movie_ids),
                ]
                for p in profiles
            ),
            ["user_id", "gender", "age", "occupation", "ratings"],
        )
        written["users"] = len(profiles)
        embeddings.append(("users (at their last rating)", "users.tsv", "users_metadata.tsv"))
    with open(os.path.join(output, PROJECTOR_CONFIG), "w") as f:
        for name, tensor, metadata in embeddings:
            f.write(
                f'embeddings {{\n  tensor_name: "{name}"\n  tensor_path: "{tensor}"\n'
                f'  metadata_path: "{metadata}"\n}}\n'
            )
    log.info(
        "wrote Projector files for %s to %s (tensorboard --logdir %s)", written, output, output
    )
    return written


def neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """[n, k] rows of each row's k nearest others by cosine (itself excluded)."""
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def plot_maps(
    run_dir: str, export_dir: str, output: str, labelled: int = 12, seed: int = 0
) -> list[str]:
    """2-D PCA and t-SNE maps of the movie vectors, coloured by main genre, the most-rated
    titles labelled; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    ids, vectors = movie_vectors(run_dir)
    movies = recommend.load_movies(export_dir)
    info = [movies.get(m, {"title": m, "genres": [], "ratings": 0}) for m in ids]
    main = [(m.get("genres") or ["(none)"])[0] for m in info]
    famous = set(np.argsort([-m["ratings"] for m in info], kind="stable")[:labelled])
    maps = {
        "pca": PCA(n_components=2, random_state=seed).fit_transform(vectors),
        "tsne": TSNE(
            n_components=2,
            perplexity=min(30.0, max(2.0, (len(ids) - 1) / 3)),
            init="pca",
            random_state=seed,
        ).fit_transform(vectors),
    }
    paths = []
    os.makedirs(output, exist_ok=True)
    for name, points in maps.items():
        fig, ax = plt.subplots(figsize=(10, 7))
        names = sorted(set(main))
        colours = plt.cm.tab20(np.linspace(0, 1, max(len(names), 2)))  # a colour per genre
        for genre, colour in zip(names, colours):
            rows = [i for i, g in enumerate(main) if g == genre]
            ax.scatter(points[rows, 0], points[rows, 1], s=8, alpha=0.7, label=genre, color=colour)
        for i in famous:
            ax.annotate(
                info[i]["title"], points[i], fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        ax.set_title(f"Movie embeddings ({name.upper()}), coloured by first genre")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=2)
        fig.tight_layout()
        path = os.path.join(output, f"embeddings_{name}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
        log.info("wrote %s", path)
    return paths
