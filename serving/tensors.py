"""Request TensorProtos in, response TensorProtos out, with limits checked first.

Every check runs on the protos before a tensor is built, so a small request cannot make
the server allocate a large one: the declared shape must match the values sent, and rows,
elements per tensor, elements per request and bytes per string are bounded
(`RequestLimits`). Numeric inputs must be finite. Inputs with a batch dimension must
agree on it, or have one row: the ranking model documents broadcasting a one-row user
over its candidates; the composite recommender refuses it (one row per user). Outputs
are written the way TensorFlow Serving writes them: in the typed fields (`float_val`,
`string_val`, ...), not in `tensor_content`.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from serving.limits import RequestLimits
from serving.manager import invalid

# The typed field of each dtype the signatures use, and its element size in tensor_content.
_FIELDS = {
    types_pb2.DT_STRING: ("string_val", 0),
    types_pb2.DT_FLOAT: ("float_val", 4),
    types_pb2.DT_DOUBLE: ("double_val", 8),
    types_pb2.DT_INT32: ("int_val", 4),
    types_pb2.DT_INT16: ("int_val", 2),
    types_pb2.DT_INT8: ("int_val", 1),
    types_pb2.DT_UINT8: ("int_val", 1),
    types_pb2.DT_INT64: ("int64_val", 8),
    types_pb2.DT_BOOL: ("bool_val", 1),
    types_pb2.DT_HALF: ("half_val", 2),
}


def dtype_name(dtype: int) -> str:
    return types_pb2.DataType.Name(dtype)[3:].lower()


def _declared_shape(key: str, proto: tensor_pb2.TensorProto) -> list[int]:
    if proto.tensor_shape.unknown_rank:
        raise invalid(f"input {key}: the shape has unknown rank; send a full shape")
    shape = [d.size for d in proto.tensor_shape.dim]
    if any(size < 0 for size in shape):
        raise invalid(f"input {key}: negative dimension in shape {shape}")
    return shape


def _values_sent(key: str, proto: tensor_pb2.TensorProto) -> int:
    field, size = _FIELDS.get(proto.dtype, (None, 0))
    if field is None:
        raise invalid(f"input {key}: dtype {dtype_name(proto.dtype)} is not supported")
    if proto.tensor_content:
        if not size or len(proto.tensor_content) % size:
            raise invalid(
                f"input {key}: tensor_content of {len(proto.tensor_content)} bytes does not "
                f"hold whole {dtype_name(proto.dtype)} values"
            )
        return len(proto.tensor_content) // size
    return len(getattr(proto, field))


def _check_proto(key: str, proto, limits: RequestLimits) -> tuple[list[int], int]:
    """(declared shape, elements), once the proto is known to be small, complete and
    well-formed."""
    shape = _declared_shape(key, proto)
    elements = math.prod(shape)
    if elements > limits.max_tensor_elements:
        raise invalid(
            f"input {key}: shape {shape} has {elements} elements; at most "
            f"{limits.max_tensor_elements} per input (--max-elements-per-tensor)"
        )
    sent = _values_sent(key, proto)
    if sent != elements:
        raise invalid(f"input {key}: shape {shape} needs {elements} values but {sent} were sent")
    if shape and shape[0] > limits.max_rows:
        raise invalid(
            f"input {key}: {shape[0]} rows; at most {limits.max_rows} per request "
            "(--max-rows-per-request)"
        )
    if proto.dtype == types_pb2.DT_STRING:
        longest = max(map(len, proto.string_val), default=0)
        if longest > limits.max_string_bytes:
            raise invalid(
                f"input {key}: a string of {longest} bytes; at most {limits.max_string_bytes} "
                "(--max-string-bytes)"
            )
    return shape, elements


def decode_inputs(
    signature: meta_graph_pb2.SignatureDef,
    signature_name: str,
    inputs,
    limits: RequestLimits,
) -> dict[str, np.ndarray]:
    """Request inputs -> arrays, checked against the signature and the limits.

    Raises:
      ServingError: INVALID_ARGUMENT naming the input: missing or extra inputs, wrong dtype,
        rank or shape, too large, non-finite numbers, or batch sizes that disagree.
    """
    expected, given = set(signature.inputs), set(inputs)
    if expected != given:
        raise invalid(
            f"input size does not match signature: {len(given)}!={len(expected)} "
            f"len({{{','.join(sorted(given))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{','.join(sorted(given - expected))}}}. "
            f"Missing but required: {{{','.join(sorted(expected - given))}}}."
        )
    shapes, total = {}, 0
    for key in sorted(expected):
        info, proto = signature.inputs[key], inputs[key]
        if proto.dtype != info.dtype:
            raise invalid(
                f"Expects arg[{key}] to be {dtype_name(info.dtype)} but "
                f"{dtype_name(proto.dtype)} is provided"
            )
        shape, elements = _check_proto(key, proto, limits)
        if not info.tensor_shape.unknown_rank and len(shape) != len(info.tensor_shape.dim):
            raise invalid(
                f"input {key} has shape {shape}; the signature expects rank "
                f"{len(info.tensor_shape.dim)}"
            )
        if shape and shape[0] == 0:
            raise invalid(f"input {key} is empty (batch of 0)")
        shapes[key] = shape
        total += elements
        if total > limits.max_request_elements:
            raise invalid(
                f"the inputs hold more than {limits.max_request_elements} elements in all "
                "(--max-elements-per-request)"
            )
    rows = {key: shape[0] for key, shape in shapes.items() if shape}
    if len(set(rows.values()) - {1}) > 1:
        listed = ", ".join(f"{key}: {n}" for key, n in sorted(rows.items()))
        raise invalid(f"inputs disagree on the batch size (rows per input: {listed})")
    arrays = {}
    for key in sorted(expected):
        try:
            value = _to_array(inputs[key], shapes[key])
        except Exception as e:
            raise invalid(f"input {key} is not a valid TensorProto: {e}") from None
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise invalid(f"input {key} holds NaN or infinity; send finite numbers")
        arrays[key] = value
    return arrays


# numpy types of the typed fields read directly (the others go through tf.make_ndarray)
_NUMPY = {
    types_pb2.DT_FLOAT: np.float32,
    types_pb2.DT_DOUBLE: np.float64,
    types_pb2.DT_INT32: np.int32,
    types_pb2.DT_INT64: np.int64,
    types_pb2.DT_BOOL: np.bool_,
}


def _to_array(proto: tensor_pb2.TensorProto, shape: list[int]) -> np.ndarray:
    """What tf.make_ndarray gives for a checked proto (values match the shape), read
    straight from the typed field: 5x faster for the usual request (strings, floats)."""
    if proto.tensor_content or (proto.dtype != types_pb2.DT_STRING and proto.dtype not in _NUMPY):
        return tf.make_ndarray(proto)
    field, _ = _FIELDS[proto.dtype]
    if proto.dtype == types_pb2.DT_STRING:
        return np.array(list(proto.string_val), dtype=object).reshape(shape)
    return np.array(getattr(proto, field), dtype=_NUMPY[proto.dtype]).reshape(shape)


def to_proto_field(value: np.ndarray) -> tensor_pb2.TensorProto:
    """An output as TensorFlow Serving writes it: dtype, shape and the typed value field."""
    dtype = tf.dtypes.as_dtype(value.dtype).as_datatype_enum
    field, _ = _FIELDS[dtype]
    proto = tensor_pb2.TensorProto(
        dtype=dtype,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in value.shape]
        ),
    )
    flat = value.ravel()
    if dtype == types_pb2.DT_HALF:
        flat = flat.view(np.uint16)
    getattr(proto, field).extend(flat.tolist())
    return proto
