"""Local servers over the tiny models folder (tests/conftest.py's `models_dir`)."""

from __future__ import annotations

import pytest

from tests.conftest import MODELS_CONFIG


def start_server(folder, models=None, **options):
    """The local server over `folder` on a free loopback port, with models.config (only
    `models` of it, if given) plus a model that has no version yet ("pending"); polls every
    0.2 s; config reload allowed; `options` override other ServerOptions. Returns once every
    model is up."""
    from serving import manager
    from serving.client import ServingClient
    from serving.server import LocalServer, ServerOptions, import_scann_ops, local_manager

    config = manager.read_config(MODELS_CONFIG)
    if models is not None:
        kept = [m for m in config.model_config_list.config if m.name in models]
        del config.model_config_list.config[:]
        config.model_config_list.config.extend(kept)
    served = [m.name for m in config.model_config_list.config]
    config.model_config_list.config.add(
        name="pending", base_path="/models/pending", model_platform="tensorflow"
    )
    assert import_scann_ops()
    options = ServerOptions(
        **{"port": 0, "poll_seconds": 0.2, "allow_config_reload": True, **options}
    )
    running = LocalServer(local_manager(config, str(folder)), options).start()
    with ServingClient(running.address) as client:
        client.wait_until_available(served, timeout=120)
    return running


@pytest.fixture(scope="session")
def server(models_dir):
    """A server over the shared, read-only models folder."""
    running = start_server(models_dir)
    yield running
    running.stop()


@pytest.fixture()
def client(server):
    from serving.client import ServingClient

    with ServingClient(server.address, timeout=30, retries=1, backoff=0.05) as c:
        yield c


@pytest.fixture()
def own_client(models_copy):
    """A client of a server of its own, over a private copy of the models (`models_copy`)."""
    from serving.client import ServingClient

    running = start_server(models_copy)
    with ServingClient(running.address, timeout=30, retries=1, backoff=0.05) as c:
        yield c
    running.stop()
