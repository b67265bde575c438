"""`recsys serve`: a local server that speaks TensorFlow Serving's gRPC API.

Implements `tensorflow.serving.PredictionService` (Predict, GetModelMetadata, and
Classify / Regress / MultiInference's checks), `tensorflow.serving.ModelService`
(GetModelStatus, HandleReloadConfigRequest) and the standard gRPC health service, from
the tensorflow-serving-api protos, over the same models.config and version directories
as real TensorFlow Serving. tests/serving/test_tfs_compat.py lists the behaviours of
TensorFlow Serving's own tests that it matches; BUILD.md the few it deliberately does not.

Built on grpc.aio: the event loop answers health checks and status at once, whatever the
models are doing; model work runs on a thread pool. Requests are checked against the
signature and `RequestLimits` before any tensor is built; no request can stop the server.
It imports ScaNN's ops, so it also serves the ScaNN model stock TensorFlow Serving cannot.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
import os
import signal
import threading
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    predict_pb2,
    regression_pb2,
    status_pb2,
)

from serving import contract
from serving.batching import BatchingOptions, BatchScheduler
from serving.config_protos import SSLConfig
from serving.manager import ModelManager, ServingError, from_op_error, invalid, read_config
from serving.tensors import RequestLimits, decode_inputs, to_proto_field

log = logging.getLogger(__name__)

# TensorFlow Serving cuts error messages at 1024 characters (grpc_status_util.cc).
_MESSAGE_LIMIT = 1024
# Service names TensorFlow Serving registers with the health service (server.cc).
HEALTH_SERVICES = ("ModelService", "PredictionService")
_METHOD_NAMES = {
    "classify": "tensorflow/serving/classify",
    "regress": "tensorflow/serving/regress",
}
_SERVING, _NOT_SERVING = (
    health_pb2.HealthCheckResponse.SERVING,
    health_pb2.HealthCheckResponse.NOT_SERVING,
)


def _truncate(message: str) -> str:
    return message if len(message) <= _MESSAGE_LIMIT else message[:_MESSAGE_LIMIT] + "...TRUNCATED"


def _version(spec) -> int | None:
    return spec.version.value if spec.HasField("version") else None


@dataclasses.dataclass
class ServerOptions:
    """How the local server runs (`recsys serve` flags).

    Attributes:
      host: Address to bind (127.0.0.1: not reachable from other machines).
      port: gRPC port; 0 picks a free one (see `LocalServer.port`).
      workers: Threads running models.
      max_message_bytes: Largest request or response.
      poll_seconds: How often version folders are checked (--file_system_poll_wait_seconds).
      limits: What one request may hold.
      allow_config_reload: Accept HandleReloadConfigRequest (off: a client cannot change
        which models are served).
      grace_seconds: On shutdown, how long in-flight requests may take to finish.
      ssl_config_file: TensorFlow Serving's SSLConfig text proto: TLS, and client
        certificates when client_verify is set.
      socket_path: Also listen on this unix socket (--grpc_socket_path).
      channel_arguments: gRPC server arguments, "key=value,..." (--grpc_channel_arguments).
      model_config_file: Re-read every `config_poll_seconds` when both are set.
      config_poll_seconds: --model_config_file_poll_wait_seconds; 0 reads it once.
      batching: Server-side batching of Predict (--enable_batching), or None.
      rest_api_port: TensorFlow Serving's REST API on this port (0 picks a free one; see
        `LocalServer.rest_port`), or None for none.
      allow_mixed_lineage: Serve models trained on different data (lineages) side by side;
        off: `start` refuses, since a client combining them would get wrong answers.
    """

    host: str = "127.0.0.1"
    port: int = 8500
    workers: int = 8
    max_message_bytes: int = 64 << 20
    poll_seconds: float = 2.0
    limits: RequestLimits = dataclasses.field(default_factory=RequestLimits)
    allow_config_reload: bool = False
    grace_seconds: float = 30.0
    ssl_config_file: str = ""
    socket_path: str = ""
    channel_arguments: str = ""
    model_config_file: str = ""
    config_poll_seconds: float = 0.0
    batching: BatchingOptions | None = None
    rest_api_port: int | None = None
    allow_mixed_lineage: bool = False


def channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """TensorFlow Serving's --grpc_channel_arguments: "key=value,...", ints kept as ints."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"gRPC channel argument {item!r} is not key=value")
        out.append((key, int(value) if value.lstrip("-").isdigit() else value))
    return out


