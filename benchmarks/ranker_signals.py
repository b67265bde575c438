"""`recsys benchmark signals`: would the ranker gain from what it does not read yet?

The scorer lifts HR@10 over retrieval alone by about 7 % (recommend.md), short of the
1.2x target. This asks whether information the scorer lacks would lift it further. On the
temporal split, the served retrieval model's lists of the validation and test users (its
top `ranking.scorer.num_candidates` unseen movies, as the ranker gets them) are scored by
each family below, alone and fused with the scorer: z-scores within each list, summed
with the family's weight, the weight chosen on the validation lists and read on test.
HR@10 and NDCG@10 are over all users (a list without the user's movie is a miss); ties
count against the user's movie. A family that carries information the scorer lacks lifts
the fused test HR@10 beyond the spread between scorer seeds.

  * the scorer of another seed (an ensemble of scorers);
  * the retrieval model of another seed (an ensemble of the retrieval family);
  * EASE over the user's whole profile (Steck 2019: a linear item-to-item model);
  * user-kNN: how many of the 50 users nearest by rated movies rated the candidate;
  * the candidate's cosine to the user's newest movie in the retrieval model's space;
  * demographic lift: how much more often users of the query user's gender, age bucket and
    occupation rated the candidate than everyone did (datasets with demographics);
  * the candidate's mean rating (shrunk towards the mean of all ratings);
  * a self-attentive next-movie model (SASRec-style, Kang and McAuley 2018: the issue's
    reference family): transformer blocks over the user's newest movies and a softmax over
    the whole catalogue, not retrieval's in-batch one.

Every family reads only ratings before its queries (train for validation lists, train and
validation for test lists). Two more rows ask whether more training lists would help (more
queries per user, cross-fitted lists): the scorer fit on the lists of a quarter and of half
of the users. Writes signals.json, signals.md and signals.png.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf

from core import features as F
from core import plots
from core.data import Columns, take
from core.dataset import Prepared, seen_movies
from core.reports import write_report
from pipelines import jobs
from pipelines.config import PipelineConfig
from ranking import candidates
from ranking import train as ranking_train
from ranking.candidates import CandidateLists
from retrieval.towers import HistoryAttention

WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)  # a family's weight beside the scorer's z-score
EASE_L2 = 200.0  # best of 50, 200 and 800 on the validation lists
USER_NEIGHBOURS = 50
RATING_PRIOR = 10  # the mean rating counts as this many ratings of every movie
PARTS = ("validation", "test")
SHARES = {"a quarter": 0.25, "half": 0.5}  # of the users whose training lists fit a scorer
EVERY_FAMILY = "every family at once (greedy selection)"


@dataclasses.dataclass(frozen=True)
class NextMovieConfig:
    """The next-movie family's network and training."""

    history: int = 20  # newest movies read, as in retrieval's attention
    dim: int = 64
    blocks: int = 2
    heads: int = 2
    dropout: float = 0.2
    batch_size: int = 512
    max_epochs: int = 30
    # Early stopping watches the validation part's HR@k. Its loss bottoms out epochs sooner:
    # stopped on the loss (first version, own blocks; 50 movies, seed 42): 0.181 alone, 0.196 fused.
    monitor_k: int = 10
    patience: int = 3


