"""Server-side batching: the scheduler on its own, then batched answers against unbatched
ones over real gRPC on loopback."""

from __future__ import annotations

import dataclasses
import pathlib
import threading
import time

import grpc
import numpy as np
import pytest

from serving import contract
from serving.batching import (
    BatchingOptions,
    BatchScheduler,
    _Task,
    merge,
    read_batching_parameters,
)
from serving.client import ServingClient
from serving.manager import ServingError
from tests.conftest import MODELS_CONFIG
from tests.serving.conftest import start_server
from tests.serving.test_server import PROFILE


def _echo(calls):
    """A model that records its batch sizes and returns each row's history joined."""

    def run(arrays):
        calls.append(len(arrays["ids"]))
        if any(b"bad" in row for row in arrays["ids"].ravel()):
            raise ValueError("bad input")
        joined = np.array([b"|".join(row) for row in arrays["ids"]], dtype=object)
        return {"joined": joined, "twice": arrays["x"] * 2}

    return run


def _request(ids, x):
    return {"ids": np.array([ids], dtype=object), "x": np.array([x], dtype=np.float32)}


def test_requests_are_merged_padded_split_and_isolated():
    calls = []
    scheduler = BatchScheduler(BatchingOptions(max_batch_size=4, batch_timeout_micros=200_000))
    try:
        requests = [_request([b"a"], 1.0), _request([b"b", b"c"], 2.0), _request([b"bad"], 3.0)]
        futures = [scheduler.submit("m", _echo(calls), r, 1) for r in requests]
        first, second = futures[0].result(10), futures[1].result(10)
        with pytest.raises(ValueError, match="bad input"):
            futures[2].result(10)
    finally:
        scheduler.stop()
    # one merged call (3 rows, the history padded with ""), which failed; then each alone
    assert calls == [3, 1, 1, 1]
    assert first["joined"].tolist() == [b"a"] and first["twice"].tolist() == [2.0]
    assert second["joined"].tolist() == [b"b|c"] and second["twice"].tolist() == [4.0]


def test_merge_pads_variable_length_inputs_with_the_padding_value():
    def task(ids, counts):
        arrays = {"ids": np.array(ids, dtype=object), "n": np.array(counts, dtype=np.int64)}
        return _Task(arrays, len(ids), None)

    tasks = [task([[b"a"]], [[1]]), task([[b"b", b"c", b"d"], [b"e", b"f", b"g"]], [[2, 3]] * 2)]
    merged = merge(tasks, pad=True)
    assert merged["ids"].tolist() == [[b"a", b"", b""], [b"b", b"c", b"d"], [b"e", b"f", b"g"]]
    assert merged["n"].tolist() == [[1, 0], [2, 3], [2, 3]] and merged["n"].dtype == np.int64
    assert merge(tasks, pad=False) is None  # such requests then run alone


def test_full_batches_run_at_once_and_allowed_sizes_pad_the_batch():
    calls = []
    options = BatchingOptions(
        max_batch_size=4, batch_timeout_micros=10_000_000, allowed_batch_sizes=(2, 4)
    )
    scheduler = BatchScheduler(options)
    try:
        futures = [scheduler.submit("m", _echo(calls), _request([b"a"], i), 1) for i in range(4)]
        assert [f.result(5)["twice"].tolist() for f in futures] == [[0.0], [2.0], [4.0], [6.0]]
        assert calls == [4], "a full batch does not wait for the timeout"
        calls.clear()
        options = dataclasses.replace(options, batch_timeout_micros=1000)
    finally:
        scheduler.stop()
    scheduler = BatchScheduler(options)
    try:
        futures = [scheduler.submit("m", _echo(calls), _request([b"a"], i), 1) for i in range(3)]
        assert [f.result(5)["twice"].tolist() for f in futures] == [[0.0], [2.0], [4.0]]
        assert calls == [4], "3 rows padded to the allowed size 4"
    finally:
        scheduler.stop()


def test_a_full_queue_answers_unavailable():
    release = threading.Event()

    def slow(arrays):
        release.wait(10)
        return {"twice": arrays["x"] * 2}

    options = BatchingOptions(
        max_batch_size=1, batch_timeout_micros=0, max_enqueued_batches=1, num_batch_threads=1
    )
    scheduler = BatchScheduler(options)
    try:
        running = scheduler.submit("m", slow, _request([b"a"], 1.0), 1)
        time.sleep(0.2)  # the thread has taken it
        scheduler.submit("m", slow, _request([b"a"], 2.0), 1)  # waits in the queue
        with pytest.raises(ServingError) as e:
            scheduler.submit("m", slow, _request([b"a"], 3.0), 1)
        assert e.value.code == grpc.StatusCode.UNAVAILABLE and "queue" in e.value.message
        release.set()
        assert running.result(10)["twice"].tolist() == [2.0]
    finally:
        release.set()
        scheduler.stop()


def test_batching_parameters_file(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("max_batch_size { value: 8 }\nallowed_batch_sizes: [4, 8]\n")
    options = read_batching_parameters(str(path))
    assert options.max_batch_size == 8 and options.allowed_batch_sizes == (4, 8)
    assert not options.pad_variable_length_inputs, "TF Serving's default"
    shipped = read_batching_parameters(
        str(pathlib.Path(MODELS_CONFIG).with_name("batching.config"))
    )
    assert shipped.pad_variable_length_inputs
    path.write_text("max_batch_size { value: 8 }\nallowed_batch_sizes: [4, 6]\n")
    with pytest.raises(ValueError, match="end with max_batch_size"):
        read_batching_parameters(str(path))


def _users(n):
    """n different users, with histories of different lengths."""
    movies = [str(m) for m in range(1, 11)]
    return [
        dataclasses.replace(
            PROFILE,
            user_id=str(1 + i % 5),
            raw_user_age=20.0 + i,
            recent_movie_ids=movies[i % 7 : i % 7 + 1 + i % 4],
            seen_movie_ids=movies[: i % 3],
        )
        for i in range(n)
    ]


def _answers(address, models, users) -> list[dict]:
    """Every user's outputs of every model, all users sent at once from their own threads."""
    out = [None] * len(users)
    with ServingClient(address, timeout=60, retries=0) as client:
        keys = {
            m: client.metadata(m)["signatures"][contract.SERVING_DEFAULT]["inputs"] for m in models
        }

        def call(i):
            out[i] = {m: client.predict(m, users[i].inputs(keys[m])) for m in models}

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(users))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return out


def test_batched_answers_equal_unbatched_ones(models_dir):
    models = [contract.RECOMMENDER, contract.RETRIEVAL_BRUTEFORCE]
    users = _users(24)
    answers = {}
    for batching in (None, BatchingOptions(max_batch_size=8, batch_timeout_micros=50_000)):
        running = start_server(models_dir, models, batching=batching)
        try:
            answers[batching is not None] = _answers(running.address, models, users)
            if batching:
                stats = running.batcher.stats
                assert stats["requests"] > stats["batches"], f"nothing was merged: {stats}"
        finally:
            running.stop()
    for alone, batched in zip(answers[False], answers[True]):
        for model in models:
            assert alone[model].keys() == batched[model].keys()
            for key, value in alone[model].items():
                if value.dtype == object:
                    assert value.tolist() == batched[model][key].tolist(), (model, key)
                else:
                    np.testing.assert_allclose(value, batched[model][key], rtol=0, atol=1e-5)