def server_credentials(path: str) -> grpc.ServerCredentials:
    """TLS credentials from an SSLConfig file (server_key, server_cert, custom_ca,
    client_verify), as TensorFlow Serving's --ssl_config_file builds them."""
    with open(path) as f:
        config = text_format.Parse(f.read(), SSLConfig())
    if not config.server_key or not config.server_cert:
        raise ValueError(f"{path}: server_key and server_cert are required")
    return grpc.ssl_server_credentials(
        [(config.server_key.encode(), config.server_cert.encode())],
        root_certificates=config.custom_ca.encode() or None,
        require_client_auth=config.client_verify,
    )


class Services:
    """The RPCs, as functions of a request proto: Predict is a coroutine (its model call runs
    on the pool or in a batch); the others are plain functions run on the pool."""

    def __init__(
        self,
        manager: ModelManager,
        options: ServerOptions,
        on_reload=lambda: None,
        batcher: BatchScheduler | None = None,
    ):
        self.manager = manager
        self.options = options
        self.on_reload = on_reload
        self.batcher = batcher
        self.predictions = collections.Counter()  # model -> Predict requests answered

    # --- PredictionService ---------------------------------------------------------------

    def _servable(self, spec):
        if not spec.name:
            raise invalid("ModelSpec has no name specified.")
        return self.manager.get(spec.name, _version(spec), spec.version_label)

    async def predict(self, request: predict_pb2.PredictRequest, pool):
        """Predict with the model call on the pool, or joined to a batch when batching is on
        and the request's inputs all have the same rows (nothing broadcast)."""
        version, name, arrays, wanted = self.prepare(request)
        run = functools.partial(self.run, version, name)
        rows = self.batcher.batchable(arrays) if self.batcher else 0
        if rows:
            key = (request.model_spec.name, version.number, name)
            outputs = await asyncio.wrap_future(self.batcher.submit(key, run, arrays, rows))
        else:
            outputs = await asyncio.get_running_loop().run_in_executor(pool, run, arrays)
        self.predictions[request.model_spec.name] += 1
        return self.respond(request, version, name, outputs, wanted)

    def predict_signature(self, spec):
        """(version, signature name, SignatureDef) a Predict request's model spec names.

        Raises:
          ServingError: NOT_FOUND / INVALID_ARGUMENT for the model, version or label;
            FAILED_PRECONDITION for a signature the version does not have.
        """
        version = self._servable(spec)
        name = spec.signature_name or contract.SERVING_DEFAULT
        signature = version.signature_defs.get(name)
        if signature is None or name == contract.INIT_OP_SIGNATURE:
            raise ServingError(
                grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{name}" not found.'
            )
        return version, name, signature

    def prepare(self, request: predict_pb2.PredictRequest):
        """(version, signature name, input arrays, output keys) of a valid Predict request."""
        version, name, signature = self.predict_signature(request.model_spec)
        seen = set()
        for alias in request.output_filter:
            if alias not in signature.outputs:
                raise invalid(
                    f"output tensor alias not found in signature: {alias} Outputs expected to "
                    f"be in the set {{{','.join(sorted(signature.outputs))}}}."
                )
            if alias in seen:
                raise invalid(f"duplicate output tensor alias: {alias}")
            seen.add(alias)
        arrays = decode_inputs(signature, name, request.inputs, self.options.limits)
        return version, name, arrays, seen or set(signature.outputs)

    @staticmethod
    def run(version, name: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call of the signature's function (one request, or a merged batch)."""
        outputs = version.model.signatures[name](
            **{key: tf.constant(value) for key, value in arrays.items()}
        )
        return {key: value.numpy() for key, value in outputs.items()}

    @staticmethod
    def respond(request, version, name: str, outputs, wanted) -> predict_pb2.PredictResponse:
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version.number
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            if key in wanted:
                response.outputs[key].CopyFrom(to_proto_field(value))
        return response

    def metadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest):
        if not request.HasField("model_spec"):
            raise invalid("Missing ModelSpec")
        fields = set(request.metadata_field)
        if not fields:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        if fields != {"signature_def"}:
            raise invalid(
                f"Metadata field {sorted(fields - {'signature_def'})[0]} is not supported"
            )
        version = self._servable(request.model_spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version.number
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in version.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def _inference_signature(self, spec, method: str):
        """The checks Classify and Regress make before running: these models have predict
        signatures only, so a valid request ends in TensorFlow Serving's method-name error."""
        version = self._servable(spec)
        name = spec.signature_name or contract.SERVING_DEFAULT
        signature = version.signature_defs.get(name)
        if signature is None:
            raise invalid(f"No signature was found with the name: {name}")
        wanted = _METHOD_NAMES[method]
        if signature.method_name != wanted:
            kind = "classification" if method == "classify" else "regression"
            raise invalid(
                f"Expected {kind} signature method_name to be {wanted}. "
                f"Was: {signature.method_name}"
            )
        raise ServingError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"{method} signatures are served by TensorFlow Serving only; this server runs "
            "Predict (use the model's predict signature)",
        )

    def classify(self, request: classification_pb2.ClassificationRequest):
        self._inference_signature(request.model_spec, "classify")

    def regress(self, request: regression_pb2.RegressionRequest):
        self._inference_signature(request.model_spec, "regress")

    def multi_inference(self, request: inference_pb2.MultiInferenceRequest):
        model, signatures = "", set()
        for task in request.tasks:
            if not task.model_spec.name:
                raise invalid("Found ModelSpec with an empty model name.")
            if model and task.model_spec.name != model:
                raise invalid(
                    "All ModelSpecs in a MultiInferenceRequest must access the same model name."
                )
            model = task.model_spec.name
            name = task.model_spec.signature_name or contract.SERVING_DEFAULT
            if name in signatures:
                raise invalid(f"Duplicate evaluation of signature: {name}")
            signatures.add(name)
            version = self._servable(task.model_spec)
            if name not in version.signature_defs:
                raise invalid(f"Requested signature not found in model graph: {name}")
            method = {v: k for k, v in _METHOD_NAMES.items()}.get(task.method_name)
            if method is None:
                raise ServingError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"Unsupported signature method_name: {task.method_name}",
                )
            self._inference_signature(task.model_spec, method)
        raise invalid("MultiInferenceRequest has no tasks")

    # --- ModelService --------------------------------------------------------------------

    def status(self, request: get_model_status_pb2.GetModelStatusRequest):
        if not request.HasField("model_spec"):
            raise invalid("Missing ModelSpec")
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in self.manager.statuses(request.model_spec.name, _version(request.model_spec)):
            status = response.model_version_status.add(version=version.number, state=version.state)
            status.status.CopyFrom(
                status_pb2.StatusProto(
                    error_code=grpc.StatusCode.UNKNOWN.value[0] if version.error else 0,
                    error_message=version.error,
                )
            )
        return response

    def reload(self, request: model_management_pb2.ReloadConfigRequest):
        if not self.options.allow_config_reload:
            raise ServingError(
                grpc.StatusCode.PERMISSION_DENIED,
                "config reload is turned off on this server (start it with "
                "--allow-config-reload to let clients change the models it serves)",
            )
        if request.config.WhichOneof("config") is None:
            log.info("Taking no action for empty config.")
        else:
            try:
                self.manager.reload(request.config)
            finally:
                self.on_reload()
        response = model_management_pb2.ReloadConfigResponse(
            status=status_pb2.StatusProto(error_code=0)
        )
        for metric in request.metric_names:  # no TensorFlow Serving metrics here: 0 increase
            response.metric.add(name=metric, int64_value_increase=0)
        return response


