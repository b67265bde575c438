"""Charts a person can read: zoomed bars for close values, labelled trade-off points."""

from __future__ import annotations

import matplotlib.pyplot as plt

from core import plots


def _axes_of(monkeypatch):
    """Captures the axes each chart draws on (the files are written as usual)."""
    seen = []
    original = plots._save

    def save(fig, path):
        seen.append(fig.axes[0])
        original(fig, path)

    monkeypatch.setattr(plots, "_save", save)
    monkeypatch.setattr(plt, "close", lambda fig: None)
    return seen


def test_zoomed_bars_start_near_the_smallest_value(tmp_path, monkeypatch):
    seen = _axes_of(monkeypatch)
    groups = {"RMSE": {"ours": 0.883, "peer": 0.904}}
    plots.bar_chart(str(tmp_path / "a.png"), "t", groups, "error")
    plots.bar_chart(str(tmp_path / "b.png"), "t", groups, "error", zoom=True)
    assert seen[0].get_ylim()[0] == 0.0
    low, high = seen[1].get_ylim()
    assert 0.85 < low < 0.883 and high > 0.904 and "zoomed" in seen[1].get_title()
    assert (tmp_path / "b.png").read_bytes().startswith(b"\x89PNG")


def test_tradeoff_points_name_their_setting(tmp_path, monkeypatch):
    seen = _axes_of(monkeypatch)
    rows = [
        {
            "num_leaves": 100,
            "num_leaves_to_search": 10,
            "num_reordering_candidates": 50,
            "recall": 0.9,
            "ms_per_query": 1.0,
        },
        {
            "num_leaves": 200,
            "num_leaves_to_search": 20,
            "num_reordering_candidates": 0,
            "recall": 0.97,
            "ms_per_query": 1.5,
        },
    ]
    plots.tradeoff_chart(str(tmp_path / "t.png"), "t", rows, rows[1], 0.95)
    labels = {text.get_text() for text in seen[0].texts}
    assert {"100/10/50", "200/20/0"} <= labels