def run(cfg: PipelineConfig, output_dir: str) -> dict:
    """Trains the served retrieval model, the scorer's lists and four scorers on the temporal
    split, scores the validation and test lists with every family; writes the files."""
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split="temporal"))
    started = time.time()
    cfg = jobs.new_run(cfg)
    run_ = jobs.start_run(cfg, "signals")
    prepared = run_.prepared
    served = jobs.fit_retrieval(cfg, run_)
    train_lists, validation_lists, earlier = jobs.ranking_lists(cfg, run_, served)
    train = prepared.parts["train"]
    known = {"validation": [train]}
    known["test"] = [*known["validation"], prepared.parts["validation"]]
    test_lists = served_lists(served, prepared, known, cfg.ranking.scorer.num_candidates)
    lists = {"validation": validation_lists, "test": test_lists}

    def scorer_logits(fit_on: CandidateLists, seed: int) -> dict[str, np.ndarray]:
        """Per part, the list logits of a scorer fit on `fit_on`."""
        model = ranking_train.fit_scorer(
            cfg.ranking, prepared, run_.vocab_files, seed, fit_on, validation_lists, earlier
        )
        return {p: seen_last(list_logits(model, lists[p]), lists[p]) for p in PARTS}

    logits = [scorer_logits(train_lists, seed) for seed in (cfg.data.seed, cfg.data.seed + 1)]
    everyone = np.unique(train[F.USER_ID.name])
    rated = rated_matrix(prepared, everyone, [train])
    weights = ease_weights(rated)
    profiles = {  # per part, the query users' movies rated before the queries
        p: rated_matrix(prepared, lists[p].queries[F.USER_ID.name], known[p]) for p in PARTS
    }
    other = jobs.fit_retrieval(
        dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, seed=cfg.data.seed + 1)), run_
    )
    families = {
        "scorer, another seed": logits[1],
        "retrieval, another seed": {
            p: gathered(other.scores(lists[p].queries), lists[p]) for p in PARTS
        },
        "EASE, whole profile": {p: gathered(profiles[p] @ weights, lists[p]) for p in PARTS},
        "user-kNN (50 users)": user_knn(everyone, rated, lists, profiles),
        "retrieval-space cosine to the newest movie": newest_cosine(served.movies, prepared, lists),
        "mean rating": mean_rating(prepared, lists, known),
        "next-movie model (SASRec-style)": next_movie(prepared, lists, cfg.data.seed),
    }
    if F.USER_GENDER.name in train:
        families["demographic lift"] = demographic_lift(prepared, lists, known)
    rows = {
        "retrieval order": alone({p: lists[p].scores for p in PARTS}, lists),
        "scorer": alone(logits[0], lists),
    }
    for name, share in SHARES.items():
        fewer = scorer_logits(of_users(train_lists, share, cfg.data.seed), cfg.data.seed)
        rows[f"scorer on the lists of {name} of the users"] = alone(fewer, lists)
    families = {n: {p: seen_last(s[p], lists[p]) for p in PARTS} for n, s in families.items()}
    for name, scores in families.items():
        rows[name] = {**alone(scores, lists), **fused(logits[0], scores, lists)}
    rows[EVERY_FAMILY] = every_family(logits[0], families, lists)
    result = {
        "dataset": cfg.data.dataset,
        "split": "temporal",
        "lists": {p: [len(lists[p]), lists[p].num_queries] for p in PARTS},
        "seconds": round(time.time() - started, 1),
        "rows": rows,
    }
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "signals"), result, markdown)
    plots.bar_chart(
        os.path.join(output_dir, "signals.png"),
        "Test HR@10: each family alone and fused with the scorer",
        {
            "alone": {n: r.get("test_hr@10", np.nan) for n, r in rows.items()},
            "fused with the scorer": {
                n: r.get("fused_test_hr@10", np.nan) for n, r in rows.items()
            },
        },
        "share of test users",
    )
    print(markdown, end="")
    return result


def served_lists(
    served: jobs.TrainedRetrieval, prepared: Prepared, known, size: int
) -> CandidateLists:
    """The test users' lists: the served model's top `size` unseen movies."""
    test = prepared.parts["test"]
    seen = seen_movies(test[F.USER_ID.name], *known["test"], movie_index=prepared.movie_index)
    return candidates.candidate_lists(
        lambda rows: served.scores(take(test, rows)),
        prepared.catalogue[F.MOVIE_ID.name],
        test,
        seen,
        size,
    )


def of_users(lists: CandidateLists, share: float, seed: int) -> CandidateLists:
    """The lists of a random `share` of their users."""
    users = np.unique(lists.queries[F.USER_ID.name])
    chosen = np.random.default_rng(seed).choice(users, int(len(users) * share), replace=False)
    rows = np.flatnonzero(np.isin(lists.queries[F.USER_ID.name], chosen))
    return CandidateLists(
        take(lists.queries, rows),
        lists.movie_ids[rows],
        lists.scores[rows],
        lists.positive[rows],
        len(rows),
    )


def list_logits(model, lists: CandidateLists) -> np.ndarray:
    """[n, N] scorer logits of the lists."""
    names = model.feature_names
    batches = ranking_train.list_dataset(lists, names, 256)
    return np.concatenate([model.list_logits(batch).numpy() for batch in batches])


def seen_last(scores: np.ndarray, lists: CandidateLists) -> np.ndarray:
    """-inf where the list holds a seen movie (retrieval score -inf: a small catalogue)."""
    return np.where(np.isfinite(lists.scores), scores, -np.inf)


