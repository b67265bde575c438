"""Which model versions are loaded: TensorFlow Serving's model-manager behaviour, in Python.

Reads a `ModelServerConfig` (configs/serving/models.config), polls each model's base
path, loads the versions its version policy asks for, unloads the others, and keeps
TensorFlow Serving's per-version states (LOADING, AVAILABLE, END) and errors:

- Only complete version directories are candidates: a numeric directory holding
  saved_model.pb (exports rename a finished temporary directory into place).
- The served set follows the folders on disk: a deleted version is unloaded, and under a
  `latest` policy the previous one is loaded again.
- A version that failed to load is retried when its files change (a half-copied folder
  that is completed later, a truncated saved_model.pb that is repaired).
- Availability first: a version no longer wanted stays loaded until a wanted one is
  available (unless its folder is gone).
- Config reloads are validated as TensorFlow Serving's ServerCore validates them, plus
  one rule of this server: every base path must lie inside the models root.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable

import grpc
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.savedmodel import read_lineage

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State
PLATFORM = "tensorflow"


class ServingError(Exception):
    """An error with the gRPC status code TensorFlow Serving would answer."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


# TensorFlow's error codes are the canonical (gRPC) status codes: an OpError keeps its code.
_GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}


def from_op_error(error) -> ServingError:
    """A TensorFlow OpError with its own code and its informative line (an assertion's
    text, not "Graph execution error:")."""
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    message = next(
        (line for line in lines if "assertion failed" in line or "Expects arg" in line),
        next((line for line in reversed(lines) if not line.startswith("[[")), error.message),
    )
    return ServingError(_GRPC_CODES.get(error.error_code, grpc.StatusCode.INTERNAL), message)


@dataclasses.dataclass
class Version:
    """One version of one model.

    Attributes:
      number: Version number (its directory name).
      path: Version directory.
      state: TensorFlow Serving's ModelVersionStatus.State.
      error: Why loading failed ("" if it did not).
      fingerprint: The version folder's files (names, sizes, mtimes) when it was loaded or
        failed; a failed version is retried when this changes.
      model: The loaded SavedModel (tf.saved_model.load), when AVAILABLE.
      signature_defs: The SignatureDef protos from saved_model.pb, when AVAILABLE
        (`__saved_model_init_op` included, as TensorFlow Serving reports it).
    """

    number: int
    path: str
    state: int = State.START
    error: str = ""
    fingerprint: tuple = ()
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


