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
import tempfile
import time

from core import env as _env  # noqa: F401  (before tensorflow)
from core import logs
from core.config import ConfigError, load_config
from core.reports import write_report
from pipelines.config import PipelineConfig
from serving import contract
from serving.limits import RequestLimits

log = logging.getLogger("recsys")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="TOML config file (see configs/); repeat to layer files, later ones win",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set data.seed=7 (repeatable)",
    )
    parser.add_argument(
        "--dataset",
        choices=("movielens-100k", "movielens-latest-small"),
        help="shorthand for --set data.dataset=...",
    )
    parser.add_argument(
        "--split", choices=("random", "temporal"), help="shorthand for --set data.split=..."
    )
    parser.add_argument(
        "--movielens-dir",
        help="folder with ml-100k/ and/or ml-latest-small.zip (default: $RECSYS_MOVIELENS_DIR; "
        "empty: TFDS downloads)",
    )
    parser.add_argument("--export-dir", help="shorthand for --set export_dir=... (default models)")


def _config(args: argparse.Namespace) -> PipelineConfig:
    overrides = list(args.overrides)
    shorthands = {
        "dataset": "data.dataset",
        "split": "data.split",
        "movielens_dir": "data.movielens_dir",
        "export_dir": "export_dir",
    }
    for flag, key in shorthands.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={json.dumps(value)}")
    return load_config(PipelineConfig, args.config, overrides)


def cmd_data_synthesize(args: argparse.Namespace) -> int:
    """Synthetic MovieLens in the ml-20m layout (see core.synthetic)."""
    from core import synthetic

    synthetic.synthesize(args.out, args.ratings, args.users, args.movies, seed=args.seed)
    return 0


def cmd_data_summary(args: argparse.Namespace) -> int:
    """Prints (and optionally writes) ratings, users, movies, split sizes, histogram, time range."""
    from core import data, splits
    from pipelines import summary

    cfg = _config(args)
    movielens = data.load(cfg.data)
    split = splits.make_split(movielens.ratings, cfg.data)
    result = summary.summarize(movielens, split, cfg.data.split)
    markdown = summary.to_markdown(result)
    print(markdown, end="")
    if args.output:
        write_report(
            os.path.join(args.output, f"summary-{cfg.data.dataset}-{cfg.data.split}"),
            result,
            markdown,
        )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Trains, evaluates and exports one stage or both (`all`: plus the composite recommender)."""
    from core import distribute

    if getattr(args, "workers", 1) > 1:  # each worker runs this same command, without --workers
        return distribute.launch(_without_option(args.argv, "--workers"), args.workers)
    distribute.strategy()  # before TensorFlow runs any op (a cluster's collectives need it)
    from pipelines import jobs

    cfg = _config(args)
    if distribute.worker_index() > 0:  # not the chief: its run folder and exports are scratch
        scratch = tempfile.mkdtemp(prefix=f"recsys-worker-{distribute.worker_index()}-")
        cfg = dataclasses.replace(cfg, run_dir=scratch, export_dir=scratch)
    cfg = jobs.new_run(cfg)
    if args.train_job == "all":
        jobs.train_all(cfg)
        return 0
    started = time.time()
    run = jobs.start_run(cfg, args.train_job)
    train = {"retrieval": jobs.train_retrieval, "ranking": jobs.train_ranking}[args.train_job]
    result, _ = train(cfg, run)
    jobs.export_profiles(cfg, run.prepared)
    jobs.write_run_summary(cfg, run.prepared, {args.train_job: result}, started)
    return 0


def _without_option(argv: list[str], option: str) -> list[str]:
    """`argv` less `option VALUE` / `option=VALUE`."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg.startswith(option + "="):
            skip = False
            continue
        if arg == option:
            skip = True
            continue
        kept.append(arg)
    return kept


def cmd_benchmark_retrieval(args: argparse.Namespace) -> int:
    """Our model, popularity and the TFRS tutorial model on both splits; ScaNN vs brute force."""
    from benchmarks import retrieval_quality

    retrieval_quality.run(_config(args), args.output)
    return 0


