"""Results as files a person can open: `<stem>.json` beside `<stem>.md`, each JSON stamped
with when, where and by what command it was measured (`measured`)."""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time

log = logging.getLogger(__name__)

_STARTED = time.time()  # about the process start: the CLI imports this module first


def measured() -> dict:
    """When, on what and by which command a result was measured, and the wall time so far."""
    program = os.path.basename(sys.argv[0])
    if sys.argv[0].endswith(".py"):  # `python -m package.module`
        module = os.path.relpath(os.path.abspath(sys.argv[0]))[:-3].replace(os.sep, ".")
        program = program if module.startswith(".") else f"python -m {module}"
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} CPU cores ({cpu_model()}), {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}",
        "command": " ".join([program, *sys.argv[1:]]),
        "wall_seconds": round(time.time() - _STARTED, 1),
    }


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's model name: the same seed trains differently on different CPUs (their
    floating-point paths differ), so a result says which one measured it."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write_report(stem: str, result: dict, markdown: str) -> None:
    """Writes `result` (plus `measured`) to `<stem>.json` and `markdown` to `<stem>.md`,
    creating the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump({**result, "measured": measured()}, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(markdown)
    log.info("wrote %s.json and %s.md", stem, stem)
