"""One worker against N: the same retrieval job, the same data and epochs, side by side.

    recsys benchmark workers --workers 2

Runs `recsys train retrieval` once as a single process and once as `--workers N` processes
of a loopback cluster (MultiWorkerMirroredStrategy through TF_CONFIG), each into a folder of
its own, every epoch run (early stopping's patience at least the epochs), and compares
their test recall and wall time. Writes `multi-worker.{json,md}`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from core.reports import write_report

EPOCHS = 10


def _train(workers: int, folder: str, config_args: list[str]) -> dict:
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "train",
        "retrieval",
        "--workers",
        str(workers),
        *config_args,
        f"--set=retrieval.trainer.epochs={EPOCHS}",
        f"--set=retrieval.trainer.early_stopping_patience={EPOCHS}",
        f"--set=run_dir={folder}/runs",
        f"--set=export_dir={folder}/models",
    ]
    print("$", " ".join(command[2:]), flush=True)
    started = time.time()
    code = subprocess.run(command).returncode
    seconds = round(time.time() - started, 1)
    metrics_path = os.path.join(folder, "runs", "latest", "retrieval", "metrics.json")
    if code != 0 or not os.path.isfile(metrics_path):
        return {"workers": workers, "exit_code": code, "seconds": seconds}
    with open(metrics_path) as f:
        test = json.load(f)["test"]
    return {
        "workers": workers,
        "exit_code": code,
        "seconds": seconds,
        "recall@10": test["recall"]["10"],
        "recall@50": test["recall"]["50"],
        "recall@100": test["recall"]["100"],
    }


def run(output_dir: str, work_dir: str, workers: int, config_args: list[str]) -> dict:
    rows = [_train(n, os.path.join(work_dir, f"workers-{n}"), config_args) for n in (1, workers)]
    one, many = rows
    relative = (
        abs(many["recall@100"] - one["recall@100"]) / one["recall@100"]
        if "recall@100" in one and "recall@100" in many
        else None
    )
    result = {
        "epochs": EPOCHS,
        "runs": rows,
        "relative_recall@100_difference": relative,
        "within_5_percent": relative is not None and relative <= 0.05,
    }
    lines = [
        f"# Retrieval, 1 worker against {workers} (loopback cluster), {EPOCHS} epochs each",
        "",
        "| workers | Recall@10 | Recall@50 | Recall@100 | wall time | exit |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [f"{r[k]:.4f}" if k in r else "-" for k in ("recall@10", "recall@50", "recall@100")]
        lines.append(
            f"| {r['workers']} | "
            + " | ".join(cells)
            + f" | {r['seconds']:.0f} s | {r['exit_code']} |"
        )
    if relative is not None:
        lines += ["", f"Recall@100 differs by {100 * relative:.1f} % (relative; target <= 5 %)."]
    write_report(os.path.join(output_dir, "multi-worker"), result, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return result
