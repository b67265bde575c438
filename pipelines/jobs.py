"""The training jobs: prepare once, train, evaluate, export, in one direction.

`train_retrieval`, `train_ranking` and `train_all` each write a run folder per stage
(`<run_dir>/<stage>`: resolved config, vocabularies, metrics as JSON and Markdown,
TensorBoard logs) and export SavedModels plus the user profile table into `export_dir`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import numpy as np
import tensorflow as tf

from core import features as F
from core.config import save_config, to_dict
from core.data import take
from core.dataset import Prepared, prepare, seen_movies
from core.reports import write_report
from pipelines import composite, gate
from pipelines.config import PipelineConfig
from ranking import candidates
from ranking import export as ranking_export
from ranking import train as ranking_train
from retrieval import evaluate, tune
from retrieval import export as retrieval_export
from retrieval import train as retrieval_train
from serving import contract, recommend

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Run:
    """One stage's run: its folder, the prepared data and the vocabulary files it wrote."""

    directory: str
    prepared: Prepared
    vocab_files: dict[str, str]

    def callbacks(self, cfg) -> list[tf.keras.callbacks.Callback]:
        """TensorBoard into `<run>/tensorboard/<start time>` when the trainer config asks."""
        if not cfg.tensorboard:
            return []
        return [
            tf.keras.callbacks.TensorBoard(os.path.join(self.directory, "tensorboard", _stamp()))
        ]


LATEST = "latest"  # <run_dir>/latest -> the newest run folder
RUN_SUMMARY = "run"  # <run folder>/run.json and run.md


def new_run(cfg: PipelineConfig) -> PipelineConfig:
    """A fresh run folder `<run_dir>/<time>-<dataset>-<split>`, with `<run_dir>/latest`
    pointing at it; the returned config writes its stages there."""
    name = f"{_stamp()}-{cfg.data.dataset}-{cfg.data.split}"
    while os.path.exists(os.path.join(cfg.run_dir, name)):
        name += "+"
    os.makedirs(os.path.join(cfg.run_dir, name))
    link = os.path.join(cfg.run_dir, LATEST)
    if os.path.lexists(link + ".tmp"):
        os.remove(link + ".tmp")
    os.symlink(name, link + ".tmp")
    os.replace(link + ".tmp", link)
    log.info("run folder %s", os.path.join(cfg.run_dir, name))
    return dataclasses.replace(cfg, run_dir=os.path.join(cfg.run_dir, name))


def run_folder(run_dir: str) -> str:
    """The run folder to read: `run_dir` when it holds stages, else `<run_dir>/latest`."""
    latest = os.path.join(run_dir, LATEST)
    if not os.path.isdir(os.path.join(run_dir, "retrieval")) and os.path.isdir(latest):
        return os.path.realpath(latest)
    return run_dir


def start_run(cfg: PipelineConfig, stage: str, prepared: Prepared | None = None) -> Run:
    """Creates `<run_dir>/<stage>`, prepares the data (unless given), saves the config as
    it is applied to that data and writes its vocabularies there once."""
    directory = os.path.join(cfg.run_dir, stage)
    os.makedirs(directory, exist_ok=True)
    prepared = prepared or prepare(cfg.data)
    save_config(applied_config(cfg, prepared), os.path.join(directory, "config.json"))
    prepared.vocab.save(directory)
    return Run(directory, prepared, prepared.vocab.write_files(os.path.join(directory, "vocab")))


def applied_config(cfg: PipelineConfig, prepared: Prepared) -> PipelineConfig:
    """`cfg` as the models really use it: without demographics where the data has none
    (ml-latest-small), said once as a warning."""
    if prepared.vocab.has_demographics:
        return cfg
    asked = [
        stage
        for stage, model in (("retrieval", cfg.retrieval.model), ("ranking", cfg.ranking.model))
        if model.use_demographics
    ]
    if not asked:
        return cfg
    log.warning(
        "%s has no user demographics (age, gender, occupation, zip): the %s model%s use ids, "
        "history and time only; use_demographics is recorded as false",
        cfg.data.dataset,
        " and ".join(asked),
        "s" if len(asked) > 1 else "",
    )
    off = {"use_demographics": False}
    return dataclasses.replace(
        cfg,
        retrieval=dataclasses.replace(
            cfg.retrieval, model=dataclasses.replace(cfg.retrieval.model, **off)
        ),
        ranking=dataclasses.replace(
            cfg.ranking, model=dataclasses.replace(cfg.ranking.model, **off)
        ),
    )


