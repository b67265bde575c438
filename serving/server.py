"""`recsys serve`: a local server that speaks TensorFlow Serving's gRPC API.

Implements `tensorflow.serving.PredictionService` (Predict, GetModelMetadata),
`tensorflow.serving.ModelService` (GetModelStatus, HandleReloadConfigRequest) and
the standard gRPC health service, from the tensorflow-serving-api protos, over the
same models.config and version directories as real TensorFlow Serving. Requests are
checked against the signature; bad ones get TensorFlow Serving's status codes and a
clear message; no request can stop the server. It imports ScaNN's ops, so it also
serves the ScaNN retrieval model that stock TensorFlow Serving cannot.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc
import tensorflow as tf
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    status_pb2,
)

from serving import contract
from serving.manager import ModelManager, ServingError, State, read_config

log = logging.getLogger(__name__)

# TensorFlow's error codes are the canonical (gRPC) status codes: an OpError keeps its code.
_GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _op_error_message(error: tf.errors.OpError) -> str:
    """The informative line of a TensorFlow error (an assertion's text, not "Graph execution
    error:")."""
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    for line in lines:
        if "assertion failed" in line or "Expects arg" in line:
            return line
    return next((line for line in reversed(lines) if not line.startswith("[[")), error.message)


def _abort(context: grpc.ServicerContext, error: ServingError):
    context.abort(error.code, error.message)


def _version(spec) -> int | None:
    return spec.version.value if spec.HasField("version") else None


def _servable(manager: ModelManager, spec):
    if not spec.name:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec: model_spec.name is empty"
        )
    return manager.get(spec.name, _version(spec), spec.version_label)


def _input_tensors(
    signature: meta_graph_pb2.SignatureDef, name: str, inputs
) -> dict[str, tf.Tensor]:
    """Request TensorProtos -> tensors, checked against the signature's inputs.

    Raises:
      ServingError: INVALID_ARGUMENT naming missing, extra, malformed or mistyped inputs.
    """
    expected, given = set(signature.inputs), set(inputs)
    if expected != given:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input size does not match signature {name}: {len(given)}!={len(expected)} "
            f"len({sorted(expected)}). Sent extra: {sorted(given - expected)}. "
            f"Missing but required: {sorted(expected - given)}.",
        )
    tensors = {}
    for key in sorted(expected):
        info, proto = signature.inputs[key], inputs[key]
        if proto.dtype != info.dtype:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expects arg[{key}] to be {types_pb2.DataType.Name(info.dtype)[3:].lower()} but "
                f"{types_pb2.DataType.Name(proto.dtype)[3:].lower()} is provided",
            )
        try:
            value = tf.make_ndarray(proto)
        except Exception as e:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"input {key} is not a valid TensorProto: {e}"
            ) from None
        if not info.tensor_shape.unknown_rank and value.ndim != len(info.tensor_shape.dim):
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {key} has shape {list(value.shape)}; the signature expects rank "
                f"{len(info.tensor_shape.dim)}",
            )
        if value.ndim and value.shape[0] == 0:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT, f"input {key} is empty (batch of 0)"
            )
        tensors[key] = tf.constant(value)
    return tensors


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata (Classify, Regress, MultiInference: UNIMPLEMENTED)."""

    def __init__(self, manager: ModelManager):
        self.manager = manager

    def Predict(self, request: predict_pb2.PredictRequest, context):
        try:
            version = _servable(self.manager, request.model_spec)
            name = request.model_spec.signature_name or contract.SERVING_DEFAULT
            signature = version.signature_defs.get(name)
            if signature is None:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f'Serving signature name: "{name}" not found in signature def '
                    f"(model {request.model_spec.name} has {sorted(version.signature_defs)})",
                )
            unknown = set(request.output_filter) - set(signature.outputs)
            if unknown:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"output tensor alias not found in signature: {sorted(unknown)}",
                )
            outputs = version.model.signatures[name](
                **_input_tensors(signature, name, request.inputs)
            )
            response = predict_pb2.PredictResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = version.number
            response.model_spec.signature_name = name
            for key, value in outputs.items():
                if not request.output_filter or key in request.output_filter:
                    response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response
        except ServingError as e:
            _abort(context, e)
        except tf.errors.OpError as e:
            code = _GRPC_CODES.get(e.error_code, grpc.StatusCode.INTERNAL)
            _abort(context, ServingError(code, _op_error_message(e)))
        except Exception as e:  # anything else is our bug: report it, keep serving
            log.exception("Predict failed")
            _abort(context, ServingError(grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}"))

    def GetModelMetadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest, context):
        try:
            fields = set(request.metadata_field)
            if fields != {"signature_def"}:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Metadata field(s) {sorted(fields - {'signature_def'}) or '(none)'} not "
                    "supported: ask for signature_def",
                )
            version = _servable(self.manager, request.model_spec)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = request.model_spec.name
            response.model_spec.version.value = version.number
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            for key, value in version.signature_defs.items():
                signature_map.signature_def[key].CopyFrom(value)
            response.metadata["signature_def"].Pack(signature_map)
            return response
        except ServingError as e:
            _abort(context, e)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus and HandleReloadConfigRequest."""

    def __init__(self, manager: ModelManager, on_reload):
        self.manager = manager
        self.on_reload = on_reload

    def GetModelStatus(self, request: get_model_status_pb2.GetModelStatusRequest, context):
        try:
            if not request.model_spec.name:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT, "Missing model name in request."
                )
            response = get_model_status_pb2.GetModelStatusResponse()
            for version in self.manager.statuses(
                request.model_spec.name, _version(request.model_spec)
            ):
                status = response.model_version_status.add(
                    version=version.number, state=version.state
                )
                if version.error:
                    status.status.CopyFrom(
                        status_pb2.StatusProto(error_code=13, error_message=version.error)
                    )
            return response
        except ServingError as e:
            _abort(context, e)

    def HandleReloadConfigRequest(self, request: model_management_pb2.ReloadConfigRequest, context):
        try:
            self.manager.set_config(request.config)
        except ValueError as e:
            _abort(context, ServingError(grpc.StatusCode.INVALID_ARGUMENT, str(e)))
        self.on_reload()
        return model_management_pb2.ReloadConfigResponse(
            status=status_pb2.StatusProto(error_code=0)
        )


