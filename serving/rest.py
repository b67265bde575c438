"""TensorFlow Serving's REST API on the local server (aiohttp, same event loop as gRPC).

    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v} | /labels/{l}]/metadata   signature defs
    POST /v1/models/{name}[/versions/{v} | /labels/{l}]:predict    {"instances": [...]} (rows)
                                                                   or {"inputs": {...}} (columns)

A request becomes the same PredictRequest the gRPC API takes (same checks, limits and
batching); errors come back as {"error": "..."} with the HTTP code TensorFlow Serving maps
each status code to (http_server.cc ToHTTPStatusCode). Strings are UTF-8 JSON strings, or
{"b64": "..."} for bytes.
"""

from __future__ import annotations

import base64
import json
import re

import grpc
import numpy as np
import tensorflow as tf
from aiohttp import web
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

from serving.manager import ServingError, State, from_op_error, invalid

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict|:classify|:regress)?$"
)
_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
}
_TF_CODE_NAMES = {0: "OK", 2: "UNKNOWN"}


def _json(body: dict, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def _error(code: grpc.StatusCode, message: str) -> web.Response:
    return _json({"error": message}, _HTTP.get(code, 500))


def _decode_value(value):
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise invalid(
                f"JSON Value: {json.dumps(value)} not formatted correctly for base64 data"
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise invalid("Unable to base64 decode") from None
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    return value.encode() if isinstance(value, str) else value


def _tensor(name: str, value, dtype) -> tf.compat.v1.TensorProto:
    """A JSON value as a TensorProto of the signature's dtype."""
    np_dtype = object if dtype == tf.string else dtype.as_numpy_dtype
    try:
        array = np.array(_decode_value(value), dtype=np_dtype)
    except (TypeError, ValueError) as e:
        raise invalid(
            f"input {name}: {e} (lists must be rectangular, values of type {dtype.name})"
        ) from None
    if array.dtype == object and any(not isinstance(v, bytes) for v in array.ravel()):
        raise invalid(f"input {name}: expected strings")
    return tf.make_tensor_proto(array, dtype=dtype, shape=array.shape)


def _to_json(value: np.ndarray, name: str):
    if value.dtype == object:
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(
                value
            ).tolist()
        return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(value).tolist()
    return value.tolist()


class RestApi:
    """The REST routes over the gRPC services (`serving.server.Services`)."""

    def __init__(self, services, pool):
        self.services = services
        self.pool = pool
        self.app = web.Application(client_max_size=services.options.max_message_bytes)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        match = _PATH.match(request.path)
        try:
            if match is None:
                raise invalid(f"Malformed request: {request.method} {request.path}")
            suffix = match["suffix"] or ""
            if request.method == "GET" and suffix in ("", "/metadata"):
                return _json(self._metadata(match) if suffix else self._status(match))
            if request.method == "POST" and suffix == ":predict":
                return _json(await self._predict(match, await request.read()))
            if request.method == "POST" and suffix in (":classify", ":regress"):
                raise ServingError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"{suffix[1:]} is not served here (these models have predict signatures)",
                )
            raise invalid(f"Malformed request: {request.method} {request.path}")
        except ServingError as e:
            return _error(e.code, e.message)
        except tf.errors.OpError as e:
            error = from_op_error(e)
            return _error(error.code, error.message)

    @staticmethod
    def _spec(spec, match) -> None:
        spec.name = match["name"]
        if match["version"]:
            spec.version.value = int(match["version"])
        if match["label"]:
            spec.version_label = match["label"]

    def _status(self, match) -> dict:
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, match)
        if match["label"]:
            request.model_spec.ClearField("version_label")
            request.model_spec.version.value = self.services.manager.get(
                match["name"], None, match["label"]
            ).number
        response = self.services.status(request)
        return {
            "model_version_status": [
                {
                    "version": str(s.version),
                    "state": State.Name(s.state),
                    "status": {
                        "error_code": _TF_CODE_NAMES.get(s.status.error_code, "UNKNOWN"),
                        "error_message": s.status.error_message,
                    },
                }
                for s in response.model_version_status
            ]
        }

    def _metadata(self, match) -> dict:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec, match)
        response = self.services.metadata(request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        return {
            "model_spec": {
                "name": response.model_spec.name,
                "signature_name": "",
                "version": str(response.model_spec.version.value),
            },
            "metadata": {
                "signature_def": json_format.MessageToDict(
                    signatures, preserving_proto_field_name=True
                )
            },
        }

    async def _predict(self, match, body: bytes) -> dict:
        try:
            document = json.loads(body or b"")
        except ValueError as e:
            raise invalid(f"JSON Parse error: {e}") from None
        if not isinstance(document, dict):
            raise invalid("JSON Value: the request body is not an object")
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, match)
        signature_name = document.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise invalid("'signature_name' key must be a string value.")
        request.model_spec.signature_name = signature_name
        _, _, signature = self.services.predict_signature(request.model_spec)
        dtypes = {k: tf.dtypes.as_dtype(v.dtype) for k, v in signature.inputs.items()}
        rows = "instances" in document
        if rows == ("inputs" in document):
            both = "expecting only one of 'inputs' or 'instances' keys to exist"
            raise invalid(
                f"Not formatted correctly {both}" if rows else "Missing 'inputs' or 'instances' key"
            )
        columns = self._columns(document, dtypes) if not rows else self._rows(document, dtypes)
        for name, value in columns.items():
            request.inputs[name].CopyFrom(_tensor(name, value, dtypes.get(name, tf.string)))
        response = await self.services.predict(request, self.pool)
        outputs = {k: _to_json(tf.make_ndarray(v), k) for k, v in response.outputs.items()}
        if not rows:
            return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
        count = len(next(iter(outputs.values()))) if outputs else 0
        if len(outputs) == 1:
            return {"predictions": next(iter(outputs.values()))}
        return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(count)]}

    @staticmethod
    def _rows(document, dtypes) -> dict:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise invalid("Expecting 'instances' to be an list/array")
        if not instances:
            raise invalid("No values in 'instances' array")
        if len(dtypes) == 1 and not isinstance(instances[0], dict):
            return {next(iter(dtypes)): instances}
        columns: dict[str, list] = {}
        for i, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise invalid(f"Expecting object but got list at item {i} of input list")
            for name, value in instance.items():
                columns.setdefault(name, []).append(value)
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise invalid(f"every instance must name the same inputs; counts: {lengths}")
        return columns

    @staticmethod
    def _columns(document, dtypes) -> dict:
        inputs = document["inputs"]
        if isinstance(inputs, dict):
            return inputs
        if len(dtypes) != 1:
            raise invalid(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        return {next(iter(dtypes)): inputs}