def gathered(scores: np.ndarray, lists: CandidateLists) -> np.ndarray:
    """[n, N] of [n, num_movies] scores at the lists' candidates."""
    return np.take_along_axis(scores, lists.movie_ids.rows, axis=1)


def rated_matrix(prepared: Prepared, users: np.ndarray, parts: list[Columns]) -> np.ndarray:
    """[len(users), num_movies] 1 where the user rated the movie in `parts`."""
    row_of = {u: i for i, u in enumerate(users.tolist())}
    matrix = np.zeros((len(users), len(prepared.catalogue[F.MOVIE_ID.name])), np.float32)
    for part in parts:
        rows = [row_of.get(u, -1) for u in part[F.USER_ID.name].tolist()]
        keep = np.array(rows) >= 0
        movies = prepared.catalogue_rows(part[F.MOVIE_ID.name][keep])
        matrix[np.array(rows)[keep], movies] = 1.0
    return matrix


def ease_weights(rated: np.ndarray) -> np.ndarray:
    """EASE's [num_movies, num_movies] item weights from a [users, num_movies] rated matrix."""
    gram = rated.T.astype(np.float64) @ rated
    gram[np.diag_indices_from(gram)] += EASE_L2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights


def user_knn(everyone: np.ndarray, others: np.ndarray, lists, profiles) -> dict[str, np.ndarray]:
    """Per part, how many of the query user's nearest users (cosine of rated sets) rated
    each candidate, weighted by their cosine. `others`: the rated matrix of the sorted
    users `everyone`; `profiles`: per part, the query users' rated matrix."""
    others_unit = others / np.sqrt(np.maximum(others.sum(axis=1, keepdims=True), 1.0))
    out = {}
    for part in PARTS:
        users = lists[part].queries[F.USER_ID.name]
        mine = profiles[part]
        cosine = (mine / np.sqrt(np.maximum(mine.sum(axis=1, keepdims=True), 1.0))) @ others_unit.T
        own = np.searchsorted(everyone, users).clip(max=len(everyone) - 1)
        found = everyone[own] == users
        cosine[np.flatnonzero(found), own[found]] = 0.0  # not oneself
        nearest = min(USER_NEIGHBOURS, len(everyone)) - 1
        cutoff = -np.partition(-cosine, nearest, axis=1)[:, nearest]
        cosine[cosine < cutoff[:, None]] = 0.0
        out[part] = gathered(cosine @ others, lists[part])
    return out


def newest_cosine(movies: np.ndarray, prepared: Prepared, lists) -> dict[str, np.ndarray]:
    """Per part, the cosine of each candidate's retrieval embedding to the newest movie's."""
    unit = movies / np.maximum(np.linalg.norm(movies, axis=1, keepdims=True), 1e-9)
    unit = np.vstack([unit, np.zeros((1, unit.shape[1]), unit.dtype)])  # no history: 0
    out = {}
    for part in PARTS:
        ids = lists[part].queries[F.RECENT_MOVIE_IDS.name][:, 0]
        newest = [prepared.movie_index.get(m, len(unit) - 1) for m in ids.tolist()]
        out[part] = np.einsum("nkd,nd->nk", unit[lists[part].movie_ids.rows], unit[newest])
    return out


def mean_rating(prepared: Prepared, lists, known) -> dict[str, np.ndarray]:
    """Per part, each candidate's mean rating before the queries, shrunk towards the mean of
    all ratings by RATING_PRIOR ratings."""
    out = {}
    for part in PARTS:
        movies = np.concatenate([prepared.catalogue_rows(p[F.MOVIE_ID.name]) for p in known[part]])
        ratings = np.concatenate([p[F.USER_RATING.name] for p in known[part]])
        size = len(prepared.catalogue[F.MOVIE_ID.name])
        total = np.bincount(movies, weights=ratings, minlength=size)
        count = np.bincount(movies, minlength=size)
        mean = (total + RATING_PRIOR * ratings.mean()) / (count + RATING_PRIOR)
        out[part] = mean[lists[part].movie_ids.rows]
    return out


