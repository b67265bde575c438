"""Hostile and careless clients, broken model folders, shutdown: one test per item of the
serving-hardening issue, over real gRPC on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import model_management_pb2, predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving import contract, savedmodel
from serving.client import (
    InvalidArgumentError,
    NotFoundError,
    ServingClient,
    ServingClientError,
    to_tensor_proto,
)
from serving.limits import RequestLimits
from tests.serving.conftest import start_server
from tests.serving.test_server import PROFILE, RETRIEVAL_INPUTS

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _recommender_inputs(client, rows=1):
    keys = client.metadata(contract.RECOMMENDER)["signatures"]["serving_default"]["inputs"]
    return {key: value * rows for key, value in PROFILE.inputs(keys).items()}


def _request(model, inputs) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(to_tensor_proto(key, value))
    return request


def _config(*models) -> model_server_config_pb2.ModelServerConfig:
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path, *platform in models:
        config.model_config_list.config.add(
            name=name, base_path=base_path, model_platform=(platform or ["tensorflow"])[0]
        )
    return config


def _reload(client, config):
    request = model_management_pb2.ReloadConfigRequest(config=config)
    return client._call(client.models.HandleReloadConfigRequest, request, timeout=120)


def _health(address, service="") -> int:
    with grpc.insecure_channel(address) as channel:
        return (
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            .status
        )


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


# 1. Config reload: only inside the models root, only valid configs, off by default.


def test_reload_accepts_only_valid_configs_inside_the_models_root(
    own_client, models_copy, tmp_path
):
    client, ranking = own_client, f"/models/{contract.RANKING}"
    outside = tmp_path / "outside"
    shutil.copytree(models_copy / contract.RANKING, outside)
    (models_copy / "link").symlink_to(outside)
    refused = {
        "absolute path elsewhere": _config(("x", str(outside))),
        "escape with ..": _config(("x", "/models/../outside")),
        "symlink out of the root": _config(("x", "/models/link")),
        "unknown platform": _config(("x", ranking, "pytorch")),
        "no name": _config(("", ranking)),
        "name twice": _config(("x", ranking), ("x", ranking)),
        "relative path": _config(("x", "models/ranking")),
    }
    messages = {}
    for why, config in refused.items():
        with pytest.raises(InvalidArgumentError) as e:
            _reload(client, config)
        messages[why] = e.value.details
    assert "outside the models folder" in messages["symlink out of the root"]
    assert "unsupported platform pytorch" in messages["unknown platform"]
    assert "has no name" in messages["no name"]
    assert "multiple times" in messages["name twice"]
    assert str(models_copy) not in "".join(messages.values()), "no server paths in messages"
    assert client.status(contract.RANKING)[0]["state"] == "AVAILABLE", "nothing changed"

    # a changed base_path is applied: the model now comes from the new folder
    moved = models_copy / "ranking_b"
    shutil.copytree(models_copy / contract.RANKING / "1", moved / "5")
    _reload(client, _config((contract.RANKING, "/models/ranking_b")))
    assert client.status(contract.RANKING)[0] == {"version": 5, "state": "AVAILABLE", "error": ""}

    # an empty list unloads everything, and health says so
    _reload(client, model_server_config_pb2.ModelServerConfig(model_config_list={}))
    address = client.target
    assert _health(address) == NOT_SERVING
    assert {s["state"] for s in client.status(contract.RANKING)} == {"END"}
    with pytest.raises(NotFoundError):
        client.predict(contract.RANKING, PROFILE.inputs(RETRIEVAL_INPUTS))


def test_reload_is_off_unless_allowed(models_dir):
    running = start_server(models_dir, [contract.RANKING], allow_config_reload=False)
    try:
        with ServingClient(running.address, timeout=30, retries=0) as client:
            with pytest.raises(ServingClientError) as e:
                _reload(client, _config(("x", "/models/ranking")))
        assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "--allow-config-reload" in e.value.details
    finally:
        running.stop()


# 2. Request limits, checked before any tensor is built.


def test_request_limits_refuse_before_allocating(client):
    limits = RequestLimits()
    too_many = _recommender_inputs(client, rows=limits.max_rows + 1)
    with pytest.raises(InvalidArgumentError, match=f"at most {limits.max_rows} per request"):
        client.predict(contract.RECOMMENDER, too_many)

    # 304 bytes declaring 250 million values, one sent: refused, nothing allocated
    request = _request(contract.RETRIEVAL_BRUTEFORCE, PROFILE.inputs(RETRIEVAL_INPUTS))
    huge = request.inputs["recent_movie_ids"]
    huge.tensor_shape.dim[1].size = 250_000_000
    before = _rss_mb()
    with pytest.raises(InvalidArgumentError, match="recent_movie_ids: shape .* at most"):
        client._call(client.prediction.Predict, request)
    huge.tensor_shape.dim[1].size = 3  # within limits, but 2 values sent for 3
    with pytest.raises(InvalidArgumentError, match=r"needs 3 values but 2 were sent"):
        client._call(client.prediction.Predict, request)
    assert _rss_mb() - before < 100

    # a 10 MB user id would be copied once per candidate by the recommender
    long_id = {**_recommender_inputs(client), "user_id": ["x" * 10_000_000]}
    with pytest.raises(InvalidArgumentError, match="user_id: a string of 10000000 bytes"):
        client.predict(contract.RECOMMENDER, long_id)

    # at the limit, the recommender answers
    at_limit = client.predict(
        contract.RECOMMENDER, _recommender_inputs(client, rows=limits.max_rows)
    )
    assert at_limit[contract.MOVIE_IDS].shape[0] == limits.max_rows


# 3. Versions follow the folders on disk; failed loads are retried when files change.


def test_failed_versions_are_retried_and_deleted_versions_unloaded(own_client, models_copy):
    client, base = own_client, models_copy / contract.RECOMMENDER
    (base / "9").mkdir()  # half-copied: the graph without its variables
    shutil.copy(base / "1" / "saved_model.pb", base / "9" / "saved_model.pb")
    assert _wait_for(lambda: _states(client, contract.RECOMMENDER).get(9) == "END")
    error = client.status(contract.RECOMMENDER, version=9)[0]["error"]
    assert error and str(models_copy) not in error, "no server paths"
    assert "/models/recommender/9" in error, "the config's path instead"
    assert _states(client, contract.RECOMMENDER)[1] == "AVAILABLE"

    shutil.rmtree(base / "9")  # repaired: the complete model copied in
    shutil.copytree(base / "1", base / "9")
    assert _wait_for(lambda: _states(client, contract.RECOMMENDER) == {9: "AVAILABLE", 1: "END"})

    shutil.rmtree(base / "9")  # the new version deleted: the previous one comes back
    assert _wait_for(lambda: _states(client, contract.RECOMMENDER) == {9: "END", 1: "AVAILABLE"})
    assert client.predict(contract.RECOMMENDER, _recommender_inputs(client))

    shutil.rmtree(models_copy / contract.RANKING / "1")  # a served version deleted: unloaded
    assert _wait_for(lambda: _states(client, contract.RANKING) == {1: "END"})
    with pytest.raises(NotFoundError):
        client.predict(contract.RANKING, PROFILE.inputs(RETRIEVAL_INPUTS))


# 4. One server per port.


def test_a_second_server_cannot_take_a_port_in_use(server, models_dir):
    from serving.server import LocalServer, ServerOptions, local_manager

    second = LocalServer(
        local_manager(_config((contract.RANKING, "/models/ranking")), str(models_dir)),
        ServerOptions(port=server.port),
    )
    with pytest.raises(OSError, match="in use"):
        second.start()


# 5. Health: answered at once under load; NOT_SERVING while no model is available.


def test_health_answers_under_load_and_reflects_availability(models_dir, tmp_path):
    running = start_server(models_dir, [contract.RECOMMENDER], workers=2)
    try:
        with ServingClient(running.address, timeout=60, retries=0) as client:
            heavy = _recommender_inputs(client, rows=256)
            threads = [
                threading.Thread(target=client.predict, args=(contract.RECOMMENDER, heavy))
                for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            time.sleep(0.3)
            started = time.monotonic()
            assert _health(running.address, "PredictionService") == SERVING
            answered = time.monotonic() - started
            busy = any(thread.is_alive() for thread in threads)
            for thread in threads:
                thread.join()
        assert busy and answered < 1.0, f"health took {answered:.2f}s while models were busy"
    finally:
        running.stop()
    empty = start_server_without_models(tmp_path)
    try:
        for service in ("", "ModelService", "PredictionService", contract.RANKING):
            assert _health(empty.address, service) == NOT_SERVING
    finally:
        empty.stop()


def start_server_without_models(folder):
    from serving.server import LocalServer, ServerOptions, local_manager

    config = _config((contract.RANKING, "/models/ranking"))
    return LocalServer(local_manager(config, str(folder)), ServerOptions(port=0)).start()


# 6. Shutdown: in-flight requests finish within the grace; the server stops promptly.


def test_shutdown_lets_in_flight_requests_finish(models_dir):
    running = start_server(models_dir, [contract.RECOMMENDER], grace_seconds=30)
    results = []
    with ServingClient(running.address, timeout=60, retries=0) as client:
        heavy = _recommender_inputs(client, rows=512)

        def call():
            try:
                results.append(client.predict(contract.RECOMMENDER, heavy)[contract.MOVIE_IDS])
            except ServingClientError as e:
                results.append(e)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        running.stop()
        stopped = time.monotonic() - started
        for thread in threads:
            thread.join()
    assert all(isinstance(r, np.ndarray) and r.shape[0] == 512 for r in results), results
    assert stopped < 30


# 7. Client mistakes are INVALID_ARGUMENT, naming the input.


def test_garbage_bytes_and_non_finite_numbers_are_invalid_argument(client):
    with grpc.insecure_channel(client.target) as channel:
        raw = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        with pytest.raises(grpc.RpcError) as e:
            raw(b"\xff\xfe not a protobuf \x00\x01", timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "could not parse" in e.value.details()
    for bad in (float("nan"), float("inf")):
        inputs = {**PROFILE.inputs(RETRIEVAL_INPUTS), "raw_user_age": [bad]}
        with pytest.raises(InvalidArgumentError, match="raw_user_age holds NaN or infinity"):
            client.predict(contract.RETRIEVAL_BRUTEFORCE, inputs)


# 8. Exports: stale temporaries cleaned, versions readable by other users.


def test_exports_clean_killed_temporaries_and_are_world_readable(tmp_path):
    process = subprocess.Popen(["true"])
    process.wait()  # a pid that is gone: its export was killed
    stale = tmp_path / f".tmp-{process.pid}-3-abc"
    (stale / "variables").mkdir(parents=True)
    live = tmp_path / f".tmp-{os.getpid()}-4-def"  # this process is exporting it
    live.mkdir()

    def write(directory):
        os.makedirs(os.path.join(directory, "variables"))
        with open(os.path.join(directory, "saved_model.pb"), "wb") as f:
            f.write(b"x")

    final = savedmodel.write_version(str(tmp_path), write)
    assert not stale.exists() and live.exists()
    assert os.stat(final).st_mode & 0o755 == 0o755
    assert os.stat(os.path.join(final, "saved_model.pb")).st_mode & 0o444 == 0o444


# TLS, for a --host other than loopback.


@pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is needed to make certificates"
)
def test_tls_with_client_certificates(models_dir, tmp_path):
    certs = _certificates(tmp_path)
    ssl_config = tmp_path / "ssl.config"
    ssl_config.write_text(
        f'server_key: "{_escaped(certs["server.key"])}"\n'
        f'server_cert: "{_escaped(certs["server.crt"])}"\n'
        f'custom_ca: "{_escaped(certs["ca.crt"])}"\n'
        "client_verify: true\n"
    )
    running = start_server_tls(models_dir, str(ssl_config))
    try:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=certs["ca.crt"].encode(),
            private_key=certs["client.key"].encode(),
            certificate_chain=certs["client.crt"].encode(),
        )
        target = f"localhost:{running.port}"
        with grpc.secure_channel(target, credentials) as channel:
            assert (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(), timeout=10)
                .status
                == SERVING
            )
        anonymous = grpc.ssl_channel_credentials(root_certificates=certs["ca.crt"].encode())
        with grpc.secure_channel(target, anonymous) as channel:
            with pytest.raises(grpc.RpcError):
                health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=10
                )
        with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        running.stop()


def start_server_tls(folder, ssl_config):
    from serving.server import LocalServer, ServerOptions, local_manager

    config = _config((contract.RANKING, "/models/ranking"))
    options = ServerOptions(host="localhost", port=0, ssl_config_file=ssl_config)
    return LocalServer(local_manager(config, str(folder)), options).start()


def _escaped(pem: str) -> str:
    return pem.replace("\n", "\\n")


def _certificates(folder) -> dict[str, str]:
    """A CA, a server certificate for localhost and a client certificate, signed by the CA."""

    def openssl(command: str):
        subprocess.run(["openssl", *command.split()], cwd=folder, check=True, capture_output=True)

    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.crt"
    )
    (folder / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    for who in ("server", "client"):
        subject = "/CN=localhost" if who == "server" else "/CN=client"
        openssl(f"req -newkey rsa:2048 -nodes -subj {subject} -keyout {who}.key -out {who}.csr")
        extensions = " -extfile san.ext" if who == "server" else ""
        openssl(
            f"x509 -req -in {who}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
            f"-out {who}.crt{extensions}"
        )
    return {
        name: (folder / name).read_text()
        for name in ("ca.crt", "server.key", "server.crt", "client.key", "client.crt")
    }


def _states(client, model) -> dict[int, str]:
    return {s["version"]: s["state"] for s in client.status(model)}


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except ServingClientError:
            pass
        time.sleep(0.2)
    return False
