"""`recsys benchmark soak`: good and hostile requests from several threads, for a while.

Starts `recsys serve` as its own process over exported models (so its memory is measured
alone), then for `seconds` sends from `threads` threads a mix of good requests (composite
recommender, ranking) and bad ones (unknown model, undecodable bytes, too many rows, a
shape declaring 250 million values, NaN, disagreeing batch sizes, a 10 MB string). A
request "fails" when a good one is refused or a bad one gets another status code than
expected. Writes soak.json and soak.md: requests and failures per kind, the server's RSS
at start, peak and end, and whether it is still serving.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time

import grpc

from benchmarks import server_process
from core.reports import write_report
from serving import contract, recommend
from serving.client import ServingClient, ServingClientError, to_tensor_proto
from serving.limits import RequestLimits

log = logging.getLogger(__name__)
OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("VmRSS"))
    return round(int(line.split()[1]) / 1024, 1)


def _kinds(client: ServingClient, profile) -> dict:
    """kind -> (call, expected status code)."""
    keys = {
        m: client.metadata(m)["signatures"][contract.SERVING_DEFAULT]["inputs"]
        for m in (contract.RECOMMENDER, contract.RETRIEVAL_BRUTEFORCE, contract.RANKING)
    }
    one = profile.inputs(keys[contract.RECOMMENDER])
    retrieved = client.predict(
        contract.RETRIEVAL_BRUTEFORCE, profile.inputs(keys[contract.RETRIEVAL_BRUTEFORCE])
    )
    ranking = recommend.ranking_inputs(
        profile, keys[contract.RANKING], retrieved[contract.MOVIE_IDS][0], retrieved["scores"][0]
    )
    rows = RequestLimits().max_rows
    huge = _proto_request(
        contract.RETRIEVAL_BRUTEFORCE, profile.inputs(keys[contract.RETRIEVAL_BRUTEFORCE])
    )
    huge.inputs["recent_movie_ids"].tensor_shape.dim[1].size = 250_000_000
    raw = client.channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
    return {
        "good: recommender": (lambda: client.predict(contract.RECOMMENDER, one), OK),
        "good: ranking": (lambda: client.predict(contract.RANKING, ranking), OK),
        "unknown model": (lambda: client.predict("nope", one), grpc.StatusCode.NOT_FOUND),
        "undecodable bytes": (lambda: raw(b"\xff\x00garbage", timeout=30), INVALID),
        "too many rows": (
            lambda: client.predict(
                contract.RECOMMENDER, {k: v * (rows + 1) for k, v in one.items()}
            ),
            INVALID,
        ),
        "250M-value shape": (lambda: client.prediction.Predict(huge, timeout=30), INVALID),
        "NaN": (
            lambda: client.predict(contract.RECOMMENDER, {**one, "raw_user_age": [float("nan")]}),
            INVALID,
        ),
        "batch sizes disagree": (
            lambda: client.predict(contract.RECOMMENDER, {**one, "user_id": ["1", "2"]}),
            INVALID,
        ),
        "10 MB string": (
            lambda: client.predict(contract.RECOMMENDER, {**one, "user_id": ["x" * 10_000_000]}),
            INVALID,
        ),
    }


def _proto_request(model, inputs):
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(to_tensor_proto(key, value))
    return request


def _code(call) -> grpc.StatusCode:
    try:
        call()
    except ServingClientError as e:
        return e.code
    except grpc.RpcError as e:
        return e.code()
    return OK


def run(
    model_config: str, export_dir: str, output_dir: str, seconds: float = 60, threads: int = 6
) -> dict:
    """Runs the soak; returns what it writes."""
    port = server_process.free_port()
    process = server_process.start(model_config, export_dir, port)
    counts = collections.Counter()
    failures = collections.Counter()
    try:
        with ServingClient(f"127.0.0.1:{port}", timeout=60, retries=30, backoff=0.5) as client:
            client.wait_until_available([contract.RECOMMENDER, contract.RANKING], timeout=300)
            profile = recommend.load_profiles(export_dir)[0]
            kinds = _kinds(client, profile)
            for call, _ in kinds.values():
                _code(call)  # warm up every path
            rss = {"start_mb": _rss_mb(process.pid)}
            peak = [rss["start_mb"]]
            lock = threading.Lock()
            deadline = time.monotonic() + seconds
            names = list(kinds)

            def worker(offset: int) -> None:
                i = offset
                while time.monotonic() < deadline:
                    name = names[i % len(names)]
                    call, expected = kinds[name]
                    got = _code(call)
                    with lock:
                        counts[name] += 1
                        if got != expected:
                            failures[name] += 1
                            log.warning("%s: expected %s, got %s", name, expected.name, got.name)
                    i += 1

            pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
            for thread in pool:
                thread.start()
            while any(thread.is_alive() for thread in pool):
                time.sleep(1)
                peak.append(_rss_mb(process.pid))
                log.info(
                    "soak: %d requests, %d failures, server RSS %.0f MB",
                    sum(counts.values()),
                    sum(failures.values()),
                    peak[-1],
                )
            rss.update(peak_mb=max(peak), end_mb=_rss_mb(process.pid))
            still_serving = _code(kinds["good: recommender"][0]) == OK
    finally:
        process.terminate()
        process.wait(timeout=60)
    result = {
        "seconds": seconds,
        "threads": threads,
        "requests": sum(counts.values()),
        "failures": sum(failures.values()),
        "by_kind": {
            name: {"requests": counts[name], "failures": failures[name]} for name in counts
        },
        "server_rss": rss,
        "still_serving": still_serving,
    }
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "soak"), result, markdown)
    print(markdown, end="")
    return result


def to_markdown(result: dict) -> str:
    rss = result["server_rss"]
    lines = [
        f"# Serving soak: {result['seconds']:.0f} s, {result['threads']} threads, good and bad "
        "requests mixed (`recsys serve` in its own process)",
        "",
        f"{result['requests']} requests, {result['failures']} failures (a good request refused "
        "or a bad one given another status code than expected). Server RSS: "
        f"{rss['start_mb']} MB at start, {rss['peak_mb']} MB peak, {rss['end_mb']} MB at end; "
        f"still serving: {result['still_serving']}.",
        "",
        "| kind | requests | failures |",
        "|---|---:|---:|",
    ]
    for name, row in result["by_kind"].items():
        lines.append(f"| {name} | {row['requests']} | {row['failures']} |")
    return "\n".join(lines) + "\n"