def demographic_lift(prepared: Prepared, lists, known) -> dict[str, np.ndarray]:
    """Per part, the sum over gender, age bucket and occupation of log(the candidate's share
    of the ratings by the query user's group / its share of all ratings), add-one smoothed."""
    groups = (F.USER_GENDER.name, F.BUCKETIZED_USER_AGE.name, F.USER_OCCUPATION_TEXT.name)
    size = len(prepared.catalogue[F.MOVIE_ID.name])
    out = {}
    for part in PARTS:
        movies = np.concatenate([prepared.catalogue_rows(p[F.MOVIE_ID.name]) for p in known[part]])
        overall = np.log((np.bincount(movies, minlength=size) + 1.0) / (len(movies) + size))
        lift = np.zeros(lists[part].movie_ids.rows.shape)
        for name in groups:
            values = np.concatenate([p[name] for p in known[part]]).astype(str)
            labels, of_rating = np.unique(values, return_inverse=True)
            counts = np.zeros((len(labels), size))
            np.add.at(counts, (of_rating, movies), 1.0)
            share = np.log((counts + 1.0) / (counts.sum(axis=1, keepdims=True) + size))
            asked = lists[part].queries[name].astype(str)
            mine = np.searchsorted(labels, asked)
            found = labels[mine.clip(max=len(labels) - 1)] == asked
            table = np.vstack([share - overall, np.zeros((1, size))])  # an unseen group: 0
            lift += table[np.where(found, mine, len(labels))[:, None], lists[part].movie_ids.rows]
        out[part] = lift
    return out


class NextMovieNetwork(tf.keras.Model):
    """Logits over the catalogue's `size` movies of the movie rated next after `movies`:
    [batch, history] catalogue rows, newest first, `size` padding. Retrieval's SASRec
    encoder (`HistoryAttention`) over their embeddings; its output dotted with every
    movie's embedding (shared with the input's) plus a bias."""

    def __init__(self, size: int, config: NextMovieConfig):
        super().__init__()
        self.size = size
        self.embedding = tf.keras.layers.Embedding(size + 1, config.dim)
        self.encoder = HistoryAttention(
            config.history, config.dim, config.blocks, config.heads, config.dropout
        )
        self.bias = self.add_weight(name="bias", shape=(size,), initializer="zeros")

    def call(self, movies, training=False):
        encoded = self.encoder(self.embedding(movies), movies != self.size, training=training)
        catalogue = self.embedding.embeddings[: self.size]
        return tf.matmul(encoded, catalogue, transpose_b=True) + self.bias


def history_rows(prepared: Prepared, columns: Columns, length: int) -> np.ndarray:
    """[n, length] catalogue rows of each row's newest movies; the catalogue's size pads."""
    ids = np.asarray(columns[F.RECENT_MOVIE_IDS.name])[:, :length]
    size = len(prepared.catalogue[F.MOVIE_ID.name])
    rows = np.full((len(ids), length), size, np.int64)  # a shorter history feature: padded
    real = ids != F.PAD
    rows[:, : ids.shape[1]][real] = prepared.catalogue_rows(ids[real])
    return rows


def next_movie(
    prepared: Prepared, lists, seed: int, config: NextMovieConfig | None = None
) -> dict[str, np.ndarray]:
    """Per part, the lists' logits of a `NextMovieNetwork` fit on the train part's ratings
    that have a history (each from the movies before it, a full softmax over the catalogue),
    early-stopped on the validation part's HR@k over the whole catalogue, seen movies kept."""
    config = config or NextMovieConfig()
    size = len(prepared.catalogue[F.MOVIE_ID.name])

    def examples(part: str) -> tuple[np.ndarray, np.ndarray]:
        columns = prepared.parts[part]
        history = history_rows(prepared, columns, config.history)
        has = history[:, 0] != size
        return history[has], prepared.catalogue_rows(columns[F.MOVIE_ID.name][has])

    tf.keras.utils.set_random_seed(seed)
    network = NextMovieNetwork(size, config)
    network.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseTopKCategoricalAccuracy(config.monitor_k, name="hr")],
    )
    stop = tf.keras.callbacks.EarlyStopping(
        "val_hr", mode="max", patience=config.patience, restore_best_weights=True
    )
    network.fit(
        *examples("train"),
        validation_data=examples("validation"),
        batch_size=config.batch_size,
        epochs=config.max_epochs,
        callbacks=[stop],
        verbose=2,
    )
    return {
        part: gathered(
            network.predict(history_rows(prepared, lists[part].queries, config.history), verbose=0),
            lists[part],
        )
        for part in PARTS
    }


