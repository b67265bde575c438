"""PNG charts of benchmark and tuning results (matplotlib, no display needed)."""

from __future__ import annotations

import logging

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)

log = logging.getLogger(__name__)


def bar_chart(
    path: str, title: str, groups: dict[str, dict[str, float]], ylabel: str, zoom: bool = False
) -> None:
    """Grouped bars: one group per outer key, one bar per model (inner key), values on top.

    Args:
      path: The PNG to write.
      groups: {group label: {model name: value}}; every group should name the same models.
      zoom: Start the axis near the smallest value instead of 0, so close values (RMSE 0.883
        against 0.904) look different; the title says the axis is zoomed.
    """
    models = list(dict.fromkeys(m for values in groups.values() for m in values))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(groups) * max(1, len(models)) / 2, 4))
    colours = plt.get_cmap("tab10" if len(models) <= 10 else "tab20").colors  # one per model
    for i, model in enumerate(models):
        xs = [g + (i - (len(models) - 1) / 2) * width for g in range(len(groups))]
        ys = [values.get(model, float("nan")) for values in groups.values()]
        bars = ax.bar(xs, ys, width, label=model, color=colours[i % len(colours)])
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel(ylabel)
    values = [v for group in groups.values() for v in group.values() if v == v]
    if zoom and values:
        low, high = min(values), max(values)
        pad = 0.25 * (high - low) or 0.05 * abs(high)
        ax.set_ylim(max(0.0, low - pad), high + pad)
        title += " (axis zoomed)"
    ax.set_title(title)
    ax.legend(
        fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )  # beside the bars, never over them
    _save(fig, path)


def tradeoff_chart(path: str, title: str, rows: list[dict], chosen: dict, target: float) -> None:
    """Recall against latency of every index setting tried; the chosen one is marked.

    Args:
      rows: Dicts with `recall` and `ms_per_query` (as `retrieval.tune` measures them).
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    ms = np.array([r["ms_per_query"] for r in rows])
    spread = np.array([r.get("ms_spread", [m, m]) for r, m in zip(rows, ms)]).reshape(-1, 2)
    ax.errorbar(
        ms,
        [r["recall"] for r in rows],
        xerr=[ms - spread[:, 0], spread[:, 1] - ms],
        fmt="o",
        markersize=4,
        elinewidth=0.8,
        label="settings tried (median, range over rounds)",
    )
    ax.scatter(
        [chosen["ms_per_query"]], [chosen["recall"]], s=80, marker="*", color="red", label="chosen"
    )
    for row in rows:  # which setting each point is: leaves / leaves searched / reordered
        label = (
            f"{row['num_leaves']}/{row['num_leaves_to_search']}/"
            f"{row['num_reordering_candidates']}"
        )
        ax.annotate(label, (row["ms_per_query"], row["recall"]), fontsize=6, alpha=0.7)
    ax.axhline(target, linestyle="--", color="grey", linewidth=1, label=f"target {target}")
    ax.set_xlabel("median ms per query (points: leaves/searched/reordered)")
    ax.set_ylabel("recall against brute force")
    ax.set_title(title)
    ax.legend(fontsize=8)
    _save(fig, path)


def line_panels(path: str, panels: list[dict], xs: list) -> None:
    """Side-by-side line charts over the same x values (log scale, ticks at each x).

    Args:
      panels: Dicts with `title`, `xlabel`, `ylabel`, `series` ({label: [y per x]}) and
        optionally `yscale` ("log").
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, panel in zip(axes if len(panels) > 1 else [axes], panels):
        for label, ys in panel["series"].items():
            ax.plot(xs, ys, marker="o", label=label)
        ax.set(xlabel=panel["xlabel"], ylabel=panel["ylabel"], title=panel["title"], xscale="log")
        ax.set_yscale(panel.get("yscale", "linear"))
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.legend(fontsize=8)
    _save(fig, path)


def _save(fig, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    log.info("wrote %s", path)
