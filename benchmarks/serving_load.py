"""`recsys benchmark load`: throughput and latency of the composite recommender under load.

Starts `recsys serve` in its own process (batching off, then on with
configs/serving/batching.config), and from one client process sends the composite
`recommender` random users' requests over gRPC (grpc.aio, stock tensorflow-serving-api
stubs) and REST (aiohttp), from 1, 8, 32 and 64 concurrent streams, `seconds` per level.
Writes load.json, load.md and load.png (throughput and p99 latency against concurrency).
Loopback only; client and server share this machine's cores.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time

import grpc
import numpy as np

from benchmarks import server_process
from core import plots
from core.reports import write_report
from serving import contract, recommend
from serving.client import to_tensor_proto

log = logging.getLogger(__name__)
LEVELS = (1, 8, 32, 64)


def _start(model_config: str, export_dir: str, batching_file: str | None):
    port, rest_port = server_process.free_port(), server_process.free_port()
    flags = (
        ["--enable_batching", "--batching_parameters_file", batching_file] if batching_file else []
    )
    return server_process.start(model_config, export_dir, port, rest_port, *flags), port, rest_port


async def _wait_ready(port: int, timeout: float = 300) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                answer = await stub.Check(
                    health_pb2.HealthCheckRequest(service=contract.RECOMMENDER), timeout=5
                )
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError("the server did not become ready")


async def _level(send, bodies: list, streams: int, seconds: float) -> dict:
    """`streams` loops sending for `seconds`; latencies of the answered requests."""
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds

    async def stream(offset: int) -> None:
        nonlocal failures
        i = offset
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                await send(bodies[i % len(bodies)])
                latencies.append(1000 * (time.perf_counter() - started))
            except Exception as e:  # counted, and the stream goes on
                failures += 1
                log.debug("request failed: %s", e)
            i += 1

    started = time.monotonic()
    await asyncio.gather(*(stream(s * 7) for s in range(streams)))
    elapsed = time.monotonic() - started
    ms = np.array(latencies) if latencies else np.array([float("nan")])
    return {
        "streams": streams,
        "requests": len(latencies),
        "failures": failures,
        "requests_per_second": round(len(latencies) / elapsed, 1),
        **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)},
    }


async def _measure(port: int, rest_port: int, profiles, seconds: float, levels) -> dict:
    import aiohttp
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    await _wait_ready(port)
    rows = {}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        from tensorflow_serving.apis import get_model_metadata_pb2

        meta = await stub.GetModelMetadata(
            get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec={"name": contract.RECOMMENDER}, metadata_field=["signature_def"]
            )
        )
        signatures = get_model_metadata_pb2.SignatureDefMap()
        meta.metadata["signature_def"].Unpack(signatures)
        keys = list(signatures.signature_def[contract.SERVING_DEFAULT].inputs)
        requests = []
        for profile in profiles:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = contract.RECOMMENDER
            for key, value in profile.inputs(keys).items():
                request.inputs[key].CopyFrom(to_tensor_proto(key, value))
            requests.append(request)
        bodies = [json.dumps({"inputs": p.inputs(keys)}).encode() for p in profiles]

        async def grpc_send(request):
            await stub.Predict(request, timeout=30)

        for streams in levels:
            rows[f"gRPC/{streams}"] = await _level(grpc_send, requests, streams, seconds)
            log.info("gRPC, %d streams: %s", streams, rows[f"gRPC/{streams}"])
    url = f"http://127.0.0.1:{rest_port}/v1/models/{contract.RECOMMENDER}:predict"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def rest_send(body):
            async with session.post(url, data=body) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")

        for streams in levels:
            rows[f"REST/{streams}"] = await _level(rest_send, bodies, streams, seconds)
            log.info("REST, %d streams: %s", streams, rows[f"REST/{streams}"])
    return rows


def run(
    model_config: str,
    export_dir: str,
    output_dir: str,
    batching_file: str,
    seconds: float = 10.0,
    levels=LEVELS,
    users: int = 500,
    settings: tuple[str, ...] = ("batching off", "batching on"),
) -> dict:
    """Each server setting, both protocols, every level; returns what it writes."""
    profiles = recommend.load_profiles(export_dir)
    random.Random(0).shuffle(profiles)
    profiles = profiles[:users]
    result = {"seconds_per_level": seconds, "users": len(profiles), "settings": {}}
    files = {"batching off": None, "batching on": batching_file}
    for name, batching in ((s, files[s]) for s in settings):
        process, port, rest_port = _start(model_config, export_dir, batching)
        try:
            log.info("load: %s", name)
            result["settings"][name] = asyncio.run(
                _measure(port, rest_port, profiles, seconds, levels)
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
    markdown = to_markdown(result)
    write_report(os.path.join(output_dir, "load"), result, markdown)
    _plot(os.path.join(output_dir, "load.png"), result, levels)
    print(markdown, end="")
    return result


def _plot(path: str, result: dict, levels) -> None:
    series = {"requests_per_second": {}, "p99_ms": {}}
    for setting, rows in result["settings"].items():
        for protocol in ("gRPC", "REST"):
            for metric, lines in series.items():
                lines[f"{protocol}, {setting}"] = [rows[f"{protocol}/{n}"][metric] for n in levels]
    plots.line_panels(
        path,
        [
            {
                "title": "throughput",
                "xlabel": "concurrent streams",
                "ylabel": "requests/s",
                "series": series["requests_per_second"],
            },
            {
                "title": "p99 latency",
                "xlabel": "concurrent streams",
                "ylabel": "ms",
                "series": series["p99_ms"],
            },
        ],
        list(levels),
    )


def to_markdown(result: dict) -> str:
    lines = [
        "# Load: composite `recommender`, local server in its own process, one client process "
        f"(loopback, {result['seconds_per_level']:.0f} s per level, {result['users']} users)",
        "",
        "| server | protocol | streams | req/s | p50 ms | p95 ms | p99 ms | requests | failures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for setting, rows in result["settings"].items():
        for key, r in rows.items():
            protocol = key.split("/")[0]
            lines.append(
                f"| {setting} | {protocol} | {r['streams']} | {r['requests_per_second']} | "
                f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['requests']} | "
                f"{r['failures']} |"
            )
    return "\n".join(lines) + "\n"
