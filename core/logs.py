"""Quiet output at the default log level: library chatter off, native noise filtered.

TensorFlow, ScaNN and gRPC log from C++ straight to file descriptor 2 (absl lines such as
`I0000 00:00:... partitioner_factory_base.cc:58] ...`, grappler's cost-estimator warnings,
oneDNN notices); Python logging cannot reach them. `filter_native_stderr` passes fd 2
through a forked reader that drops INFO and WARNING lines of that shape and keeps everything
else (errors, tracebacks, our own log lines). `--log-level DEBUG` turns all of it off.
"""

from __future__ import annotations

import logging
import os
import re
import signal

NATIVE_NOISE = re.compile(
    rb"^(?:[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] "  # absl INFO / WARNING
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[\d-]+ [\d:.]+: [IW] \S+\.cc:\d+\] "  # TensorFlow's own INFO / WARNING
    rb"|[\d-]+ [\d:.]+: E \S+util\.cc:\d+\] oneDNN supports DT_STRING only"
    rb"|[\d-]+ [\d:.]+: E \S+cuda_platform\.cc:\d+\] failed call to cuInit)"  # no GPU here
)
# Python-side warnings that say nothing a user can act on.
PYTHON_NOISE = ("non-serializable objects", "Assets written to", "has no dataset_info.json")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in PYTHON_NOISE)


def quiet_libraries() -> None:
    """TensorFlow's and absl's Python loggers at WARNING, their noise dropped."""
    for name in ("tensorflow", "absl"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        logger.addFilter(_DropNoise())


def filter_native_stderr() -> None:
    """Routes fd 2 through a child process that drops native INFO/WARNING lines.

    Call it before any thread starts (it forks). The child ignores SIGINT and SIGTERM, so a
    signal meant for the parent cannot cut off its last words; it exits when the parent's
    end of the pipe closes. Lines are split on `\\n` and `\\r`, so progress bars stay live.
    """
    if os.name != "posix":
        return
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(write)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pending = b""
        while data := os.read(read, 1 << 16):
            pieces = re.split(rb"(?<=[\r\n])", pending + data)
            pending = pieces.pop()
            kept = b"".join(p for p in pieces if not NATIVE_NOISE.match(p))
            if kept:
                os.write(2, kept)
        if pending and not NATIVE_NOISE.match(pending):
            os.write(2, pending)
        os._exit(0)
    os.close(read)
    os.dup2(write, 2)
    os.close(write)