def list_metrics(scores: np.ndarray, lists: CandidateLists) -> tuple[float, float]:
    """(HR@10, NDCG@10) over all queries; a tie with the user's movie ranks above it."""
    positive = scores[np.arange(len(scores)), lists.positive]
    rank = (scores >= positive[:, None]).sum(axis=1) - 1
    hits = rank < 10
    ndcg = np.where(hits, 1.0 / np.log2(rank + 2.0), 0.0)
    return float(hits.sum() / lists.num_queries), float(ndcg.sum() / lists.num_queries)


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each list's scores as z-scores of its finite ones; -inf (a seen movie that filled a
    list of a small catalogue) stays -inf."""
    finite = np.isfinite(scores)
    values = np.where(finite, scores, np.nan)
    mean = np.nanmean(values, axis=1, keepdims=True)
    spread = np.maximum(np.nanstd(values, axis=1, keepdims=True), 1e-9)
    return np.where(finite, (values - mean) / spread, -np.inf)


def alone(scores: dict[str, np.ndarray], lists) -> dict:
    out = {}
    for part in PARTS:
        hr, ndcg = list_metrics(scores[part], lists[part])
        out[f"{part}_hr@10"] = round(hr, 4)
        if part == "test":
            out["test_ndcg@10"] = round(ndcg, 4)
    return out


def fused(scorer: dict, family: dict, lists) -> dict:
    """The scorer plus the family at the weight best on validation, measured on test."""

    def at(part, weight):
        total = standardised(scorer[part]) + weight * standardised(family[part])
        return list_metrics(total, lists[part])

    validation = {w: at("validation", w)[0] for w in WEIGHTS}
    weight = max(WEIGHTS, key=validation.get)
    hr, ndcg = at("test", weight)
    return {
        "weight": weight,
        "fused_validation_hr@10": round(validation[weight], 4),
        "fused_test_hr@10": round(hr, 4),
        "fused_test_ndcg@10": round(ndcg, 4),
    }


def every_family(scorer: dict, families: dict[str, dict], lists) -> dict:
    """The scorer plus the families greedy selection picks: from the scorer alone, each step
    adds the unpicked family and weight that lift validation (HR@10, NDCG@10) most, until
    none does. The chosen weights are read on test."""
    z = {name: {p: standardised(s[p]) for p in PARTS} for name, s in families.items()}
    total = {p: standardised(scorer[p]) for p in PARTS}
    best = list_metrics(total["validation"], lists["validation"])
    chosen: dict[str, float] = {}
    while len(chosen) < len(families):
        lift, name, weight = max(
            (list_metrics(total["validation"] + w * z[n]["validation"], lists["validation"]), n, w)
            for n in families
            if n not in chosen
            for w in WEIGHTS
        )
        if lift <= best:
            break
        best, chosen[name] = lift, weight
        total = {p: total[p] + weight * z[name][p] for p in PARTS}
    hr, ndcg = list_metrics(total["test"], lists["test"])
    return {
        "chosen": chosen,
        "fused_validation_hr@10": round(best[0], 4),
        "fused_test_hr@10": round(hr, 4),
        "fused_test_ndcg@10": round(ndcg, 4),
    }


def to_markdown(result: dict) -> str:
    lines = [
        f"# What else could the ranker read? {result['dataset']}, temporal split",
        "",
        "Lists of the served retrieval model (validation, test: "
        + ", ".join(
            f"{p} {n} of {q} users hold the user's movie" for p, (n, q) in result["lists"].items()
        )
        + "). HR@10 and NDCG@10 over all users. Fused: z-scores within each list, the "
        "scorer's plus the family's times the weight best on validation.",
        "",
        "| scores | validation HR@10 | test HR@10 | test NDCG@10 | weight "
        "| fused: validation HR@10 | fused: test HR@10 | fused: test NDCG@10 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["rows"].items():
        cells = [
            r.get(k, "")
            for k in (
                "validation_hr@10",
                "test_hr@10",
                "test_ndcg@10",
                "weight",
                "fused_validation_hr@10",
                "fused_test_hr@10",
                "fused_test_ndcg@10",
            )
        ]
        lines.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    chosen = result["rows"][EVERY_FAMILY]["chosen"]
    lines += [
        "",
        "Every family at once: the families and weights chosen, in order: "
        + (", ".join(f"{n} {w}" for n, w in chosen.items()) or "none")
        + ".",
        "",
        f"{result['seconds']} s.",
        "",
    ]
    return "\n".join(lines)
