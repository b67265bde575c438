"""The README's measured figures are the results files' (benchmarks/readme.py renders them)."""

from __future__ import annotations

from benchmarks import readme
from tests.conftest import REPO


def test_readme_figures_come_from_the_results_files():
    text = (REPO / "README.md").read_text()
    names = [name for _, name, _, _ in readme.BLOCK.findall(text)]
    assert sorted(names) == sorted(readme.RENDER), "every renderer has one block"
    assert readme.render(text) == text, "out of step: run `python -m benchmarks.readme`"


def test_a_block_says_when_where_and_by_what_it_was_measured():
    stamped = {
        "measured": {
            "date": "2026-11-24",
            "machine": "2 CPU cores, Linux x86_64, Python 3.11.7",
            "command": "recsys benchmark soak",
            "wall_seconds": 61.2,
        },
        "seconds": 60.0,
        "threads": 6,
        "by_kind": {"good": {}, "NaN": {}},
        "requests": 100,
        "failures": 0,
        "server_rss": {"start_mb": 1000.0, "peak_mb": 1200.4, "end_mb": 1100.0},
        "still_serving": True,
    }
    text = readme.soak(stamped)
    assert "2 kinds of request: 100 requests, 0 failures" in text and "1200 MB peak" in text
    assert text.endswith(
        "_`recsys benchmark soak`: 61 s on 2026-11-24, 2 CPU cores, Linux x86_64, "
        "Python 3.11.7._\n"
    )


def test_the_fresh_clone_run_reads_the_using_it_block_as_written():
    from benchmarks import fresh_clone

    commands = fresh_clone.using_it_commands((REPO / "README.md").read_text())
    assert commands[0] == ". .venv/bin/activate" and commands[-1] == "kill %1"
    assert "recsys serve &" in commands and "recsys status --wait 120" in commands
    assert not [c for c in commands if "#" in c]  # comments stripped
