"""A local server over the tiny models folder (tests/conftest.py's `models_dir`)."""

from __future__ import annotations

import pytest

from tests.conftest import MODELS_CONFIG


@pytest.fixture(scope="session")
def server(models_dir):
    """The local server on a free loopback port, with models.config plus a model that has no
    version yet ("pending"); polls every 0.2 s."""
    from serving import contract, manager
    from serving.client import ServingClient
    from serving.server import LocalServer, import_scann_ops, prefix_resolver

    config = manager.read_config(MODELS_CONFIG)
    config.model_config_list.config.add(name="pending", base_path="/models/pending", model_platform="tensorflow")
    assert import_scann_ops()
    running = LocalServer(manager.ModelManager(config, prefix_resolver({"/models": str(models_dir)})),
                          port=0, poll_seconds=0.2).start()  # fmt: skip
    with ServingClient(running.address) as client:
        client.wait_until_available([contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE, contract.RANKING,
                                     contract.RECOMMENDER], timeout=120)  # fmt: skip
    yield running
    running.stop()


@pytest.fixture()
def client(server):
    from serving.client import ServingClient

    with ServingClient(server.address, timeout=30, retries=1, backoff=0.05) as c:
        yield c