def cmd_benchmark_ranking(args: argparse.Namespace) -> int:
    """Our rating model against MF, biases, global mean and the TFRS tutorial model."""
    from benchmarks import ranking_quality

    ranking_quality.run(_config(args), args.output)
    return 0


def cmd_benchmark_recommend(args: argparse.Namespace) -> int:
    """End to end on the temporal split: the exported two-stage recommender against the peers."""
    from benchmarks import recommend_quality

    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        recommend_quality.run_seeds(_config(args), args.output, seeds)
    else:
        recommend_quality.run(_config(args), args.output, train=not args.skip_training)
    return 0


def cmd_benchmark_signals(args: argparse.Namespace) -> int:
    """Families the ranker does not read, alone and fused with the scorer, on the temporal split."""
    from benchmarks import ranker_signals

    ranker_signals.run(_config(args), args.output)
    return 0


def cmd_benchmark_serving(args: argparse.Namespace) -> int:
    """gRPC latency of retrieval, ranking and both two-stage paths over exported models."""
    from benchmarks import serving_latency

    cfg = _config(args)
    serving_latency.run(args.model_config, cfg.export_dir, args.output, users=args.users, k=args.k)
    return 0


def cmd_benchmark_load(args: argparse.Namespace) -> int:
    """Throughput and latency of the composite recommender: streams x batching x protocol."""
    from benchmarks import serving_load

    cfg = _config(args)
    levels = tuple(int(n) for n in args.streams.split(","))
    serving_load.run(
        args.model_config,
        cfg.export_dir,
        args.output,
        args.batching_parameters_file,
        seconds=args.seconds,
        levels=levels,
    )
    return 0


def cmd_benchmark_scale(args: argparse.Namespace) -> int:
    """Synthetic MovieLens of growing size through the whole pipeline, stage by stage."""
    from benchmarks import scale

    sizes = [int(s) for s in args.sizes.split(",") if s]
    _config(args)  # a wrong key or value fails here, before any size runs
    extra = [f"--config={c}" for c in args.config] + [f"--set={o}" for o in args.overrides]
    result = scale.run(
        args.output, sizes, args.work_dir, extra, data_only=args.data_only, repeats=args.repeats
    )
    print(scale.to_markdown(result), end="")
    return 0 if all(r["exit_code"] == 0 for r in result["sizes"].values()) else 1


def cmd_benchmark_workers(args: argparse.Namespace) -> int:
    """The retrieval job on 1 worker and on N, same data and epochs."""
    from benchmarks import multi_worker

    _config(args)
    extra = [f"--config={c}" for c in args.config] + [f"--set={o}" for o in args.overrides]
    result = multi_worker.run(args.output, args.work_dir, args.workers, extra)
    return 0 if all(r["exit_code"] == 0 for r in result["runs"]) else 1


def cmd_benchmark_index(args: argparse.Namespace) -> int:
    """ScaNN over a million movies (real ones plus synthetic) against brute force."""
    from benchmarks import million_index

    million_index.run(_config(args), args.output, movies=args.movies, target=args.target)
    return 0


def cmd_benchmark_soak(args: argparse.Namespace) -> int:
    """Good and hostile requests from several threads against `recsys serve`; its memory."""
    from benchmarks import serving_soak

    cfg = _config(args)
    result = serving_soak.run(
        args.model_config, cfg.export_dir, args.output, seconds=args.seconds, threads=args.threads
    )
    return 0 if result["failures"] == 0 and result["still_serving"] else 1


def cmd_embeddings(args: argparse.Namespace) -> int:
    """Projector files or 2-D maps of the movie (and user) embeddings."""
    from pipelines import embeddings, jobs

    cfg = _config(args)
    run = jobs.run_folder(cfg.run_dir)
    output = args.output or os.path.join(cfg.run_dir, "embeddings")
    if args.embeddings_job == "export":
        written = embeddings.export_projector(run, cfg.export_dir, output, not args.no_users)
        print(f"wrote {written} to {output}; view with: tensorboard --logdir {output}")
    else:
        for path in embeddings.plot_maps(run, cfg.export_dir, output):
            print(path)
    return 0


