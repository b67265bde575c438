"""`saved_model_cli show --all` and `run`, as a user types them; each asserts a zero exit."""

from __future__ import annotations

import pathlib
import subprocess
import sys

SAVED_MODEL_CLI = str(pathlib.Path(sys.executable).with_name("saved_model_cli"))


def _run(args: list[str]) -> str:
    done = subprocess.run([SAVED_MODEL_CLI, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def show(path: str) -> str:
    """stdout of `saved_model_cli show --dir path --all`."""
    return _run(["show", "--dir", path, "--all"])


def run(path: str, input_exprs: str, signature: str = "serving_default") -> str:
    """stdout of `saved_model_cli run` on `signature`."""
    return _run(
        [
            "run",
            "--dir",
            path,
            "--tag_set",
            "serve",
            "--signature_def",
            signature,
            "--input_exprs",
            input_exprs,
        ]
    )
