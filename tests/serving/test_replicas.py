"""Two replicas behind one client target: requests go round robin, and one replica killed
under load loses no request (the client retries UNAVAILABLE on the other)."""

from __future__ import annotations

import signal
import threading
import time

from serving import contract
from serving.client import ServingClient
from serving.recommend import recommend_composite
from tests.serving.conftest import start_server
from tests.serving.test_cli_and_real_server import _free_port, _serve
from tests.serving.test_server import PROFILE


def test_round_robin_over_replicas_and_a_killed_one_loses_no_request(models_dir, tmp_path):
    config = tmp_path / "models.config"
    config.write_text(
        'model_config_list { config { name: "recommender" base_path: "/models/recommender" '
        'model_platform: "tensorflow" } }\n'
    )
    port = _free_port()
    doomed = _serve(models_dir, port, 0, "--model-config", str(config))  # a real process
    local = start_server(models_dir, models=[contract.RECOMMENDER])  # in-process: counts
    try:
        with ServingClient(f"127.0.0.1:{port}", timeout=60) as one:
            one.wait_until_available([contract.RECOMMENDER], timeout=120)
        target = f"127.0.0.1:{port},127.0.0.1:{local.port}"
        answered, failures, stop = [], [], threading.Event()
        with ServingClient(target, timeout=30, retries=6, backoff=0.05) as client:

            def load():
                while not stop.is_set():
                    try:
                        recommend_composite(client, PROFILE, k=3)
                        answered.append(time.monotonic())
                    except Exception as e:  # noqa: BLE001  (any failure is what we count)
                        failures.append(e)

            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(3)
            before, here = len(answered), local.services.predictions[contract.RECOMMENDER]
            doomed.send_signal(signal.SIGKILL)  # no goodbye: connections just break
            killed = time.monotonic()
            time.sleep(3)
            stop.set()
            for t in threads:
                t.join()
        assert failures == []
        assert here > 0 and before - here > 0, (before, here)  # both replicas answered
        assert any(t > killed + 1 for t in answered)  # and the survivor went on alone
        assert local.services.predictions[contract.RECOMMENDER] > here
    finally:
        doomed.kill()
        doomed.wait()
        local.stop()