def write_run_summary(cfg: PipelineConfig, prepared: Prepared, stages: dict, started: float) -> str:
    """`<run_dir>/run.json` and `run.md`: what this run trained on, each stage's test
    metrics, the export gate's decision and where its models went. Returns the JSON path."""
    summary = {
        "dataset": cfg.data.dataset,
        "split": cfg.data.split,
        contract.LINEAGE: lineage(cfg, prepared),
        "export_dir": os.path.abspath(cfg.export_dir),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "stages": stages,
    }
    rows = [
        "| stage | judged by | value | exported | gate |",
        "|---|---|---:|:---:|---|",
    ]
    for stage, result in stages.items():
        blessing = result.get("blessing") if isinstance(result, dict) else None
        if blessing:
            value = "" if blessing["value"] is None else f"{blessing['value']:.4f}"
            rows.append(
                f"| {stage} | {blessing['metric']} | {value} | "
                f"{'yes' if 'exports' in result else 'no'} | {blessing['reason']} |"
            )
    markdown = (
        f"# Run: {cfg.data.dataset}, {cfg.data.split} split\n\n"
        f"Lineage `{summary[contract.LINEAGE]}`; models in `{summary['export_dir']}`; "
        f"{summary['seconds']} s.\n\n" + "\n".join(rows) + "\n"
    )
    stem = os.path.join(cfg.run_dir, RUN_SUMMARY)
    write_report(stem, summary, markdown)
    return stem + ".json"


@dataclasses.dataclass(frozen=True)
class TrainedRetrieval:
    """A trained retrieval model and its catalogue embeddings ([num_movies, d])."""

    model: object
    movies: np.ndarray

    def scores(self, queries) -> np.ndarray:
        """[n, num_movies] exact scores of query columns."""
        return retrieval_train.scorer(self.model, self.movies)(queries)


def fit_retrieval(cfg: PipelineConfig, run: Run, train_part=None) -> TrainedRetrieval:
    """Fits the towers (on `train_part`, default the train part) and embeds the catalogue once."""
    model = retrieval_train.train(
        cfg.retrieval,
        run.prepared,
        run.vocab_files,
        cfg.data.seed,
        train_part=train_part,
        callbacks=run.callbacks(cfg.retrieval.trainer),
    )
    return TrainedRetrieval(
        model, retrieval_train.catalogue_embeddings(model, run.prepared.catalogue)
    )


def train_retrieval(cfg: PipelineConfig, run: Run) -> tuple[dict, TrainedRetrieval]:
    """Trains the two towers, evaluates every protocol on test, exports both indexes.

    The catalogue embeddings are computed once and used for evaluation, export and the
    saved embeddings (`<run>/embeddings.npz`, read by `recsys tune-index`).

    Returns:
      (the metrics and exports written to `<run>/metrics.json`, the trained model).
    """
    started = time.time()
    prepared = run.prepared
    trained = fit_retrieval(cfg, run)
    seconds = round(time.time() - started, 1)
    test = prepared.parts["test"]
    metrics = evaluate.evaluate(trained.scores, prepared, "test", seed=cfg.data.seed)
    result = {"split": cfg.data.split, "test": metrics, "train_seconds": seconds}
    export_gate(cfg, run, "retrieval", metrics, metrics, result)
    names = trained.model.query_tower.feature_names
    requests = [{n: test[n][i : i + 1] for n in names} for i in range(3)]
    exports = retrieval_export.export_all(
        trained.model.query_tower,
        prepared.catalogue[F.MOVIE_ID.name],
        trained.movies,
        cfg.retrieval.index,
        cfg.export_dir,
        requests,
        _metadata(cfg, prepared, metrics),
    )
    tune.save_embeddings(
        run.directory,
        prepared.catalogue[F.MOVIE_ID.name],
        trained.movies,
        retrieval_train.query_embeddings(trained.model, test),
    )
    result["exports"] = exports
    table = evaluate.to_markdown({"two-tower": {cfg.data.split: metrics}})
    write_report(os.path.join(run.directory, "metrics"), result, table)
    print(table, end="")
    return result, trained


