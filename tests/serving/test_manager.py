"""The model manager without gRPC: policies, availability preservation, snapshots."""

from __future__ import annotations

import os

import grpc
import pytest
from tensorflow_serving.config import model_server_config_pb2

from serving.manager import ModelManager, ServingError, State, wanted_versions


def _version(base, number):
    path = base / str(number)
    path.mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"")
    return path


def _manager(base, policy=""):
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add(
        name="m", base_path=str(base), model_platform="tensorflow"
    )
    if policy == "all":
        model.model_version_policy.all.SetInParent()
    loads = []

    def loader(path):
        loads.append(os.path.basename(path))
        if open(os.path.join(path, "saved_model.pb"), "rb").read() == b"broken":
            raise ValueError("corrupt")
        return object(), {"serving_default": None}

    return ModelManager(config, loader=loader), loads


def test_version_policies():
    policy = model_server_config_pb2.ModelConfig().model_version_policy
    assert wanted_versions(policy, [1, 3, 2]) == {3}  # default: latest 1
    policy.latest.num_versions = 2
    assert wanted_versions(policy, [1, 3, 2]) == {2, 3}
    policy.specific.versions.extend([1, 7])
    assert wanted_versions(policy, [1, 3, 2]) == {1}
    policy.all.SetInParent()
    assert wanted_versions(policy, [1, 3, 2]) == {1, 2, 3}


def test_latest_is_served_old_unloaded_only_after_new_is_available(tmp_path):
    manager, loads = _manager(tmp_path)
    _version(tmp_path, 1)
    manager.poll()
    assert manager.get("m").number == 1
    snapshot = manager.get("m")
    (_version(tmp_path, 2) / "saved_model.pb").write_bytes(b"broken")
    manager.poll()
    states = {v.number: v.state for v in manager.statuses("m")}
    assert states == {
        1: State.AVAILABLE,
        2: State.END,
    }, "a failed new version leaves the old one serving"
    _version(tmp_path, 3)
    manager.poll()
    assert manager.get("m").number == 3
    assert {v.number: v.state for v in manager.statuses("m")}[1] == State.END
    assert snapshot.model is not None, "a request's snapshot outlives the unload"
    assert loads == ["1", "2", "3"]


def test_unknown_and_unloaded(tmp_path):
    manager, _ = _manager(tmp_path, policy="all")
    with pytest.raises(ServingError) as e:
        manager.get("m")
    assert e.value.code == grpc.StatusCode.NOT_FOUND  # TF Serving: no servable is NOT_FOUND
    with pytest.raises(ServingError) as e:
        manager.get("other")
    assert e.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ServingError) as e:
        manager.get("m", version=4)
    assert e.value.code == grpc.StatusCode.NOT_FOUND