def fingerprint(path: str) -> tuple:
    """(relative path, size, mtime) of every file under a version folder."""
    out = []
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            try:
                stat = os.stat(full)
            except OSError:
                continue
            out.append((os.path.relpath(full, path), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(out))


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
    return tf.saved_model.load(path), dict(proto.meta_graphs[0].signature_def)


def platform_of(config: model_server_config_pb2.ModelConfig) -> str:
    """The model's platform, as ServerCore's GetPlatform reads it (model_type is deprecated)."""
    if config.model_type:
        if config.model_platform:
            raise invalid(
                "Illegal setting both ModelServerConfig::model_type (deprecated) and "
                f"ModelServerConfig::model_platform, model name is {config.name}"
            )
        if config.model_type != model_server_config_pb2.TENSORFLOW:
            raise invalid(
                f"ModelServerConfig::model_type choice {config.model_type} not supported."
            )
        return PLATFORM
    if not config.model_platform:
        raise invalid(
            "Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
            f"ModelServerConfig::model_platform, model name is {config.name}"
        )
    return config.model_platform


def validate_config(
    config: model_server_config_pb2.ModelServerConfig,
    previous: dict[str, model_server_config_pb2.ModelConfig],
) -> None:
    """ServerCore's checks of a new config (raises INVALID_ARGUMENT naming the model)."""
    if config.WhichOneof("config") != "model_config_list":
        raise invalid(
            "ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
            "ModelConfigList is currently supported"
        )
    names: set[str] = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise invalid(f"Model with base_path {model.base_path!r} has no name")
        if model.name in names:
            raise invalid(f"Illegal to list model {model.name} multiple times in config list")
        names.add(model.name)
        if not os.path.isabs(model.base_path):
            raise invalid(
                f"Expected model {model.name} to have an absolute path or URI; got "
                f"base_path()={model.base_path}"
            )
        platform = platform_of(model)
        old = previous.get(model.name)
        if old is not None and platform_of(old) != platform:
            raise invalid(
                f"Illegal to change a model's platform. For model {model.name} platform was "
                f"{platform_of(old)} and new platform requested is {platform}"
            )
        if platform != PLATFORM:
            raise invalid(f"Model {model.name} requests unsupported platform {platform}")


class ModelManager:
    """Loads and unloads versions per the config; answers lookups thread-safely.

    Args:
      config: The initial ModelServerConfig (trusted: it comes from the operator).
      resolve_path: Maps a config base_path to a local folder (e.g. /models -> ./models).
      loader: Loads one version folder: (model, signature_defs).
      models_root: The folder every base path given to `reload` must resolve into
        (symlinks followed); None allows any folder (only for tests of the manager).
    """

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        resolve_path: Callable[[str], str] = lambda p: p,
        loader: Callable[[str], tuple[object, dict]] = load_saved_model,
        models_root: str | None = None,
    ):
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._resolve = resolve_path
        self._loader = loader
        self.models_root = os.path.realpath(models_root) if models_root else None
        self._versions: dict[str, dict[int, Version]] = {}
        self._configs: dict[str, model_server_config_pb2.ModelConfig] = {}
        validate_config(config, {})
        self._apply(config)

    # --- configuration -------------------------------------------------------------------

    def _apply(self, config: model_server_config_pb2.ModelServerConfig) -> list[str]:
        """Makes `config` the model list; returns the names of models new to it. Dropped
        models' versions are unloaded and stay listed as END; a model whose base path
        changed starts again from the new folder."""
        with self._lock:
            new_configs = {m.name: m for m in config.model_config_list.config}
            added = [n for n in new_configs if n not in self._configs]
            for name, old in self._configs.items():
                moved = name in new_configs and new_configs[name].base_path != old.base_path
                if name not in new_configs or moved:
                    self._unload_all(name)
                if moved:
                    self._versions[name] = {}
            self._configs = new_configs
            for name in new_configs:
                self._versions.setdefault(name, {})
            return added

    def reload(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """HandleReloadConfigRequest: validate, apply, load, and wait as ServerCore does.

        Returns when every model new to the config has a version AVAILABLE.

        Raises:
          ServingError: INVALID_ARGUMENT for a config TensorFlow Serving rejects or a base
            path outside the models root (nothing changes); FAILED_PRECONDITION for a label
            on a version that is not available; UNKNOWN naming the models that did not
            become available (the rest of the config is applied, as in TensorFlow Serving).
        """
        with self._lock:
            validate_config(config, self._configs)
            self._check_inside_root(config)
            added = self._apply(config)
        self.poll()
        with self._lock:
            failed = []
            for name in added:
                versions = self._versions.get(name, {})
                if not any(v.state == State.AVAILABLE for v in versions.values()):
                    errors = [f" due to error: {v.error}" for v in versions.values() if v.error]
                    failed.append(f"{{name: {name} version: latest{''.join(errors[:1])}}}")
            if failed:
                raise ServingError(
                    grpc.StatusCode.UNKNOWN,
                    f"{len(failed)} model(s) did not become available: {{{', '.join(failed)}, }}",
                )
            self._check_labels()

    def _check_inside_root(self, config) -> None:
        if self.models_root is None:
            return
        for model in config.model_config_list.config:
            real = os.path.realpath(self._resolve(model.base_path))
            if os.path.commonpath([real, self.models_root]) != self.models_root:
                raise invalid(
                    f"Model {model.name}: base_path {model.base_path} is outside the models "
                    "folder this server was started with; only models inside it can be loaded"
                )

    def _check_labels(self) -> None:
        for name, config in self._configs.items():
            for number in config.version_labels.values():
                version = self._versions[name].get(number)
                if version is None or version.state != State.AVAILABLE:
                    raise ServingError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"Request to assign label to version {number} of model {name}, "
                        "which is not currently available for inference",
                    )

    @property
    def model_names(self) -> list[str]:
        with self._lock:
            return list(self._configs)

    def base_path(self, name: str) -> str:
        return self._resolve(self._configs[name].base_path)

    def public_path(self, name: str, text: str) -> str:
        """`text` with the model's local folder shown as its configured base_path: clients see
        the config's paths, never the server's file system."""
        with self._lock:
            config = self._configs.get(name)
        if config is None:
            return text
        local = self.base_path(name)
        for path in {local, os.path.realpath(local)}:
            text = text.replace(path.rstrip("/"), config.base_path.rstrip("/"))
        return text

    # --- polling -------------------------------------------------------------------------

    def poll(self) -> None:
        """One pass over every model's folder: load what the policy wants and is not loaded
        (or failed and changed since), unload what is no longer wanted or is gone."""
        with self._poll_lock:
            with self._lock:
                configs = dict(self._configs)
            for name, config in configs.items():
                self._poll_model(name, config)

    def _poll_model(self, name: str, config) -> None:
        on_disk = complete_versions(self.base_path(name))
        wanted = wanted_versions(config.model_version_policy, list(on_disk))
        todo = []
        with self._lock:
            if self._configs.get(name) is not config:
                return  # reconfigured meanwhile
            versions = self._versions[name]
            for number in sorted(wanted):
                current = versions.get(number)
                if current is not None and current.state in (State.AVAILABLE, State.LOADING):
                    continue  # no file walk for what is loaded
                stamp = fingerprint(on_disk[number])
                # new, never started, unloaded earlier, or failed and changed since
                if (
                    current is None
                    or current.state != State.END
                    or not current.error
                    or current.fingerprint != stamp
                ):
                    versions[number] = Version(number, on_disk[number], State.LOADING)
                    versions[number].fingerprint = stamp
                    todo.append(versions[number])
        for version in todo:
            self._load(name, version)
        with self._lock:
            wanted_up = any(versions[n].state == State.AVAILABLE for n in wanted if n in versions)
            for number, version in versions.items():
                gone = number not in on_disk
                if version.state == State.AVAILABLE and (
                    gone or (number not in wanted and wanted_up)
                ):
                    log.info(
                        "unloading %s version %d%s", name, number, " (deleted)" if gone else ""
                    )
                    version.model, version.state = None, State.END

    def _load(self, name: str, version: Version) -> None:
        log.info("loading %s version %d from %s", name, version.number, version.path)
        start = time.monotonic()
        try:
            model, signature_defs = self._loader(version.path)
        except Exception as e:  # a broken export must not stop the server
            log.error("could not load %s version %d: %s", name, version.number, e)
            error = self.public_path(name, f"{type(e).__name__}: {e}")
            with self._lock:
                version.state, version.error = State.END, error
            return
        with self._lock:
            version.model, version.signature_defs = model, signature_defs
            version.state, version.error = State.AVAILABLE, ""
        log.info(
            "%s version %d is available (%.1f s)", name, version.number, time.monotonic() - start
        )

    def _unload_all(self, name: str) -> None:
        for version in self._versions.get(name, {}).values():
            if version.state in (State.AVAILABLE, State.LOADING, State.START):
                version.model, version.state = None, State.END

    # --- lookups -------------------------------------------------------------------------

    def get(self, name: str, version: int | None = None, label: str = "") -> Version:
        """The servable for a request's model spec: a snapshot, so a version unloaded while
        the request runs stays usable until the request ends.

        Raises:
          ServingError: NOT_FOUND for an unknown model or a version not loaded (TensorFlow
            Serving's "Servable not found for request"); INVALID_ARGUMENT for an unknown label.
        """
        with self._lock:
            if name not in self._configs:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})"
                )
            if label:
                labels = dict(self._configs[name].version_labels)
                if label not in labels:
                    raise invalid(f"Unrecognized servable version label: {label}")
                version = labels[label]
            available = {
                n: v for n, v in self._versions[name].items() if v.state == State.AVAILABLE
            }
            if version is not None:
                if version in available:
                    return dataclasses.replace(available[version])
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Servable not found for request: Specific({name}, {version})",
                )
            if not available:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({name})"
                )
            return dataclasses.replace(available[max(available)])

    def lineages(self) -> dict[str, str]:
        """Model -> the lineage (contract.LINEAGE) of its newest available version; models
        exported without one are left out."""
        found = {}
        for name in self.model_names:
            try:
                lineage = read_lineage(self.get(name).path)
            except ServingError:
                continue
            if lineage:
                found[name] = lineage
        return found

    def statuses(self, name: str, version: int | None = None) -> list[Version]:
        """Every known version of a model (or one), newest first; models dropped from the
        config keep their versions, listed as END.

        Raises:
          ServingError: NOT_FOUND for an unknown model or version.
        """
        with self._lock:
            versions = self._versions.get(name, {})
            if version is not None:
                if version not in versions:
                    raise ServingError(
                        grpc.StatusCode.NOT_FOUND,
                        f"Could not find version {version} of model {name}",
                    )
                return [dataclasses.replace(versions[version])]
            if not versions:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}"
                )
            return [dataclasses.replace(versions[n]) for n in sorted(versions, reverse=True)]

    def available(self, name: str) -> bool:
        """Whether a configured model has a version AVAILABLE."""
        with self._lock:
            return name in self._configs and any(
                v.state == State.AVAILABLE for v in self._versions[name].values()
            )

    def any_available(self) -> bool:
        """Whether any configured model can answer (readiness: the server is useful)."""
        with self._lock:
            return any(self.available(name) for name in self._configs)