def export_gate(
    cfg: PipelineConfig, run: Run, model: str, metrics: dict, judged: dict, result: dict
) -> None:
    """The export gate (pipelines.gate) for `model`; on refusal the metrics report says so
    and gate.ExportRefused propagates. The decision goes into `result["blessing"]`."""
    base = os.path.join(cfg.export_dir, _GATED_EXPORT[model])
    try:
        result["blessing"] = gate.apply(
            run.directory, model, metrics, judged, lineage(cfg, run.prepared), base, cfg.gate
        )
        log.info("export gate: %s blessed (%s)", model, result["blessing"]["reason"])
    except gate.ExportRefused as refused:
        write_report(
            os.path.join(run.directory, "metrics"),
            {**result, "exported": False, "blessing": refused.decision},
            f"{refused}\n",
        )
        raise


_GATED_EXPORT = {"retrieval": contract.RETRIEVAL_BRUTEFORCE, "ranking": contract.RANKING}


def ranking_lists(cfg: PipelineConfig, run: Run, served: TrainedRetrieval):
    """(training lists, validation lists, the earlier ratings) of the retrieval stage's
    candidates, leakage-free.

    Training lists: each user's newest `queries_per_user` training ratings, retrieved by a
    retrieval model trained on the earlier ratings only. Validation lists: the validation
    ratings, retrieved by the served model (trained on the train part, never on them).
    """
    prepared, scorer_cfg = run.prepared, cfg.ranking.scorer
    train = prepared.parts["train"]
    earlier, newest, newest_rows = candidates.hold_out_newest(train, scorer_cfg.queries_per_user)
    log.info(
        "ranker lists: retrieval on %d earlier ratings, %d newest as queries",
        len(earlier[F.USER_ID.name]),
        len(newest[F.USER_ID.name]),
    )
    window = fit_retrieval(cfg, run, train_part=earlier)
    ids = prepared.catalogue[F.MOVIE_ID.name]
    seen = candidates.rated_before(train, newest_rows, prepared.movie_index)
    train_lists = candidates.candidate_lists(
        lambda rows: window.scores(take(newest, rows)), ids, newest, seen, scorer_cfg.num_candidates
    )
    validation = prepared.parts["validation"]
    seen = seen_movies(validation[F.USER_ID.name], train, movie_index=prepared.movie_index)
    validation_lists = candidates.candidate_lists(
        lambda rows: served.scores(take(validation, rows)),
        ids,
        validation,
        seen,
        scorer_cfg.num_candidates,
    )
    return train_lists, validation_lists, earlier