def _handler(pool, method, request_type, response_type):
    """A unary gRPC handler: parses the request itself (undecodable bytes are the client's
    mistake: INVALID_ARGUMENT), runs `method` on the pool, maps errors to status codes."""

    async def handle(raw: bytes, context: grpc.aio.ServicerContext):
        code, message = None, ""
        try:
            request = request_type.FromString(raw)
            if asyncio.iscoroutinefunction(method):
                return await method(request, pool)
            return await asyncio.get_running_loop().run_in_executor(pool, method, request)
        except DecodeError:
            code = grpc.StatusCode.INVALID_ARGUMENT
            message = f"could not parse the request as {request_type.DESCRIPTOR.full_name}"
        except ServingError as e:
            code, message = e.code, e.message
        except tf.errors.OpError as e:
            error = from_op_error(e)
            code, message = error.code, error.message
        except Exception as e:
            if isinstance(e, RuntimeError) and "cannot schedule new futures" in str(e):
                code, message = grpc.StatusCode.UNAVAILABLE, "the server is shutting down"
            else:  # anything else is our bug: report it, keep serving
                log.exception("%s failed", request_type.DESCRIPTOR.name)
                code, message = grpc.StatusCode.INTERNAL, f"{type(e).__name__}: {e}"
        await context.abort(code, _truncate(message))

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=None, response_serializer=response_type.SerializeToString
    )


