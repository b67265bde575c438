"""Scale-up: the whole pipeline on synthetic MovieLens of growing size, stage by stage.

    recsys benchmark scale --sizes 1000000,5000000,20000000

Each size runs in its own process (so its peak memory is its own; `--repeats N`: in N
processes, each stage's median time kept): synthesize (ML-20M's
proportions: 145 ratings per user, 740 per movie), load (`data.reader = "arrow"`: TFDS's
parser takes ~110 s per million ratings), split, history,
vocabularies, the retrieval stage (one epoch, evaluation, export of both indexes) and the
ranking stage (one epoch of each model, the leakage-free candidate lists, export). Records
wall time and the process's peak RSS after each stage, and flags the stages whose time per
rating at the largest size is more than 1.5x that at the smallest. Every size runs with
`configs/large.toml` (LazyAdam), then the caller's configs and settings. Writes
`scale.{json,md,png}`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import time

from core import plots
from core.reports import write_report

RATINGS_PER_USER, RATINGS_PER_MOVIE = 145, 740  # MovieLens 20M's proportions
LARGE_CONFIG = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "large.toml")
LINEAR = 1.5  # time per rating may grow this much from the smallest to the largest size


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def one_size(ratings: int, folder: str, cfg, data_only: bool = False) -> list[dict]:
    """Every stage at one size (the data stages alone with `data_only`: up to the
    vocabularies), in this process; returns [{stage, seconds, peak_mb}]."""
    from core import dataset, synthetic
    from pipelines import jobs

    stages = []

    def timed(name, function):
        started = time.perf_counter()
        value = function()
        seconds = time.perf_counter() - started
        stages.append({"stage": name, "seconds": round(seconds, 3), "peak_mb": _peak_mb()})
        print(json.dumps(stages[-1]), flush=True)
        return value

    csv = os.path.join(folder, "csv")
    timed(
        "synthesize",
        lambda: synthetic.synthesize(
            csv, ratings, max(1, ratings // RATINGS_PER_USER), max(10, ratings // RATINGS_PER_MOVIE)
        ),
    )
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(
            cfg.data,
            dataset="movielens-csv",
            reader="arrow",
            movielens_dir=csv,
            tfds_data_dir=os.path.join(folder, "tfds"),
        ),
        run_dir=os.path.join(folder, "runs"),
        export_dir=os.path.join(folder, "models"),
    )
    names = {"load": "load (Arrow CSV reader)"}
    prepared = dataset.prepare(cfg.data, lambda name, step: timed(names.get(name, name), step))
    if data_only:
        return stages
    retrieval_run = jobs.start_run(cfg, "retrieval", prepared)
    _, served = timed(
        "retrieval: 1 epoch, evaluation, export",
        lambda: jobs.train_retrieval(cfg, retrieval_run),
    )
    ranking_run = jobs.start_run(cfg, "ranking", prepared)
    timed(
        "ranking: 1 epoch per model, lists, export",
        lambda: jobs.train_ranking(cfg, ranking_run, served),
    )
    return stages


def run(
    output_dir: str,
    sizes: list[int],
    work_dir: str,
    config_args=(),
    data_only: bool = False,
    repeats: int = 1,
) -> dict:
    """Runs every size in `repeats` child processes (`config_args`: their --config=/--set=
    arguments, after one epoch per model) and keeps each stage's median seconds and largest
    peak RSS; writes the report (`scale`, or `scale-data` for the data stages alone);
    returns it.

    Repeats: the data stages at 20M spend most of their time getting memory from the kernel
    (one 80 MB cumulative sum took 0.6 s on fresh pages, 0.03 s on pages already mapped), and
    that cost varies from process to process (load: 1.5, 2.1 and 4.4 s in three runs)."""
    results = {}
    args = [*config_args, *(["--data-only"] if data_only else [])]
    for size in sizes:
        folder = os.path.join(work_dir, f"scale-{size}")
        runs = []
        for repeat in range(repeats):
            print(f"--- {size:,} ratings in {folder} ({repeat + 1} of {repeats})", flush=True)
            runs.append(_child(size, folder, args))
        results[str(size)] = _median_run(runs)
    result = {
        "sizes": results,
        "superlinear": superlinear(results),
        "data_only": data_only,
        "repeats": repeats,
    }
    stem = os.path.join(output_dir, "scale-data" if data_only else "scale")
    write_report(stem, result, to_markdown(result))
    chart(stem + ".png", results)
    return result


def _child(size: int, folder: str, args) -> dict:
    """One size in a process of its own: {stages, seconds, exit_code}."""
    started = time.time()
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", str(size), folder, f"--config={LARGE_CONFIG}"]
        + [*ONE_EPOCH, *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    stages = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    return {
        "stages": stages,
        "seconds": round(time.time() - started, 1),
        "exit_code": child.returncode,
    }


def _median_run(runs: list[dict]) -> dict:
    """Per stage the median seconds and the largest peak of the runs that finished it."""
    names = [s["stage"] for s in max(runs, key=lambda r: len(r["stages"]))["stages"]]
    stages = []
    for name in names:
        found = [s for r in runs for s in r["stages"] if s["stage"] == name]
        seconds = sorted(s["seconds"] for s in found)
        stages.append(
            {
                "stage": name,
                "seconds": seconds[len(seconds) // 2],
                "peak_mb": max(s["peak_mb"] for s in found),
                **({"runs": seconds} if len(runs) > 1 else {}),
            }
        )
    return {
        "stages": stages,
        "seconds": sorted(r["seconds"] for r in runs)[len(runs) // 2],
        "exit_code": max((r["exit_code"] for r in runs), key=abs),
    }


ONE_EPOCH = [
    "--set=retrieval.trainer.epochs=1",
    "--set=ranking.trainer.epochs=1",
    "--set=ranking.scorer_trainer.epochs=1",
    "--set=ranking.autorec.epochs=1",
]


def superlinear(results: dict) -> list[str]:
    """Stages whose seconds per rating grew more than LINEAR from the smallest to the
    largest size that finished them."""
    sizes = sorted(int(s) for s in results)
    if len(sizes) < 2:
        return []
    flagged = []
    small = {s["stage"]: s["seconds"] / sizes[0] for s in results[str(sizes[0])]["stages"]}
    for size in reversed(sizes[1:]):
        large = {s["stage"]: s["seconds"] / size for s in results[str(size)]["stages"]}
        for stage, per_rating in large.items():
            if stage in small and small[stage] > 0 and per_rating > LINEAR * small[stage]:
                flagged.append(stage)
        if large:
            break
    return flagged


def to_markdown(result: dict) -> str:
    sizes = sorted(result["sizes"], key=int)
    stages = [s["stage"] for s in result["sizes"][sizes[0]]["stages"]]
    repeats = result.get("repeats", 1)
    lines = [
        "# Scale: synthetic MovieLens, "
        + ("the data stages" if result.get("data_only") else "one epoch per model")
        + " (seconds / peak RSS MB"
        + (f"; median of {repeats} processes per size" if repeats > 1 else "")
        + ")",
        "",
        "| stage | "
        + " | ".join(f"{int(s):,} ratings" for s in sizes)
        + " | per rating, largest / smallest |",
        "|---" + "|---:" * (len(sizes) + 1) + "|",
    ]
    for stage in stages:
        cells, per_rating = [], []
        for size in sizes:
            found = [s for s in result["sizes"][size]["stages"] if s["stage"] == stage]
            cells.append(
                f"{_seconds(found[0]['seconds'])} / {found[0]['peak_mb']:.0f}" if found else "-"
            )
            per_rating.append(found[0]["seconds"] / int(size) if found else None)
        growth = (
            f"{per_rating[-1] / per_rating[0]:.2f}x"
            if per_rating[0] and per_rating[-1] is not None
            else "-"
        )
        lines.append(f"| {stage} | " + " | ".join(cells) + f" | {growth} |")
    lines.append(
        "| **total** | "
        + " | ".join(
            f"{result['sizes'][s]['seconds']:.0f} s (exit {result['sizes'][s]['exit_code']})"
            for s in sizes
        )
        + " | |"
    )
    flagged = ", ".join(result["superlinear"]) or "none"
    lines += ["", f"Time per rating grew more than {LINEAR}x (smallest to largest): {flagged}."]
    return "\n".join(lines) + "\n"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def chart(path: str, results: dict) -> None:
    sizes = sorted(int(s) for s in results)
    stages = [s["stage"] for s in results[str(sizes[0])]["stages"]]
    series = {}
    for stage in stages:
        series[stage] = [
            next((s["seconds"] for s in results[str(n)]["stages"] if s["stage"] == stage), None)
            for n in sizes
        ]
    plots.line_panels(
        path,
        [
            {
                "title": "wall time per stage (log-log)",
                "xlabel": "ratings",
                "ylabel": "seconds",
                "series": series,
                "yscale": "log",
            }
        ],
        sizes,
    )


def main(argv: list[str]) -> int:
    from core.config import load_config
    from pipelines.config import PipelineConfig

    size, folder = int(argv[0]), argv[1]
    overrides = [a.split("=", 1)[1] for a in argv[2:] if a.startswith("--set=")]
    configs = [a.split("=", 1)[1] for a in argv[2:] if a.startswith("--config=")]
    cfg = load_config(PipelineConfig, configs or None, overrides)
    one_size(size, folder, cfg, data_only="--data-only" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