def train_ranking(cfg: PipelineConfig, run: Run, served: TrainedRetrieval | None = None):
    """Trains the rating model, then the candidate scorer on the retrieval stage's lists
    (`served`: the exported retrieval model; trained here when not given); evaluates the
    rating head on test (with each half of a blend); exports the two-headed ranker.

    Returns:
      (the metrics and exports written to `<run>/metrics.json`, the two-headed ranker).
    """
    started = time.time()
    prepared = run.prepared
    rating_model = ranking_train.train(
        cfg.ranking,
        prepared,
        run.vocab_files,
        cfg.data.seed,
        callbacks=run.callbacks(cfg.ranking.trainer),
    )
    test = prepared.parts["test"]
    variants = ranking_train.variants(rating_model)
    by_part = {name: ranking_train.evaluate(v, test) for name, v in variants.items()}
    metrics = next(iter(by_part.values()))
    served = served or fit_retrieval(cfg, run)
    train_lists, validation_lists, earlier = ranking_lists(cfg, run, served)
    ranker = ranking_train.train_scorer(
        cfg.ranking,
        prepared,
        run.vocab_files,
        cfg.data.seed,
        rating_model,
        train_lists,
        validation_lists,
        earlier,
        callbacks=run.callbacks(cfg.ranking.scorer_trainer),
    )
    result = {
        "split": cfg.data.split,
        "train_seconds": round(time.time() - started, 1),
        "test": metrics,
        "test_by_part": by_part,
        "lists": {
            "train": len(train_lists),
            "validation": len(validation_lists),
            "train_queries": train_lists.num_queries,
            "validation_queries": validation_lists.num_queries,
        },
    }
    export_gate(cfg, run, "ranking", by_part, metrics, result)
    result["exports"] = {
        "ranking": ranking_export.export(
            ranker, prepared, cfg.export_dir, _metadata(cfg, prepared, metrics)
        )
    }
    table = "| rating model | RMSE | MAE | NDCG@10 |\n|---|---:|---:|---:|\n" + "".join(
        f"| {name} | {m['rmse']:.4f} | {m['mae']:.4f} | {m['ndcg@10']:.4f} |\n"
        for name, m in by_part.items()
    )
    write_report(os.path.join(run.directory, "metrics"), result, table)
    print(table, end="")
    return result, ranker


def train_all(cfg: PipelineConfig) -> dict:
    """Both stages on one prepared split, then the composite recommender and the profiles;
    the run's summary in `<run_dir>/run.json`."""
    started = time.time()
    retrieval_run = start_run(cfg, "retrieval")
    ranking_run = start_run(cfg, "ranking", retrieval_run.prepared)
    retrieval, served = train_retrieval(cfg, retrieval_run)
    result = {"retrieval": retrieval, "ranking": train_ranking(cfg, ranking_run, served)[0]}
    result["recommender"] = composite.export_recommender(cfg.export_dir, k=cfg.k)
    result["profiles"] = export_profiles(cfg, retrieval_run.prepared)
    write_run_summary(cfg, retrieval_run.prepared, result, started)
    return result


def export_profiles(cfg: PipelineConfig, prepared: Prepared) -> str:
    """Writes every known user's profile (all but their test ratings) and the movie table
    beside the models."""
    known = prepared.known()
    profiles = recommend.build_profiles(known, cfg.data.history_length)
    recommend.save_movies(cfg.export_dir, movie_table(prepared, known), lineage(cfg, prepared))
    return recommend.save_profiles(cfg.export_dir, profiles, lineage(cfg, prepared))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def movie_table(prepared: Prepared, ratings) -> list[dict]:
    """Each catalogue movie: id, title, genre names, number and mean of `ratings`."""
    catalogue = prepared.catalogue
    rows = prepared.catalogue_rows(ratings[F.MOVIE_ID.name])
    count = np.bincount(rows, minlength=len(catalogue[F.MOVIE_ID.name]))
    total = np.bincount(rows, weights=ratings[F.USER_RATING.name], minlength=len(count))
    return [
        {
            "movie_id": _text(movie_id),
            "title": _text(title),
            "genres": [g for g, on in zip(F.GENRES, genres) if on],
            "ratings": int(count[i]),
            "mean_rating": round(float(total[i] / count[i]), 3) if count[i] else None,
        }
        for i, (movie_id, title, genres) in enumerate(
            zip(
                catalogue[F.MOVIE_ID.name],
                catalogue[F.MOVIE_TITLE.name],
                catalogue[F.MOVIE_GENRES.name],
            )
        )
    ]


def lineage(cfg: PipelineConfig, prepared: Prepared) -> str:
    """What models trained on `prepared` share (contract.LINEAGE):
    "<dataset>:<split>:<vocabulary fingerprint>"."""
    return f"{cfg.data.dataset}:{cfg.data.split}:{prepared.vocab.fingerprint()}"


def _metadata(cfg: PipelineConfig, prepared: Prepared, metrics: dict) -> dict:
    return {
        contract.LINEAGE: lineage(cfg, prepared),
        "dataset": cfg.data.dataset,
        "split": cfg.data.split,
        "config": to_dict(cfg),
        "test_metrics": metrics,
    }


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")