def _generic_handlers(services: Services, pool) -> list:
    def service(name, methods):
        return grpc.method_handlers_generic_handler(
            f"tensorflow.serving.{name}",
            {key: _handler(pool, *value) for key, value in methods.items()},
        )

    return [
        service(
            "PredictionService",
            {
                "Predict": (
                    services.predict,
                    predict_pb2.PredictRequest,
                    predict_pb2.PredictResponse,
                ),
                "GetModelMetadata": (
                    services.metadata,
                    get_model_metadata_pb2.GetModelMetadataRequest,
                    get_model_metadata_pb2.GetModelMetadataResponse,
                ),
                "Classify": (
                    services.classify,
                    classification_pb2.ClassificationRequest,
                    classification_pb2.ClassificationResponse,
                ),
                "Regress": (
                    services.regress,
                    regression_pb2.RegressionRequest,
                    regression_pb2.RegressionResponse,
                ),
                "MultiInference": (
                    services.multi_inference,
                    inference_pb2.MultiInferenceRequest,
                    inference_pb2.MultiInferenceResponse,
                ),
            },
        ),
        service(
            "ModelService",
            {
                "GetModelStatus": (
                    services.status,
                    get_model_status_pb2.GetModelStatusRequest,
                    get_model_status_pb2.GetModelStatusResponse,
                ),
                "HandleReloadConfigRequest": (
                    services.reload,
                    model_management_pb2.ReloadConfigRequest,
                    model_management_pb2.ReloadConfigResponse,
                ),
            },
        ),
    ]


class LocalServer:
    """The gRPC server, its event-loop thread, and the thread polling model folders.

    `start()` loads what is on disk before the port opens (as TensorFlow Serving loads its
    initial config first), refuses a port that is in use, and returns once serving.

    Health (grpc.health.v1): "" and TensorFlow Serving's "ModelService" and
    "PredictionService" are SERVING while at least one model has a version AVAILABLE
    (readiness); each model name is SERVING while that model has one. The health service
    runs on the event loop, so it answers at once even when every model thread is busy
    (liveness). On shutdown every name turns NOT_SERVING first.
    """

    def __init__(self, manager: ModelManager, options: ServerOptions | None = None):
        self.manager = manager
        self.options = options or ServerOptions()
        self.port = 0
        self.address = ""
        self._stop = threading.Event()
        self._poll_now = threading.Event()
        self._pool = futures.ThreadPoolExecutor(self.options.workers, thread_name_prefix="model")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="grpc-loop", daemon=True
        )
        self._poller = threading.Thread(target=self._poll_loop, name="model-poller", daemon=True)
        self._config_mtime = 0.0
        self.health = None
        self.server = None
        self.batcher = BatchScheduler(self.options.batching) if self.options.batching else None
        self._rest = None
        self.rest_port = 0

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def start(self) -> LocalServer:
        """Loads the models on disk, then opens the port.

        Raises:
          OSError: the port is in use (two servers never share one) or cannot be bound.
        """
        _check_port_free(self.options.host, self.options.port)  # before minutes of loading
        self.manager.poll()
        lineages = self.manager.lineages()
        if len(set(lineages.values())) > 1 and not self.options.allow_mixed_lineage:
            said = "; ".join(f"{name}: {lineage}" for name, lineage in sorted(lineages.items()))
            raise ValueError(
                f"not serving models trained on different data (dataset:split:vocabulary): "
                f"{said}. Export them together (`recsys train all --export-dir DIR`), or pass "
                "--allow-mixed-lineage if they are not used together"
            )
        self._loop_thread.start()
        try:
            self._run(self._start())
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            raise
        self._poller.start()
        log.info(
            "serving TensorFlow Serving gRPC API on %s: %s",
            self.address,
            ", ".join(self.manager.model_names),
        )
        return self

    async def _start(self) -> None:
        opts = self.options
        arguments = [
            ("grpc.max_send_message_length", opts.max_message_bytes),
            ("grpc.max_receive_message_length", opts.max_message_bytes),
            ("grpc.so_reuseport", 0),
            *channel_arguments(opts.channel_arguments),
        ]
        self.server = grpc.aio.server(options=arguments)
        services = Services(self.manager, opts, self._refresh_health, self.batcher)
        self.services = services
        self.server.add_generic_rpc_handlers(_generic_handlers(services, self._pool))
        if opts.rest_api_port is not None:
            await self._start_rest(services)
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        address = f"{opts.host}:{opts.port}"
        credentials = server_credentials(opts.ssl_config_file) if opts.ssl_config_file else None
        try:
            if credentials:
                self.port = self.server.add_secure_port(address, credentials)
            else:
                self.port = self.server.add_insecure_port(address)
            if opts.socket_path:
                self.server.add_insecure_port(f"unix:{opts.socket_path}")
        except RuntimeError as e:
            self.port = 0
            reason = str(e)
        else:
            reason = ""
        if not self.port:
            raise OSError(
                f"cannot listen on {address}: the port is in use or not available "
                f"({reason or 'bind failed'}); stop the other server or pick another --port"
            )
        self.address = f"{opts.host}:{self.port}"
        await self._set_health()
        await self.server.start()

    async def _start_rest(self, services: Services) -> None:
        from aiohttp import web

        from serving.rest import RestApi

        self._rest = web.AppRunner(RestApi(services, self._pool).app, access_log=None)
        await self._rest.setup()
        site = web.TCPSite(self._rest, self.options.host, self.options.rest_api_port)
        try:
            await site.start()
        except OSError as e:
            await self._rest.cleanup()
            raise OSError(
                f"cannot listen on {self.options.host}:{self.options.rest_api_port} for REST: "
                f"the port is in use or not available ({e.strerror}); pick another --rest_api_port"
            ) from None
        self.rest_port = site._server.sockets[0].getsockname()[1]

    async def _set_health(self, shutting_down: bool = False) -> None:
        ready = not shutting_down and self.manager.any_available()
        for service in ("", *HEALTH_SERVICES):
            await self.health.set(service, _SERVING if ready else _NOT_SERVING)
        for name in self.manager.model_names:
            up = not shutting_down and self.manager.available(name)
            await self.health.set(name, _SERVING if up else _NOT_SERVING)

    def _refresh_health(self) -> None:
        """From a model thread: health follows a reload before the reload RPC returns."""
        asyncio.run_coroutine_threadsafe(self._set_health(), self._loop).result()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._poll_now.wait(self.options.poll_seconds)
            self._poll_now.clear()
            if self._stop.is_set():
                return
            try:
                self._reread_config()
                self.manager.poll()
                self._run(self._set_health())
            except Exception:  # a bad folder or config must not kill polling
                log.exception("model poll failed")

    def _reread_config(self) -> None:
        """--model_config_file_poll_wait_seconds: applies the config file when it changes."""
        path, every = self.options.model_config_file, self.options.config_poll_seconds
        if not path or every <= 0:
            return
        mtime = os.path.getmtime(path)
        if mtime == self._config_mtime:
            return
        self._config_mtime = mtime
        try:
            self.manager.reload(read_config(path))
            log.info("applied %s", path)
        except (ValueError, ServingError) as e:
            log.error("could not apply %s: %s", path, e)

    def stop(self, grace: float | None = None) -> None:
        """Health turns NOT_SERVING, new requests are refused, in-flight ones get `grace`
        seconds (default: the options' grace) to finish; then everything is released."""
        if self.server is None or self._stop.is_set():
            return
        self._stop.set()
        self._poll_now.set()
        grace = self.options.grace_seconds if grace is None else grace
        self._run(self._set_health(shutting_down=True))
        self._run(self.server.stop(grace))
        if self._rest is not None:
            self._run(self._rest.cleanup())
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.batcher:
            self.batcher.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)
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