class LocalServer:
    """The gRPC server plus the thread that polls model directories.

    Args:
      manager: What to serve.
      host: Address to bind (127.0.0.1 by default: not reachable from other machines).
      port: Port; 0 picks a free one (see `self.port`).
      workers: gRPC worker threads.
      max_message_bytes: Largest request or response.
      poll_seconds: How often version directories are checked (TensorFlow Serving's
        --file_system_poll_wait_seconds).
    """

    def __init__(
        self,
        manager: ModelManager,
        host: str = "127.0.0.1",
        port: int = 8500,
        workers: int = 8,
        max_message_bytes: int = 64 << 20,
        poll_seconds: float = 2.0,
    ):
        self.manager = manager
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._poll_now = threading.Event()
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=options)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(manager), self.server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(manager, self._poll_now.set), self.server
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"could not bind {host}:{port}")
        self.address = f"{host}:{self.port}"
        self._poller = threading.Thread(target=self._poll_loop, name="model-poller", daemon=True)

    def start(self) -> LocalServer:
        self.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.start()
        self._poller.start()
        log.info(
            "serving TensorFlow Serving gRPC API on %s: %s",
            self.address,
            ", ".join(self.manager.model_names),
        )
        return self

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.manager.poll()
            except Exception:  # a bad directory must not kill polling
                log.exception("model poll failed")
            serving = self.manager.all_available()
            self.health.set(
                "",
                health_pb2.HealthCheckResponse.SERVING
                if serving
                else health_pb2.HealthCheckResponse.NOT_SERVING,
            )
            for name in self.manager.model_names:
                self.health.set(
                    name,
                    health_pb2.HealthCheckResponse.SERVING
                    if any(v.state == State.AVAILABLE for v in self.manager.statuses(name))
                    else health_pb2.HealthCheckResponse.NOT_SERVING,
                )
            self._poll_now.wait(self.poll_seconds)
            self._poll_now.clear()

    def stop(self, grace: float = 2.0) -> None:
        self._stop.set()
        self._poll_now.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        log.info("server on %s stopped", self.address)

    def wait_for_termination(self) -> None:
        """Blocks until SIGTERM or SIGINT, then shuts down cleanly."""
        done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: done.set())
        done.wait()
        self.stop()


def prefix_resolver(mapping: dict[str, str]):
    """base_path rewriter: a path starting with a key is re-rooted at its value.

    models.config names the container's paths (/models/<name>); `recsys serve
    --models-dir ./models` maps /models to a local folder.
    """

    def resolve(path: str) -> str:
        for prefix, target in mapping.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return target.rstrip("/") + path[len(prefix.rstrip("/")) :]
        return path

    return resolve


def serve_export_dir(model_config: str, export_dir: str, port: int = 0) -> LocalServer:
    """Starts a local server for `model_config` (a models.config file) with its /models
    paths re-rooted at `export_dir`; port 0 picks a free one (see `.address`)."""
    import_scann_ops()
    return LocalServer(
        ModelManager(read_config(model_config), prefix_resolver({"/models": export_dir})), port=port
    ).start()


def import_scann_ops() -> bool:
    """Registers ScaNN's TensorFlow ops, so ScaNN SavedModels load; False if unavailable."""
    try:
        from scann.scann_ops.py import scann_ops  # noqa: F401
    except Exception as e:  # the brute-force and ranking models still work
        log.warning("ScaNN ops not loaded (%s): the ScaNN retrieval model will not load", e)
        return False
    return True
