"""A models folder with every exported model (tiny), and a local server over it."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import REPO

MODELS_CONFIG = str(REPO / "configs" / "serving" / "models.config")


@pytest.fixture(scope="session")
def models_dir(trained_retrieval, trained_ranking, tmp_path_factory):
    """models/<name>/1 for retrieval, retrieval_bruteforce, ranking and the composed recommender."""
    from serving import contract, recommender

    folder = tmp_path_factory.mktemp("served") / "models"
    (_, retrieval), (_, ranking) = trained_retrieval, trained_ranking
    for name, path in {**retrieval["exports"], **ranking["exports"]}.items():
        shutil.copytree(path, folder / name / "1")
    recommender.export_recommender(str(folder), k=3)
    assert os.path.isdir(folder / contract.RECOMMENDER / "1")
    return folder


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