def cmd_benchmark_embeddings(args: argparse.Namespace) -> int:
    """Neighbour quality of the movie embeddings against random and co-rating neighbours."""
    from benchmarks import embeddings_quality

    embeddings_quality.run(_config(args), args.output)
    return 0


def cmd_tune_index(args: argparse.Namespace) -> int:
    """Grid of ScaNN settings against brute force; writes the cheapest one meeting the target."""
    from pipelines import jobs
    from retrieval import tune

    cfg = _config(args)
    run = jobs.run_folder(cfg.run_dir)
    result = tune.tune(os.path.join(run, "retrieval"), args.output, k=args.k, target=args.target)
    print(tune.to_markdown(result), end="")
    if not result["met"]:
        log.warning(
            "no setting reached recall %.2f; wrote the best found to %s", args.target, args.output
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Runs the local TensorFlow Serving-compatible gRPC server until SIGTERM/SIGINT."""
    from serving.batching import BatchingOptions, read_batching_parameters
    from serving.server import LocalServer, ServerOptions, import_scann_ops, local_manager

    batching = None
    if args.enable_batching or args.batching_parameters_file:
        try:
            batching = (
                read_batching_parameters(args.batching_parameters_file)
                if args.batching_parameters_file
                else BatchingOptions()
            )
        except ValueError as e:
            log.error("%s", e)
            return 1
        if not args.enable_batching:
            log.info(
                "%s is valid; batching is off (add --enable_batching)",
                args.batching_parameters_file,
            )
            batching = None
    import_scann_ops()
    options = ServerOptions(
        host=args.host,
        port=args.port,
        workers=args.workers,
        max_message_bytes=args.max_message_mb << 20,
        poll_seconds=args.poll_seconds,
        limits=RequestLimits(
            max_rows=args.max_rows_per_request,
            max_tensor_elements=args.max_elements_per_tensor,
            max_request_elements=args.max_elements_per_request,
            max_string_bytes=args.max_string_bytes,
        ),
        allow_config_reload=args.allow_config_reload,
        grace_seconds=args.grace_seconds,
        ssl_config_file=args.ssl_config_file or "",
        socket_path=args.grpc_socket_path or "",
        channel_arguments=args.grpc_channel_arguments or "",
        model_config_file=args.model_config,
        config_poll_seconds=args.model_config_file_poll_wait_seconds,
        batching=batching,
        rest_api_port=args.rest_api_port or None,
        allow_mixed_lineage=args.allow_mixed_lineage,
    )
    if options.host not in ("127.0.0.1", "localhost", "::1") and not options.ssl_config_file:
        log.warning(
            "serving on %s without TLS: anyone who can reach it can call it "
            "(give --ssl-config-file for TLS and client certificates)",
            options.host,
        )
    try:
        server = LocalServer(local_manager(args.model_config, args.models_dir), options).start()
    except (OSError, ValueError) as e:
        log.error("%s", e)
        return 1
    server.wait_for_termination()
    return 0


def cmd_export_recommender(args: argparse.Namespace) -> int:
    """Composes the newest retrieval_bruteforce and ranking exports into models/recommender/<v>."""
    from pipelines import composite

    print(composite.export_recommender(args.export_dir, k=args.k))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    """Two-stage recommendations over gRPC for a known user (profile from the exported table)
    or a new one. The profile and the server are checked before TensorFlow is imported."""
    from serving import recommend
    from serving.channel import ServerUnreachable, check_reachable

    try:
        profile = _request_profile(args)
        check_reachable(args.target)
    except (ValueError, FileNotFoundError, ServerUnreachable) as e:
        return _client_error(e)
    from serving.client import ServingClient, ServingClientError

    try:
        expected = recommend.profiles_lineage(args.export_dir)
    except FileNotFoundError:  # a new user without a profile table
        expected = ""
    models = (
        [contract.RECOMMENDER]
        if args.via == "composite"
        else [args.retrieval_model, contract.RANKING]
    )
    try:
        with ServingClient(args.target, timeout=args.timeout) as client:
            recommend.check_lineage(client, models, expected)
            if args.via == "composite":
                found = recommend.recommend_composite(client, profile, args.k)
            else:
                found = recommend.recommend(
                    client, profile, args.k, retrieval_model=args.retrieval_model
                )
    except (ServingClientError, ValueError) as e:
        return _client_error(e)
    print(recommend.to_json(found) if args.json else recommend.format_table(found))
    return 0


def _request_profile(args: argparse.Namespace):
    """A known user's exported profile, or a new user's from the demographics given."""
    from serving import recommend

    demographics = {
        "user_gender": None if args.gender is None else args.gender == "M",
        "bucketized_user_age": args.age_bucket,
        "raw_user_age": args.age,
        "user_occupation_text": args.occupation,
        "user_zip_code": args.zip,
    }
    seen = [m for m in (args.seen or "").split(",") if m]
    described = any(v is not None for v in demographics.values()) or seen
    if args.user_id and not described:
        return recommend.load_profile(args.export_dir, args.user_id)
    if not described:
        raise ValueError(
            "who are the recommendations for? give --user-id of a known user, or describe a "
            "new user with --gender/--age/--occupation/--zip and/or --seen"
        )
    profile = recommend.UserProfile(
        user_id=args.user_id or "",
        timestamp=args.timestamp or recommend.default_request_time(args.export_dir),
        recent_movie_ids=seen[::-1],
        seen_movie_ids=seen,
    )
    for key, value in demographics.items():
        if value is not None:
            setattr(profile, key, value)
    if args.age is not None and args.age_bucket is None:
        from core.features import AGE_BUCKETS

        profile.bucketized_user_age = max(b for b in AGE_BUCKETS if b <= max(args.age, 1))
    return profile


def _client_error(error: Exception) -> int:
    print(f"recsys: error: {error}", file=sys.stderr)
    return 2


def cmd_similar(args: argparse.Namespace) -> int:
    """ "More like this": a movie's nearest movies in the retrieval index, over gRPC."""
    from serving import recommend
    from serving.channel import ServerUnreachable, check_reachable

    try:
        movies = recommend.load_movies(args.export_dir)
        movie = movies.get(args.movie_id) if args.movie_id else None
        if args.movie_id and movie is None:
            raise ValueError(f"movie_id {args.movie_id!r} is not in {args.export_dir}/movies.json")
        movie = movie or recommend.find_movie(movies, args.title)
        check_reachable(args.target)
        from serving.client import ServingClient, ServingClientError

        try:
            with ServingClient(args.target, timeout=args.timeout) as client:
                found = recommend.similar(client, movie["movie_id"], args.model)[: args.k]
        except ServingClientError as e:
            return _client_error(e)
    except (ValueError, FileNotFoundError, ServerUnreachable) as e:
        return _client_error(e)
    print(f"Because you watched {movie['title']}:")
    for i, row in enumerate(found, 1):
        title = movies.get(row["movie_id"], {}).get("title", "?")
        print(f"{i:>3}. {title}  (movie {row['movie_id']}, similarity {row['score']:.3f})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Each model's versions and states on a server (GetModelStatus); `--wait`: until every
    model has an AVAILABLE version, e.g. right after `recsys serve &`."""
    from serving.client import ServingClient, ServingClientError

    models = [m for m in args.models.split(",") if m]
    try:
        with ServingClient(args.target, timeout=args.timeout) as client:
            if args.wait:
                client.wait_until_available(models, timeout=args.wait)
            rows = [(m, s) for m in models for s in client.status(m)]
    except ServingClientError as e:
        return _client_error(e)
    print("| model | version | state | error |\n|---|---:|---|---|")
    for model, s in rows:
        print(f"| {model} | {s['version']} | {s['state']} | {s['error']} |")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Trains both stages, exports, serves, recommends for a few users over gRPC, stops."""
    from pipelines import demo

    demo.run(_config(args), args.model_config, args.users.split(","), args.results)
    return 0


class _DefaultsFormatter(argparse.HelpFormatter):
    """Every option's help shows its default, unless the text says it already."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, [], argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Parsers and sub-parsers that show defaults (sub-parsers are made of this class too)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="recsys", description="Two-stage MovieLens recommender on TensorFlow Recommenders."
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    jobs = parser.add_subparsers(dest="job", required=True, metavar="JOB")

    data_parser = jobs.add_parser("data", help="inspect the data")
    data_jobs = data_parser.add_subparsers(dest="data_job", required=True, metavar="DATA_JOB")
    summary_parser = data_jobs.add_parser(
        "summary", help="ratings, users, movies, split sizes, rating histogram, time range"
    )
    _add_config_options(summary_parser)
    summary_parser.add_argument(
        "--output", help="also write summary-<dataset>-<split>.{json,md} here"
    )
    summary_parser.set_defaults(handler=cmd_data_summary)
    synth_parser = data_jobs.add_parser(
        "synthesize",
        help="synthetic MovieLens of any size (ratings.csv, movies.csv): read it back with "
        "--dataset movielens-csv --movielens-dir OUT",
    )
    synth_parser.add_argument("--ratings", type=int, required=True, help="ratings to write")
    synth_parser.add_argument("--users", type=int, required=True, help="users")
    synth_parser.add_argument("--movies", type=int, required=True, help="movies")
    synth_parser.add_argument("--out", required=True, help="folder to write")
    synth_parser.add_argument("--seed", type=int, default=0, help="random seed")
    synth_parser.set_defaults(handler=cmd_data_synthesize)

    train_parser = jobs.add_parser("train", help="train, evaluate and export")
    train_jobs = train_parser.add_subparsers(dest="train_job", required=True, metavar="STAGE")
    for stage, text in (
        (
            "retrieval",
            "two-tower retrieval; exports <export-dir>/retrieval{,_bruteforce}/<version>",
        ),
        ("ranking", "DCN-v2 + deep MLP ranking model; exports <export-dir>/ranking/<version>"),
        ("all", "both stages on one split, then the composite <export-dir>/recommender/<version>"),
    ):
        stage_parser = train_jobs.add_parser(stage, help=text)
        _add_config_options(stage_parser)
        if stage == "retrieval":
            stage_parser.add_argument(
                "--workers",
                type=int,
                default=1,
                help="train with this many worker processes on loopback "
                "(MultiWorkerMirroredStrategy; or set TF_CONFIG per process yourself)",
            )
        stage_parser.set_defaults(handler=cmd_train)

    bench_parser = jobs.add_parser("benchmark", help="measure models against peers, side by side")
    bench_jobs = bench_parser.add_subparsers(dest="bench_job", required=True, metavar="MODEL")

    def benchmark(name, handler, text, files, serves=False):
        parser = bench_jobs.add_parser(name, help=text)
        _add_config_options(parser)
        if serves:
            parser.add_argument(
                "--model-config",
                default="configs/serving/models.config",
                help="ModelServerConfig text proto (default configs/serving/models.config)",
            )
        parser.add_argument(
            "--output",
            default="benchmarks/results",
            help=f"folder for {name}.{{{files}}} (default benchmarks/results)",
        )
        parser.set_defaults(handler=handler)
        return parser

    benchmark(
        "retrieval",
        cmd_benchmark_retrieval,
        "three protocols, our model vs popularity and the TFRS tutorial; ScaNN vs brute force",
        "json,md,png",
    )
    benchmark(
        "ranking",
        cmd_benchmark_ranking,
        "RMSE, MAE, NDCG@10: our model vs MF, biases, global mean, the TFRS tutorial",
        "json,md,png",
    )
    bench_recommend = benchmark(
        "recommend",
        cmd_benchmark_recommend,
        "what users receive: the exported two-stage recommender vs retrieval alone and peers",
        "json,md,png",
    )
    bench_recommend.add_argument(
        "--skip-training",
        action="store_true",
        help="evaluate the models already in --export-dir (trained on the temporal split)",
    )
    bench_recommend.add_argument(
        "--seeds",
        default="",
        help="train and evaluate once per seed (comma-separated), into recommend-seeds.{json,md}: "
        "the spread a single run hides",
    )
    benchmark(
        "signals",
        cmd_benchmark_signals,
        "would the ranker gain from what it does not read: other families fused with the scorer",
        "json,md,png",
    )
    bench_serving = benchmark(
        "serving",
        cmd_benchmark_serving,
        "gRPC latency of each serving path over exported models (local server, loopback)",
        "json,md,png",
        serves=True,
    )
    bench_serving.add_argument(
        "--users", type=int, default=200, help="user profiles to send (default 200)"
    )
    bench_serving.add_argument(
        "--k", type=int, default=10, help="movies recommended per user (default 10)"
    )
    benchmark(
        "embeddings",
        cmd_benchmark_embeddings,
        "neighbour quality of the movie embeddings against peers",
        "json,md",
    )
    bench_load = benchmark(
        "load",
        cmd_benchmark_load,
        "throughput and latency under concurrent streams, batching off and on",
        "json,md,png",
        serves=True,
    )
    bench_load.add_argument(
        "--batching_parameters_file",
        default="configs/serving/batching.config",
        help="batching of the 'batching on' server (default configs/serving/batching.config)",
    )
    bench_load.add_argument(
        "--streams", default="1,8,32,64", help="concurrency levels (default 1,8,32,64)"
    )
    bench_load.add_argument(
        "--seconds", type=float, default=10.0, help="seconds per level (default 10)"
    )
    bench_soak = benchmark(
        "soak",
        cmd_benchmark_soak,
        "good and hostile requests from several threads; server memory (loopback)",
        "json,md",
        serves=True,
    )
    bench_soak.add_argument(
        "--seconds", type=float, default=60.0, help="how long to send (default 60)"
    )
    bench_soak.add_argument("--threads", type=int, default=6, help="sending threads (default 6)")
    bench_scale = benchmark(
        "scale",
        cmd_benchmark_scale,
        "the whole pipeline on synthetic data of growing size: time and peak RSS per stage",
        "json,md,png",
    )
    bench_scale.add_argument(
        "--sizes", default="1000000,5000000,20000000", help="ratings per run, comma-separated"
    )
    bench_scale.add_argument(
        "--work-dir", default="runs/scale", help="where each size's data, runs and models go"
    )
    bench_scale.add_argument(
        "--data-only",
        action="store_true",
        help="only the data stages (load to vocabularies), into scale-data.{json,md,png}",
    )
    bench_scale.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="processes per size; each stage's median time is reported (default 1)",
    )
    bench_workers = benchmark(
        "workers",
        cmd_benchmark_workers,
        "retrieval trained by one worker against N on loopback: recall and time",
        "json,md",
    )
    bench_workers.add_argument("--workers", type=int, default=2, help="workers of the cluster")
    bench_workers.add_argument(
        "--work-dir", default="runs/multi-worker", help="where both runs keep their files"
    )
    bench_index = benchmark(
        "index",
        cmd_benchmark_index,
        "a million-movie ScaNN index against its brute-force twin: tuning, size, load, serving",
        "json,md,png",
    )
    bench_index.add_argument(
        "--movies", type=int, default=1_000_000, help="catalogue size, real movies included"
    )
    bench_index.add_argument(
        "--target", type=float, default=0.95, help="recall@100 the tuned setting must reach"
    )

    emb_parser = jobs.add_parser("embeddings", help="look at what the towers learned")
    emb_jobs = emb_parser.add_subparsers(dest="embeddings_job", required=True)
    for name, text in (
        ("export", "TensorBoard Projector files: movie and user vectors with metadata"),
        ("plot", "2-D PCA and t-SNE maps of the movie vectors (PNG)"),
    ):
        sub = emb_jobs.add_parser(name, help=text)
        _add_config_options(sub)
        sub.add_argument("--output", help="folder to write (default <run_dir>/embeddings)")
        if name == "export":
            sub.add_argument("--no-users", action="store_true", help="movies only")
        sub.set_defaults(handler=cmd_embeddings)
    tune_parser = jobs.add_parser(
        "tune-index", help="cheapest ScaNN setting meeting a recall target"
    )
    _add_config_options(tune_parser)
    tune_parser.add_argument(
        "--k", type=int, default=10, help="recall@k against brute force (default 10)"
    )
    tune_parser.add_argument(
        "--target", type=float, default=0.95, help="recall target (default 0.95)"
    )
    tune_parser.add_argument(
        "--output",
        default="results/index-tuned.toml",
        help="TOML [index] file to write (plus .json, .md and .png beside it)",
    )
    tune_parser.set_defaults(handler=cmd_tune_index)

    export_parser = jobs.add_parser("export", help="export a composed model")
    export_jobs = export_parser.add_subparsers(dest="export_job", required=True, metavar="MODEL")
    export_recommender = export_jobs.add_parser(
        "recommender",
        help="retrieval_bruteforce + seen filter + ranking in one SavedModel (stock ops)",
    )
    export_recommender.add_argument(
        "--export-dir", default="models", help="models base folder (default models)"
    )
    export_recommender.add_argument(
        "--k", type=int, default=10, help="movies returned per user (default 10)"
    )
    export_recommender.set_defaults(handler=cmd_export_recommender)

    serve_parser = jobs.add_parser(
        "serve", help="local server speaking TensorFlow Serving's gRPC API"
    )
    serve_parser.add_argument(
        "--model-config",
        default="configs/serving/models.config",
        help="ModelServerConfig text proto",
    )
    serve_parser.add_argument(
        "--models-dir", default="models", help="local folder standing for /models in the config"
    )
    serve_parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default loopback only)"
    )
    serve_parser.add_argument("--port", type=int, default=8500, help="gRPC port (default 8500)")
    serve_parser.add_argument(
        "--rest_api_port",
        "--rest-api-port",
        type=int,
        default=8501,
        help="REST API port (default 8501; 0 turns REST off)",
    )
    serve_parser.add_argument(
        "--workers", type=int, default=8, help="threads running models (default 8)"
    )
    serve_parser.add_argument(
        "--max-message-mb", type=int, default=64, help="largest request/response, MiB (default 64)"
    )
    serve_parser.add_argument(
        "--poll-seconds",
        "--file_system_poll_wait_seconds",
        type=float,
        default=2.0,
        help="how often version folders are checked (default 2)",
    )
    serve_parser.add_argument(
        "--enable_batching",
        "--enable-batching",
        action="store_true",
        help="merge concurrent Predict requests into batches (TF Serving's flag)",
    )
    serve_parser.add_argument(
        "--batching_parameters_file",
        "--batching-config",
        help="TF Serving BatchingParameters text proto (default: max_batch_size 32, "
        "timeout 2000 us, 2 threads)",
    )
    limits = RequestLimits()
    for flag, default, what in (
        ("--max-rows-per-request", limits.max_rows, "rows (batch size) per request"),
        ("--max-elements-per-tensor", limits.max_tensor_elements, "elements of one input"),
        ("--max-elements-per-request", limits.max_request_elements, "elements of all inputs"),
        ("--max-string-bytes", limits.max_string_bytes, "bytes of one string value"),
    ):
        serve_parser.add_argument(
            flag, type=int, default=default, help=f"at most this many {what} (default {default})"
        )
    serve_parser.add_argument(
        "--allow-config-reload",
        action="store_true",
        help="let clients change the served models with HandleReloadConfigRequest (default off)",
    )
    serve_parser.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="re-read --model-config this often, applying changes (default 0: read once)",
    )
    serve_parser.add_argument(
        "--grace-seconds",
        type=float,
        default=30.0,
        help="on SIGTERM, how long in-flight requests may finish (default 30)",
    )
    serve_parser.add_argument(
        "--ssl-config-file",
        "--ssl_config_file",
        help="TensorFlow Serving SSLConfig text proto: TLS and optional client certificates",
    )
    serve_parser.add_argument(
        "--grpc-socket-path", "--grpc_socket_path", help="also listen on this unix socket"
    )
    serve_parser.add_argument(
        "--grpc-channel-arguments",
        "--grpc_channel_arguments",
        help='gRPC server arguments, "key=value,..."',
    )
    serve_parser.add_argument(
        "--allow-mixed-lineage",
        action="store_true",
        help="serve models trained on different data side by side (refused by default)",
    )
    serve_parser.set_defaults(handler=cmd_serve)

    rec_parser = jobs.add_parser("recommend", help="two-stage recommendations over gRPC")
    rec_parser.add_argument(
        "--export-dir",
        default="models",
        help="where the models and their user profile table were exported",
    )
    rec_parser.add_argument(
        "--user-id",
        help="a known user (profile from the exported table); with new-user options below, "
        "the id given to a new user",
    )
    rec_parser.add_argument("--k", type=int, default=10, help="how many movies (default 10)")
    rec_parser.add_argument("--target", default="localhost:8500", help="server host:port")
    rec_parser.add_argument(
        "--timeout", type=float, default=10.0, help="deadline per call, seconds"
    )
    rec_parser.add_argument(
        "--via",
        choices=("client", "composite"),
        default="client",
        help="client: retrieval + ranking calls; composite: one call to `recommender`",
    )
    rec_parser.add_argument(
        "--retrieval-model", default="retrieval", help="retrieval or retrieval_bruteforce"
    )
    rec_parser.add_argument("--gender", choices=("M", "F"), help="new user: gender")
    rec_parser.add_argument("--age", type=float, help="new user: age in years")
    rec_parser.add_argument(
        "--age-bucket", type=float, help="new user: TFDS age bucket (default from --age)"
    )
    rec_parser.add_argument(
        "--occupation", help="new user: occupation (ML-100K's words, e.g. writer)"
    )
    rec_parser.add_argument("--zip", help="new user: zip code")
    rec_parser.add_argument(
        "--seen", help="new user: comma-separated movie ids already rated, oldest first"
    )
    rec_parser.add_argument(
        "--timestamp",
        type=int,
        help="new user: request time, seconds since 1970 (default: the end of the training "
        "data, the latest request time in --export-dir's profile table)",
    )
    rec_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rec_parser.set_defaults(handler=cmd_recommend)

    similar_parser = jobs.add_parser(
        "similar", help='"more like this": a movie\'s nearest movies in the retrieval index'
    )
    which = similar_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--movie-id", help="the movie's id")
    which.add_argument("--title", help='the title or part of it, e.g. "Star Wars"')
    similar_parser.add_argument("--k", type=int, default=10, help="movies to show (default 10)")
    similar_parser.add_argument(
        "--model",
        default="retrieval",
        help="retrieval (ScaNN) or retrieval_bruteforce (exact) (default retrieval)",
    )
    similar_parser.add_argument(
        "--export-dir", default="models", help="where movies.json was exported (default models)"
    )
    similar_parser.add_argument(
        "--target", default="localhost:8500", help="server host:port (default localhost:8500)"
    )
    similar_parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per call (default 10)"
    )
    similar_parser.set_defaults(handler=cmd_similar)

    status_parser = jobs.add_parser(
        "status", help="each served model's versions and states (GetModelStatus)"
    )
    status_parser.add_argument("--target", default="localhost:8500", help="server host:port")
    status_parser.add_argument(
        "--models",
        default=",".join(
            [
                contract.RETRIEVAL,
                contract.RETRIEVAL_BRUTEFORCE,
                contract.RANKING,
                contract.RECOMMENDER,
            ]
        ),
        help="comma-separated model names",
    )
    status_parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for every model to be AVAILABLE"
    )
    status_parser.add_argument("--timeout", type=float, default=10.0, help="deadline per call, s")
    status_parser.set_defaults(handler=cmd_status)

    demo_parser = jobs.add_parser(
        "demo", help="the main job: train both, export, serve, recommend, stop"
    )
    _add_config_options(demo_parser)
    demo_parser.add_argument("--model-config", default="configs/serving/models.config")
    demo_parser.add_argument("--users", default="42,196", help="comma-separated known user ids")
    demo_parser.add_argument("--results", default="results", help="folder for demo.json")
    demo_parser.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `recsys` console script; returns the process exit code.

    As the console script (`argv` None) below DEBUG, native libraries' INFO and WARNING lines
    are filtered out of stderr (`core.logs`); called with `argv`, the process is left alone.
    """
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.log_level != "DEBUG":
        if argv is None:
            logs.filter_native_stderr()
        logs.quiet_libraries()
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.handler(args)
    except (ConfigError, FileNotFoundError, ValueError) as e:  # DataError is a ValueError
        if args.log_level == "DEBUG":
            raise  # the full traceback
        print(f"recsys: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
