"""Multi-worker training on TensorFlow's own engine: `MultiWorkerMirroredStrategy` through the
standard `TF_CONFIG`.

Each worker is a process whose `TF_CONFIG` names the cluster (`{"cluster": {"worker":
["host:port", ...]}, "task": {"type": "worker", "index": i}}`); all run the same training
job, every step's gradients are all-reduced over gRPC, and worker 0 (the chief) writes the
run folder and the exports (the others write theirs to a scratch folder, as TensorFlow's
multi-worker guide asks). `launch` starts N such workers on loopback. The strategy must be
created before TensorFlow runs any op in the process, so entry points call `strategy()`
first.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import subprocess
import sys

TF_CONFIG = "TF_CONFIG"
log = logging.getLogger(__name__)


def cluster_workers() -> list[str]:
    """The workers `TF_CONFIG` names ([] outside a cluster)."""
    config = json.loads(os.environ.get(TF_CONFIG) or "{}")
    return list(config.get("cluster", {}).get("worker", []))


def worker_index() -> int:
    """This process's index in the cluster (0, the chief, outside one)."""
    config = json.loads(os.environ.get(TF_CONFIG) or "{}")
    return int(config.get("task", {}).get("index", 0))


def is_multi_worker() -> bool:
    return len(cluster_workers()) > 1


@functools.cache
def strategy():
    """MultiWorkerMirroredStrategy in a cluster of several workers, else the default one."""
    import tensorflow as tf

    if is_multi_worker():
        log.info(
            "multi-worker training: worker %d of %d (%s)",
            worker_index(),
            len(cluster_workers()),
            ", ".join(cluster_workers()),
        )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(argv: list[str], workers: int) -> int:
    """Runs `recsys <argv>` as `workers` processes of one loopback cluster; returns the
    worst exit code."""
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(workers)]
    processes = []
    for index in range(workers):
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, TF_CONFIG: json.dumps(config)}
        command = [sys.executable, "-m", "pipelines.cli", *argv]
        processes.append(subprocess.Popen(command, env=env))
    return max(p.wait() for p in processes)
