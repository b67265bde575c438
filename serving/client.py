"""A gRPC client for TensorFlow Serving's API (real TensorFlow Serving or `recsys serve`).

One channel and one stub per service; every call carries a deadline; UNAVAILABLE is
retried with exponential backoff; gRPC status codes become typed errors. Inputs are
converted to the dtypes of `core.features`, so a caller may pass plain lists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from core import features as F
from serving import contract
from serving.channel import channel_target

log = logging.getLogger(__name__)


class ServingClientError(Exception):
    """A failed call; `code` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str, target: str):
        super().__init__(f"{code.name} from {target}: {message}")
        self.code = code
        self.details = message


class NotFoundError(ServingClientError):
    """Unknown model, or a version that is not loaded."""


class InvalidArgumentError(ServingClientError):
    """The request does not fit the signature (missing, extra or mistyped inputs), breaks a
    request limit, or names an unknown version label."""


class FailedPreconditionError(ServingClientError):
    """The model cannot do what was asked (e.g. it has no signature of that name)."""


class UnavailableError(ServingClientError):
    """Server unreachable, shutting down, or overloaded (after retries)."""


class DeadlineExceededError(ServingClientError):
    """The call took longer than its deadline."""


_ERRORS = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}

_STATES = {v: k for k, v in get_model_status_pb2.ModelVersionStatus.State.items()}


def to_tensor_proto(name: str, value) -> tf.compat.v1.TensorProto:
    """A request input as a TensorProto in its feature's dtype (`core.features`)."""
    feature = F.BY_NAME.get(name)
    if feature is not None and feature.dtype == "string":
        array = np.asarray(value, dtype=object)
        array = (
            np.vectorize(lambda v: v if isinstance(v, bytes) else str(v).encode(), otypes=[object])(
                array
            )
            if array.size
            else array
        )
        return tf.make_tensor_proto(array, dtype=tf.string, shape=array.shape)
    dtype = np.dtype(feature.dtype) if feature is not None else None
    return tf.make_tensor_proto(np.asarray(value, dtype=dtype))


class ServingClient:
    """Client of one server.

    Args:
      target: host:port of the gRPC API (TensorFlow Serving's default port is 8500), or
        replicas: "host1:port,host2:port" or "dns:///name:port", spread round robin; a
        request that meets UNAVAILABLE (a replica going away) is retried on another.
      timeout: Deadline of each call, seconds.
      retries: Extra attempts after UNAVAILABLE.
      backoff: First wait between attempts, seconds; doubles each time.
      max_message_bytes: Largest request or response accepted.
    """

    def __init__(
        self,
        target: str = "localhost:8500",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_message_bytes: int = 64 << 20,
    ):
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        address, balancing = channel_target(target)
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            *balancing,
        ]
        self.channel = grpc.insecure_channel(address, options=options)
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> ServingClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, timeout: float | None = None):
        wait = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return method(request, timeout=timeout or self.timeout)
            except grpc.RpcError as e:
                code, details = e.code(), e.details() or ""
                if code == grpc.StatusCode.UNAVAILABLE and attempt < self.retries:
                    log.debug(
                        "UNAVAILABLE from %s (%s); retrying in %.2fs", self.target, details, wait
                    )
                    time.sleep(wait)
                    wait *= 2
                    continue
                raise _ERRORS.get(code, ServingClientError)(code, details, self.target) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _spec(
        spec, model: str, version: int | None, label: str | None, signature: str | None = None
    ) -> None:
        spec.name = model
        if version is not None and label:
            raise ValueError("give a version or a label, not both")
        if version is not None:
            spec.version.value = version
        if label:
            spec.version_label = label
        if signature:
            spec.signature_name = signature

    def predict(
        self,
        model: str,
        inputs: Mapping[str, object],
        signature: str = contract.SERVING_DEFAULT,
        version: int | None = None,
        label: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, np.ndarray]:
        """One Predict call; returns the outputs as numpy arrays (strings decoded to str)."""
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, model, version, label, signature)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(to_tensor_proto(name, value))
        response = self._call(self.prediction.Predict, request, timeout)
        outputs = {}
        for key, proto in response.outputs.items():
            array = tf.make_ndarray(proto)
            if array.dtype == object:
                array = (
                    np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(array)
                    if array.size
                    else array
                )
            outputs[key] = array
        return outputs

    def status(self, model: str, version: int | None = None) -> list[dict]:
        """[{"version", "state", "error"}] of a model's versions (GetModelStatus)."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, model, version, None)
        response = self._call(self.models.GetModelStatus, request)
        return [
            {"version": s.version, "state": _STATES[s.state], "error": s.status.error_message}
            for s in response.model_version_status
        ]

    def metadata(self, model: str, version: int | None = None, label: str | None = None) -> dict:
        """{"version", "signatures": {name: {"inputs": {key: dtype}, "outputs": {key: dtype}}}}."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec, model, version, label)
        response = self._call(self.prediction.GetModelMetadata, request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        signatures = {}
        for name, sig in signature_map.signature_def.items():
            if name == contract.INIT_OP_SIGNATURE:
                continue
            signatures[name] = {
                "inputs": {k: tf.dtypes.as_dtype(v.dtype).name for k, v in sig.inputs.items()},
                "outputs": {k: tf.dtypes.as_dtype(v.dtype).name for k, v in sig.outputs.items()},
            }
        return {"version": response.model_spec.version.value, "signatures": signatures}

    def wait_until_available(self, models, timeout: float = 120.0) -> None:
        """Blocks until each model has an AVAILABLE version.

        Raises:
          UnavailableError: if one is not available within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        for model in models:
            while True:
                try:
                    if any(s["state"] == "AVAILABLE" for s in self.status(model)):
                        break
                except (UnavailableError, NotFoundError):
                    pass
                if time.monotonic() > deadline:
                    raise UnavailableError(
                        grpc.StatusCode.UNAVAILABLE,
                        f"{model} not available after {timeout}s",
                        self.target,
                    )
                time.sleep(0.2)
