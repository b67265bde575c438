"""Which model versions are loaded: TensorFlow Serving's model-manager behaviour, in Python.

Reads a `ModelServerConfig` (configs/serving/models.config), polls each model's base
path, loads the versions its version policy asks for, unloads the others, and keeps
TensorFlow Serving's per-version states (LOADING, AVAILABLE, END) and errors. Only
complete version directories are loaded: a numeric directory holding saved_model.pb
(exports rename a finished temporary directory into place, so a half-written model
is never numeric).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable

import grpc
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State


class ServingError(Exception):
    """An error with the gRPC status code TensorFlow Serving would answer."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass
class Version:
    """One version of one model.

    Attributes:
      number: Version number (its directory name).
      path: Version directory.
      state: TensorFlow Serving's ModelVersionStatus.State.
      error: Why loading failed ("" if it did not).
      model: The loaded SavedModel (tf.saved_model.load), when AVAILABLE.
      signature_defs: The SignatureDef protos from saved_model.pb, when AVAILABLE.
    """

    number: int
    path: str
    state: int = State.START
    error: str = ""
    model: object = None
    signature_defs: dict = dataclasses.field(default_factory=dict)


def read_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    """Parses a ModelServerConfig text proto.

    Raises:
      ValueError: naming the file, when it is missing or not a valid ModelServerConfig.
    """
    try:
        with open(path) as f:
            return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
    except FileNotFoundError:
        raise ValueError(f"model config {path!r} does not exist") from None
    except text_format.ParseError as e:
        raise ValueError(f"model config {path!r} is not a valid ModelServerConfig: {e}") from None


def complete_versions(base_path: str) -> dict[int, str]:
    """Version number -> directory, for numeric directories holding a saved_model.pb."""
    if not os.path.isdir(base_path):
        return {}
    out = {}
    for name in os.listdir(base_path):
        path = os.path.join(base_path, name)
        if name.isdigit() and os.path.isfile(os.path.join(path, "saved_model.pb")):
            out[int(name)] = path
    return out


def wanted_versions(policy, available: list[int]) -> set[int]:
    """The versions a ServableVersionPolicy asks for (default: the latest one)."""
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return set(available)
    if which == "specific":
        return set(policy.specific.versions) & set(available)
    count = policy.latest.num_versions if which == "latest" and policy.latest.num_versions else 1
    return set(sorted(available)[-count:])


def load_saved_model(path: str) -> tuple[object, dict]:
    """Loads a SavedModel and reads its SignatureDefs (as TensorFlow Serving reports them)."""
    import tensorflow as tf

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    signature_defs = dict(proto.meta_graphs[0].signature_def)
    signature_defs.pop("__saved_model_init_op", None)
    return tf.saved_model.load(path), signature_defs


