"""The Makefile's install says what it does and shows pip's progress (it can take minutes)."""

from __future__ import annotations

from tests.conftest import REPO


def test_the_install_shows_progress():
    make = (REPO / "Makefile").read_text()
    installs = [line for line in make.splitlines() if "pip install" in line and " -e " in line]
    assert installs, "the Makefile installs the project"
    for line in installs:
        assert "--quiet" not in line and "--progress-bar on" in line, line
    assert "several minutes cold" in make  # a line before it says how long it may take
