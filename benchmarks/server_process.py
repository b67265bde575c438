"""`recsys serve` in a process of its own, for benchmarks that measure it from outside."""

from __future__ import annotations

import socket
import subprocess
import sys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    model_config: str, export_dir: str, port: int, rest_port: int = 0, *flags: str
) -> subprocess.Popen:
    """`recsys serve` over `export_dir` on loopback (REST off when `rest_port` is 0)."""
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "serve",
        "--model-config",
        model_config,
        "--models-dir",
        export_dir,
        "--port",
        str(port),
        "--rest_api_port",
        str(rest_port),
        *flags,
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