class ModelManager:
    """Loads and unloads versions per the config; answers lookups thread-safely."""

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        resolve_path: Callable[[str], str] = lambda p: p,
        loader: Callable[[str], tuple[object, dict]] = load_saved_model,
    ):
        self._lock = threading.RLock()
        self._resolve = resolve_path
        self._loader = loader
        self._versions: dict[str, dict[int, Version]] = {}
        self._configs: dict = {}
        self.set_config(config)

    def set_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Replaces the model list (HandleReloadConfigRequest); takes effect at the next poll."""
        if config.WhichOneof("config") != "model_config_list":
            raise ValueError("only model_config_list configs are supported")
        with self._lock:
            self._configs = {m.name: m for m in config.model_config_list.config}
            for name in list(self._versions):
                if name not in self._configs:
                    del self._versions[name]
            for name in self._configs:
                self._versions.setdefault(name, {})

    @property
    def model_names(self) -> list[str]:
        with self._lock:
            return list(self._configs)

    def base_path(self, name: str) -> str:
        return self._resolve(self._configs[name].base_path)

    def poll(self) -> None:
        """One pass: load wanted versions not yet loaded, then unload the unwanted ones.

        Availability-preserving, like TensorFlow Serving's default policy: a version that
        is no longer wanted stays loaded until a wanted version is available, so a new
        version that fails to load leaves the previous one serving.
        """
        with self._lock:
            configs = dict(self._configs)
        for name, config in configs.items():
            on_disk = complete_versions(self.base_path(name))
            wanted = wanted_versions(config.model_version_policy, list(on_disk))
            with self._lock:
                versions = self._versions.setdefault(name, {})
                todo = [
                    n
                    for n in sorted(wanted)
                    if n not in versions or versions[n].state == State.START
                ]
                for number in todo:
                    versions[number] = Version(number, on_disk[number], State.LOADING)
            for number in todo:
                self._load(name, versions[number])
            with self._lock:
                if any(versions[n].state == State.AVAILABLE for n in wanted if n in versions):
                    for number, version in versions.items():
                        if number not in wanted and version.state == State.AVAILABLE:
                            log.info("unloading %s version %d", name, number)
                            version.model, version.state = None, State.END

    def _load(self, name: str, version: Version) -> None:
        log.info("loading %s version %d from %s", name, version.number, version.path)
        try:
            model, signature_defs = self._loader(version.path)
        except Exception as e:  # a broken export must not stop the server
            log.error("could not load %s version %d: %s", name, version.number, e)
            with self._lock:
                version.state, version.error = State.END, f"{type(e).__name__}: {e}"
            return
        with self._lock:
            version.model, version.signature_defs, version.state = (
                model,
                signature_defs,
                State.AVAILABLE,
            )
        log.info("%s version %d is available", name, version.number)

    def get(self, name: str, version: int | None = None, label: str = "") -> Version:
        """The servable for a request's model spec: a snapshot, so a version unloaded while
        the request runs stays usable until the request ends.

        Raises:
          ServingError: NOT_FOUND for an unknown model, version or label; UNAVAILABLE when
            the model is known but the version asked for is not loaded (yet).
        """
        with self._lock:
            if name not in self._configs:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})"
                )
            if label:
                labels = dict(self._configs[name].version_labels)
                if label not in labels:
                    raise ServingError(
                        grpc.StatusCode.NOT_FOUND,
                        f"Unrecognized servable version label: {label} "
                        f"(model {name} has {sorted(labels)})",
                    )
                version = labels[label]
            available = {
                n: v for n, v in self._versions[name].items() if v.state == State.AVAILABLE
            }
            if version is not None:
                if version in available:
                    return dataclasses.replace(available[version])
                known = version in self._versions[name] or version in complete_versions(
                    self.base_path(name)
                )
                code = grpc.StatusCode.UNAVAILABLE if known else grpc.StatusCode.NOT_FOUND
                raise ServingError(
                    code, f"Servable not found for request: Specific({name}, {version})"
                )
            if not available:
                raise ServingError(
                    grpc.StatusCode.UNAVAILABLE,
                    f"Servable {name} has no version loaded yet: Latest({name})",
                )
            return dataclasses.replace(available[max(available)])

    def statuses(self, name: str, version: int | None = None) -> list[Version]:
        """Every known version of a model (or one), newest first.

        Raises:
          ServingError: NOT_FOUND for an unknown model or version.
        """
        with self._lock:
            if name not in self._configs:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}"
                )
            versions = self._versions[name]
            if version is not None:
                if version not in versions:
                    raise ServingError(
                        grpc.StatusCode.NOT_FOUND,
                        f"Could not find version {version} of model {name}",
                    )
                return [versions[version]]
            return [versions[n] for n in sorted(versions, reverse=True)]

    def all_available(self) -> bool:
        """Whether every configured model has at least one version loaded."""
        with self._lock:
            return all(
                any(v.state == State.AVAILABLE for v in self._versions[n].values())
                for n in self._configs
            )