def _check_port_free(host: str, port: int) -> None:
    """Fails at once when another process listens on `host:port` (0: any port will do).

    Raises:
      OSError: naming the address, as the bind itself would after loading the models.
    """
    if not port:
        return
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC's own bind
        try:
            probe.bind((host, port))
        except OSError as e:
            raise OSError(
                f"cannot listen on {host}:{port}: the port is in use or not available "
                f"({e.strerror}); stop the other server or pick another --port"
            ) from None


def local_manager(model_config, models_dir: str) -> ModelManager:
    """A manager for a models.config whose /models paths are re-rooted at `models_dir`
    (the only folder a config reload may name)."""
    config = read_config(model_config) if isinstance(model_config, str) else model_config
    return ModelManager(config, prefix_resolver({"/models": models_dir}), models_root=models_dir)


def serve_export_dir(model_config: str, export_dir: str, port: int = 0) -> LocalServer:
    """Starts a local server for `model_config` (a models.config file) with its /models
    paths re-rooted at `export_dir`; port 0 picks a free one (see `.address`)."""
    import_scann_ops()
    return LocalServer(local_manager(model_config, export_dir), ServerOptions(port=port)).start()


def import_scann_ops() -> bool:
    """Registers ScaNN's TensorFlow ops, so ScaNN SavedModels load; False if unavailable."""
    try:
        from scann.scann_ops.py import scann_ops  # noqa: F401
    except Exception as e:  # the brute-force and ranking models still work
        log.warning("ScaNN ops not loaded (%s): the ScaNN retrieval model will not load", e)
        return False
    return True
