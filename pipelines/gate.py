"""The export gate, like TFX's blessing: a model is exported only if its test metrics are
finite and not worse than the last blessed export on the same data by more than a margin.

Every version under `<export_dir>/<model>/` passed the gate (or was forced), so the newest
one with the same lineage (dataset, split, vocabulary: the same test set) is the last
blessed model. The decision and its numbers go to `<run>/<stage>/blessing.json`.
"""

from __future__ import annotations

import json
import math
import os

from pipelines.config import GateConfig
from serving import contract, savedmodel

# The metric each model is judged by (a path into its test metrics) and whether higher is
# better: retrieval by leakage-free Recall@100, the ranker by the RMSE of its rating head.
JUDGED = {"retrieval": ("recall.100", True), "ranking": ("rmse", False)}
# Metrics that are finite for any model that trained (NDCG may be undefined on tiny data).
MUST_BE_FINITE = ("rmse", "mae", "recall", "hr")
BLESSING_FILE = "blessing.json"


class ExportRefused(ValueError):
    """The gate refused the export; the message says why and what to change."""

    def __init__(self, decision: dict):
        super().__init__(decision["reason"])
        self.decision = decision


def numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Nested metrics flattened to {"a.b": value}."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(numbers(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def last_blessed(base: str, lineage: str) -> tuple[int, dict] | None:
    """(version, test metrics) of the newest export under `base` with this lineage."""
    for version in reversed(savedmodel.versions(base)):
        path = os.path.join(base, str(version), contract.METADATA_FILE)
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            meta = json.load(f)
        if meta.get(contract.LINEAGE) == lineage:
            return version, meta.get("test_metrics", {})
    return None


def decide(
    model: str, metrics: dict, judged: dict, lineage: str, base: str, cfg: GateConfig
) -> dict:
    """The gate's decision for `model` with test `metrics` (`judged`: the part holding the
    judged metric), to be exported under `base`."""
    flat = numbers(metrics)
    bad = {
        k: v
        for k, v in flat.items()
        if any(p.split("@")[0] in MUST_BE_FINITE for p in k.split(".")) and not math.isfinite(v)
    }
    key, higher_is_better = JUDGED[model]
    value = numbers(judged).get(key)
    decision = {"model": model, "metric": key, "value": value, "margin": cfg.margin}
    if bad:
        reason = (
            f"{model} not exported: its test metrics are not finite ({bad}); training diverged. "
            "Lower trainer.learning_rate (or the scorer_trainer's) and train again"
        )
        return {**decision, "blessed": False, "reason": reason}
    previous = last_blessed(base, lineage)
    if previous is None or value is None:
        reason = f"finite metrics; no earlier {model} export on {lineage} to compare with"
        return {**decision, "blessed": True, "reason": reason}
    version, old_metrics = previous
    old = numbers(old_metrics).get(key)
    decision["baseline"] = {"version": version, "value": old}
    if old is None:
        return {**decision, "blessed": True, "reason": f"version {version} has no {key}"}
    worse = (old - value) / abs(old) if higher_is_better else (value - old) / abs(old)
    if worse <= cfg.margin:
        reason = f"{key} {value:.4f} vs {old:.4f} of version {version}: within the margin"
        return {**decision, "blessed": True, "reason": reason}
    reason = (
        f"{model} not exported: {key} {value:.4f} is {100 * worse:.1f} % worse than the "
        f"blessed version {version} ({old:.4f}) on the same data (margin "
        f"{100 * cfg.margin:g} %); {base} keeps serving version {version}. Set "
        "gate.force=true to export it anyway"
    )
    return {**decision, "blessed": False, "reason": reason}


def apply(
    run_dir: str,
    model: str,
    metrics: dict,
    judged: dict,
    lineage: str,
    base: str,
    cfg: GateConfig,
) -> dict:
    """Decides, writes `<run_dir>/blessing.json`, and raises ExportRefused unless blessed
    (or forced). Returns the decision."""
    decision = decide(model, metrics, judged, lineage, base, cfg)
    if not decision["blessed"] and cfg.force and "not finite" not in decision["reason"]:
        decision = {**decision, "forced": True}
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, BLESSING_FILE), "w") as f:
        json.dump(decision, f, indent=2)
    if not decision["blessed"] and not decision.get("forced"):
        raise ExportRefused(decision)
    return decision
