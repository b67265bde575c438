"""Server-side request batching, as TensorFlow Serving's BasicBatchScheduler does it.

Requests for the same model version and signature join an open batch until it holds
`max_batch_size` rows or `batch_timeout_micros` have passed since its first request; closed
batches wait in a queue of at most `max_enqueued_batches` (a full queue answers UNAVAILABLE,
as TensorFlow Serving does) and are run by `num_batch_threads` threads. A batch is merged
along the first dimension (variable-length inputs padded), run once, and split back. With
`allowed_batch_sizes`, the merged batch is padded with copies of its first row up to the
next allowed size. If a merged batch fails, each request in it is run alone, so an error in
one request fails only that request.

Read from TensorFlow Serving's own `--batching_parameters_file` (BatchingParameters).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

import grpc
import numpy as np
from google.protobuf import text_format

from core import features as F
from serving.config_protos import BatchingParameters
from serving.manager import ServingError

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
    """TensorFlow Serving's BatchingParameters (defaults: this project's CPU settings).

    Attributes:
      max_batch_size: Rows of one merged batch; a larger request runs alone.
      batch_timeout_micros: How long an open batch waits for more requests.
      max_enqueued_batches: Closed batches waiting for a thread; beyond, UNAVAILABLE.
      num_batch_threads: Threads running batches (at most this many model calls at once).
      allowed_batch_sizes: Sizes a merged batch is padded up to (ascending, last one equal to
        max_batch_size); empty: any size.
      pad_variable_length_inputs: Pad inputs whose second dimension differs between requests
        (histories of different lengths) with the registry's padding value; otherwise such
        requests run alone.
    """

    max_batch_size: int = 32
    batch_timeout_micros: int = 2000
    max_enqueued_batches: int = 64
    num_batch_threads: int = 2
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = True

    def __post_init__(self):
        sizes = list(self.allowed_batch_sizes)
        if self.max_batch_size < 1 or self.num_batch_threads < 1 or self.max_enqueued_batches < 1:
            raise ValueError(
                "max_batch_size, num_batch_threads and max_enqueued_batches must be >= 1"
            )
        if sizes and (sizes != sorted(set(sizes)) or sizes[-1] != self.max_batch_size):
            raise ValueError(
                "allowed_batch_sizes must be increasing and end with max_batch_size "
                f"({self.max_batch_size}); got {sizes}"
            )


def read_batching_parameters(path: str) -> BatchingOptions:
    """BatchingOptions from a BatchingParameters text proto; unset fields keep the defaults.

    Raises:
      ValueError: naming the file, when it does not parse or breaks a rule.
    """
    try:
        with open(path) as f:
            proto = text_format.Parse(f.read(), BatchingParameters())
    except (OSError, text_format.ParseError) as e:
        raise ValueError(f"batching parameters {path!r}: {e}") from None
    values = {}
    for field in (
        "max_batch_size",
        "batch_timeout_micros",
        "max_enqueued_batches",
        "num_batch_threads",
    ):
        if proto.HasField(field):
            values[field] = getattr(proto, field).value
    if proto.allowed_batch_sizes:
        values["allowed_batch_sizes"] = tuple(proto.allowed_batch_sizes)
    values["pad_variable_length_inputs"] = proto.pad_variable_length_inputs
    try:
        return BatchingOptions(**values)
    except ValueError as e:
        raise ValueError(f"batching parameters {path!r}: {e}") from None


@dataclasses.dataclass
class _Task:
    arrays: Arrays
    rows: int
    future: Future


@dataclasses.dataclass
class _Queue:
    run: Callable[[Arrays], Arrays]
    open: list = dataclasses.field(default_factory=list)
    open_rows: int = 0
    deadline: float = 0.0
    closed: deque = dataclasses.field(default_factory=deque)


def _pad_value(dtype: np.dtype):
    """The registry's padding value: "" for strings (what the models ignore), 0 otherwise."""
    return F.PAD.encode() if dtype.kind == "O" else 0


