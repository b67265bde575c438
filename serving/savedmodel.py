"""SavedModel plumbing shared by every exporter: versions, atomic writes, warm-up, specs.

A new version is written into a hidden temporary directory beside the versions and
renamed into `<base>/<version>` only when complete, so a server polling `<base>`
never sees half a model (TensorFlow Serving ignores non-numeric directory names).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from core import features as F
from serving import contract


def input_specs(names) -> dict[str, tf.TensorSpec]:
    """Signature specs of registry features, named as the features ([batch] or [batch, n])."""
    return {
        name: tf.TensorSpec(
            F.BY_NAME[name].shape, tf.dtypes.as_dtype(F.BY_NAME[name].dtype), name=name
        )
        for name in names
    }


def same_rows(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The inputs, once every one has the same number of rows (one row per user: nothing is
    broadcast, so a one-row `seen_movie_ids` cannot silently apply to every user)."""
    names = sorted(inputs)
    rows = tf.shape(inputs[names[0]])[0]
    checks = [
        tf.debugging.assert_equal(
            tf.shape(inputs[name])[0],
            rows,
            message=f"input {name} must have as many rows as {names[0]} (one row per user)",
        )
        for name in names[1:]
    ]
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in inputs.items()}


def contains(seen: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
    """[batch, n] bool: whether each of `ids` is in its row of `seen` ([batch, s], s >= 0).

    Binary search over each row's sorted 62-bit fingerprints: O(n log s) integer work per row
    instead of n x s string comparisons (a collision among a catalogue's ids has odds ~1e-12).
    """
    seen = tf.pad(seen, [[0, 0], [0, 1]], constant_values=F.PAD)  # s = 0 searches one PAD
    seen_keys = tf.sort(tf.strings.to_hash_bucket_fast(seen, 1 << 62), axis=1)
    keys = tf.strings.to_hash_bucket_fast(ids, 1 << 62)
    position = tf.searchsorted(seen_keys, keys)
    position = tf.minimum(position, tf.shape(seen_keys, out_type=position.dtype)[1] - 1)
    return tf.equal(tf.gather(seen_keys, position, batch_dims=1), keys)


def export(
    base: str,
    module: tf.Module,
    requests: list[Mapping[str, np.ndarray]],
    metadata: dict,
    options: tf.saved_model.SaveOptions | None = None,
) -> str:
    """Saves `module` (with its `serving_signatures`) as the next version under `base`,
    with warm-up records and `assets.extra/recsys.json`; returns the version directory.

    The metadata gains the signature's inputs with their registry descriptions and the time.
    """
    signature = module.serving_signatures[contract.SERVING_DEFAULT]
    inputs = sorted(signature.structured_input_signature[1])
    described = {name: F.BY_NAME[name].description for name in inputs}
    info = {**metadata, "inputs": described, "created_unix": int(time.time())}

    signatures = dict(module.serving_signatures)
    if metadata.get(contract.LINEAGE):
        signatures[contract.LINEAGE_SIGNATURE] = lineage_signature(metadata[contract.LINEAGE])

    def write(directory: str) -> None:
        tf.saved_model.save(module, directory, signatures=signatures, options=options)
        write_warmup(directory, metadata["model"], requests)
        write_metadata(directory, info)

    return write_version(base, write)


def lineage_signature(lineage: str):
    """The `lineage` signature: any `user_id` batch in, the export's lineage string per row out,
    so a client can ask a server (TensorFlow Serving included) what a model was trained on."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=F.USER_ID.name)])
    def lineage_of(user_id):
        return {contract.LINEAGE: tf.fill(tf.shape(user_id), tf.constant(lineage))}

    return lineage_of.get_concrete_function()


def read_lineage(version_dir: str) -> str:
    """The lineage in a version's `assets.extra/recsys.json` ("" if it has none)."""
    path = os.path.join(version_dir, contract.METADATA_FILE)
    if not os.path.isfile(path):
        return ""
    with open(path) as f:
        return json.load(f).get(contract.LINEAGE, "")


def versions(base: str) -> list[int]:
    """Existing version numbers under `base`, ascending."""
    if not os.path.isdir(base):
        return []
    return sorted(
        int(n) for n in os.listdir(base) if n.isdigit() and os.path.isdir(os.path.join(base, n))
    )


_TMP = ".tmp-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(base: str) -> list[str]:
    """Deletes `.tmp-<pid>-*` folders under `base` whose exporting process is gone (an export
    that was killed); returns what was deleted. Another live export's folder is kept."""
    removed = []
    for name in os.listdir(base):
        if not name.startswith(_TMP):
            continue
        pid = name[len(_TMP) :].split("-", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            removed.append(name)
    return removed


def make_readable(path: str) -> None:
    """World-readable (and folders enterable), so a server running as another user can load
    the model; mkdtemp creates folders 0700."""
    for root, _, files in os.walk(path):
        os.chmod(root, os.stat(root).st_mode | 0o755)
        for name in files:
            full = os.path.join(root, name)
            os.chmod(full, os.stat(full).st_mode | 0o444)


def write_version(base: str, write: Callable[[str], None], version: int | None = None) -> str:
    """Runs `write(tmp_dir)` and renames the result to `<base>/<version>` atomically.

    Args:
      base: Model base path, e.g. models/retrieval.
      write: Writes a complete SavedModel into the directory it is given.
      version: Version number; default one more than the newest existing version.

    Returns:
      The final version directory.

    Raises:
      FileExistsError: if `<base>/<version>` exists already.
    """
    os.makedirs(base, exist_ok=True)
    remove_stale_temporaries(base)
    version = version if version is not None else (versions(base) or [0])[-1] + 1
    final = os.path.join(base, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} exists; versions are never overwritten")
    tmp = tempfile.mkdtemp(prefix=f"{_TMP}{os.getpid()}-{version}-", dir=base)
    try:
        write(tmp)
        make_readable(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def write_warmup(
    model_dir: str,
    model_name: str,
    requests: list[Mapping[str, np.ndarray]],
    signature: str = contract.SERVING_DEFAULT,
) -> str:
    """Writes TensorFlow Serving warm-up records (PredictionLog protos) into the model."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(model_dir, contract.WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def write_metadata(model_dir: str, metadata: dict) -> None:
    """Writes `assets.extra/recsys.json` (what the export is, for people and tools)."""
    path = os.path.join(model_dir, contract.METADATA_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=True)
