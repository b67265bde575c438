"""The `recsys` command: one subcommand per job, each a function tests can call.

    recsys data summary --dataset movielens-100k --split temporal
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys

from pipelines import env as _env  # noqa: F401  (before tensorflow)
from pipelines.config import ConfigError, DataConfig, load_config
from ranking.config import RankingConfig
from retrieval.config import RetrievalConfig

log = logging.getLogger("recsys")


@dataclasses.dataclass
class DataJobConfig:
    """Config of the data jobs.

    Attributes:
      data: Which data and split.
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)


# configs/<stem>.toml -> the config class it fills (a test parses every file).
CONFIG_CLASSES: dict[str, type] = {"data": DataJobConfig, "retrieval": RetrievalConfig, "ranking": RankingConfig}


def _add_config_options(parser: argparse.ArgumentParser, default_config: str | None = None) -> None:
    parser.add_argument(
        "--config", action="append", default=[default_config] if default_config else [],
        help="TOML config file (see configs/); repeat to layer files, later ones win",
    )  # fmt: skip
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one config value, e.g. --set data.seed=7 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--dataset", choices=("movielens-100k", "movielens-latest-small"),
                        help="shorthand for --set data.dataset=...")  # fmt: skip
    parser.add_argument("--split", choices=("random", "temporal"), help="shorthand for --set data.split=...")
    parser.add_argument(
        "--movielens-dir",
        help="folder with ml-100k/ and/or ml-latest-small.zip (default: $RECSYS_MOVIELENS_DIR; "
        "empty: TFDS downloads)",
    )


def _config(cls, args: argparse.Namespace):
    overrides = list(args.overrides)
    for flag, key in (("dataset", "dataset"), ("split", "split"), ("movielens_dir", "movielens_dir")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"data.{key}={json.dumps(value)}")
    return load_config(cls, args.config, overrides)


def cmd_data_summary(args: argparse.Namespace) -> int:
    """Prints (and optionally writes) ratings, users, movies, split sizes, histogram, time range."""
    from pipelines import data, splits, summary

    cfg = _config(DataJobConfig, args)
    movielens = data.load(cfg.data)
    split = splits.make_split(movielens.ratings, cfg.data)
    result = summary.summarize(movielens, split, cfg.data.split)
    markdown = summary.to_markdown(result)
    print(markdown, end="")
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        stem = os.path.join(args.output, f"summary-{cfg.data.dataset}-{cfg.data.split}")
        with open(stem + ".json", "w") as f:
            json.dump(result, f, indent=2)
        with open(stem + ".md", "w") as f:
            f.write(markdown)
        log.info("wrote %s.json and %s.md", stem, stem)
    return 0


def cmd_train_retrieval(args: argparse.Namespace) -> int:
    """Trains the two-tower model, evaluates it on the test part, exports both indexes."""
    from retrieval import train

    train.main(_config(RetrievalConfig, args))
    return 0


def cmd_train_ranking(args: argparse.Namespace) -> int:
    """Trains the rating model, evaluates it on the test part, exports it."""
    from ranking import train

    train.main(_config(RankingConfig, args))
    return 0


def cmd_benchmark_retrieval(args: argparse.Namespace) -> int:
    """Our model, popularity and the TFRS tutorial model on both splits; ScaNN vs brute force."""
    from benchmarks import retrieval_quality

    retrieval_quality.run(_config(RetrievalConfig, args), args.output)
    return 0


def cmd_benchmark_ranking(args: argparse.Namespace) -> int:
    """Our rating model against MF, biases, global mean and the TFRS tutorial model."""
    from benchmarks import ranking_quality

    ranking_quality.run(_config(RankingConfig, args), args.output)
    return 0


def cmd_tune_index(args: argparse.Namespace) -> int:
    """Grid of ScaNN settings against brute force; writes the cheapest one meeting the target."""
    from retrieval import tune

    cfg = _config(RetrievalConfig, args)
    result = tune.tune(cfg.run_dir, args.output, k=args.k, target=args.target)
    print(tune.to_markdown(result), end="")
    if not result["met"]:
        log.warning("no setting reached recall %.2f; wrote the best found to %s", args.target, args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsys", description="Two-stage MovieLens recommender on TensorFlow Recommenders."
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    jobs = parser.add_subparsers(dest="job", required=True, metavar="JOB")

    data_parser = jobs.add_parser("data", help="inspect the data")
    data_jobs = data_parser.add_subparsers(dest="data_job", required=True, metavar="DATA_JOB")
    summary_parser = data_jobs.add_parser(
        "summary", help="ratings, users, movies, split sizes, rating histogram, time range"
    )
    _add_config_options(summary_parser, default_config=None)
    summary_parser.add_argument("--output", help="also write summary-<dataset>-<split>.{json,md} here")
    summary_parser.set_defaults(handler=cmd_data_summary)

    train_parser = jobs.add_parser("train", help="train, evaluate and export a model")
    train_jobs = train_parser.add_subparsers(dest="train_job", required=True, metavar="MODEL")
    retrieval_parser = train_jobs.add_parser(
        "retrieval", help="two-tower retrieval model; exports models/retrieval{,_bruteforce}/<version>"
    )
    _add_config_options(retrieval_parser)
    retrieval_parser.set_defaults(handler=cmd_train_retrieval)
    ranking_parser = train_jobs.add_parser(
        "ranking", help="DCN-v2 + deep MLP rating model; exports models/ranking/<version>"
    )
    _add_config_options(ranking_parser)
    ranking_parser.set_defaults(handler=cmd_train_ranking)

    bench_parser = jobs.add_parser("benchmark", help="measure models against peers, side by side")
    bench_jobs = bench_parser.add_subparsers(dest="bench_job", required=True, metavar="MODEL")
    bench_retrieval = bench_jobs.add_parser(
        "retrieval", help="three protocols, our model vs popularity and the TFRS tutorial; ScaNN vs brute force"
    )
    _add_config_options(bench_retrieval)
    bench_retrieval.add_argument("--output", default="benchmarks/results", help="folder for retrieval.{json,md}")
    bench_retrieval.set_defaults(handler=cmd_benchmark_retrieval)
    bench_ranking = bench_jobs.add_parser(
        "ranking", help="RMSE, MAE, NDCG@10: our model vs MF, biases, global mean, the TFRS tutorial"
    )
    _add_config_options(bench_ranking)
    bench_ranking.add_argument("--output", default="benchmarks/results", help="folder for ranking.{json,md}")
    bench_ranking.set_defaults(handler=cmd_benchmark_ranking)

    tune_parser = jobs.add_parser("tune-index", help="cheapest ScaNN setting meeting a recall target")
    _add_config_options(tune_parser)
    tune_parser.add_argument("--k", type=int, default=10, help="recall@k against brute force (default 10)")
    tune_parser.add_argument("--target", type=float, default=0.95, help="recall target (default 0.95)")
    tune_parser.add_argument("--output", default="results/index-tuned.toml",
                             help="TOML [index] file to write (plus .json and .md beside it)")  # fmt: skip
    tune_parser.set_defaults(handler=cmd_tune_index)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `recsys` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("absl").setLevel(max(logging.WARNING, logging.getLevelName(args.log_level)))
    from pipelines.tfds_local import DataError

    try:
        return args.handler(args)
    except (ConfigError, DataError, FileNotFoundError) as e:
        print(f"recsys: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