def merge(tasks: list[_Task], pad: bool) -> Arrays | None:
    """Concatenates the tasks' inputs along the batch dimension, padding the second one of
    variable-length inputs when `pad`; None when they cannot be merged."""
    merged = {}
    for name in tasks[0].arrays:
        parts = [t.arrays[name] for t in tasks]
        tails = {p.shape[1:] for p in parts}
        if len(tails) == 1:
            merged[name] = np.concatenate(parts, axis=0)
            continue
        if not pad or len({len(t) for t in tails}) > 1:
            return None
        longest = tuple(max(sizes) for sizes in zip(*tails))
        rows = sum(len(p) for p in parts)
        out = np.full((rows, *longest), _pad_value(parts[0].dtype), dtype=parts[0].dtype)
        start = 0
        for p in parts:  # each part into the top-left corner of its rows
            out[(slice(start, start + len(p)), *(slice(0, n) for n in p.shape[1:]))] = p
            start += len(p)
        merged[name] = out
    return merged


class BatchScheduler:
    """Batches requests per key (model, version, signature) and runs them on its threads."""

    def __init__(self, options: BatchingOptions):
        self.options = options
        self._lock = threading.Condition()
        self._queues: dict[tuple, _Queue] = {}
        self._stopped = False
        self.stats = {"batches": 0, "requests": 0}  # merged model calls, requests they answered
        self._threads = [
            threading.Thread(target=self._work, name=f"batch-{i}", daemon=True)
            for i in range(options.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def batchable(self, arrays: Arrays) -> int:
        """Rows of a request that can join a batch (every input has them), else 0."""
        rows = {a.shape[0] if a.ndim else 0 for a in arrays.values()}
        if len(rows) != 1:
            return 0
        (n,) = rows
        return n if 0 < n <= self.options.max_batch_size else 0

    def submit(
        self, key: tuple, run: Callable[[Arrays], Arrays], arrays: Arrays, rows: int
    ) -> Future:
        """Queues one request; the future gets its outputs or its error.

        Raises:
          ServingError: UNAVAILABLE when the queue of closed batches is full.
        """
        future: Future = Future()
        options = self.options
        with self._lock:
            queue = self._queues.setdefault(key, _Queue(run))
            queue.run = run
            if queue.open and queue.open_rows + rows > options.max_batch_size:
                self._close(queue)
            if len(queue.closed) >= options.max_enqueued_batches:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The batch scheduling queue to which this task was submitted is full",
                )
            if not queue.open:
                queue.deadline = time.monotonic() + options.batch_timeout_micros / 1e6
            queue.open.append(_Task(arrays, rows, future))
            queue.open_rows += rows
            if queue.open_rows >= options.max_batch_size:
                self._close(queue)
            self._lock.notify()
        return future

    def _close(self, queue: _Queue) -> None:
        queue.closed.append((queue.run, queue.open))
        queue.open, queue.open_rows = [], 0

    def _next_batch(self):
        """(run, tasks) of the oldest ready batch, waiting for one; None once stopped."""
        with self._lock:
            while not self._stopped:
                now, wake = time.monotonic(), None
                for queue in self._queues.values():
                    if queue.open and queue.deadline <= now:
                        self._close(queue)
                    if queue.closed:
                        return queue.closed.popleft()
                    if queue.open:
                        wake = min(wake or queue.deadline, queue.deadline)
                self._lock.wait(None if wake is None else max(wake - now, 0))
            return None

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            run, tasks = batch
            self._run(run, tasks)

    def _run(self, run, tasks: list[_Task]) -> None:
        merged = merge(tasks, self.options.pad_variable_length_inputs) if len(tasks) > 1 else None
        if merged is None:
            for task in tasks:
                _settle(task, run, task.arrays)
            return
        total = sum(t.rows for t in tasks)
        with self._lock:
            self.stats["batches"] += 1
            self.stats["requests"] += len(tasks)
        target = next((s for s in self.options.allowed_batch_sizes if s >= total), total)
        if target > total:  # pad the batch with copies of its first row
            merged = {
                k: np.concatenate([v, np.repeat(v[:1], target - total, axis=0)])
                for k, v in merged.items()
            }
        try:
            outputs = run(merged)
            if any(v.ndim == 0 or v.shape[0] != target for v in outputs.values()):
                raise ValueError("an output has no batch dimension")
        except Exception:  # one bad request must not fail the others: run each alone
            for task in tasks:
                _settle(task, run, task.arrays)
            return
        start = 0
        for task in tasks:
            task.future.set_result({k: v[start : start + task.rows] for k, v in outputs.items()})
            start += task.rows

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)


def _settle(task: _Task, run, arrays: Arrays) -> None:
    try:
        task.future.set_result(run(arrays))
    except Exception as e:
        task.future.set_exception(e)
