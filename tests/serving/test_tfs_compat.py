"""TensorFlow Serving compatibility: behaviours its own tests and RPC implementations assert.

Each behaviour names where it comes from in tensorflow/serving (paths under
tensorflow_serving/). Read-only behaviours run against the local server and, when a
`tensorflow_model_server` binary is on PATH, against it too over the same models (stock
config: no ScaNN), so the two are compared with one command:
`pytest tests/serving/test_tfs_compat.py`. Behaviours that reload configs or change model
folders run on a local server of their own. BUILD.md lists the deliberate differences.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from serving import contract
from serving.client import to_tensor_proto
from tests.conftest import MODELS_CONFIG
from tests.serving.test_server import PROFILE, RETRIEVAL_INPUTS

RANKING, BRUTE = contract.RANKING, contract.RETRIEVAL_BRUTEFORCE
PREDICT_METHOD = "tensorflow/serving/predict"
SMALL = (RANKING, BRUTE)  # what servers of a single behaviour load
Code = grpc.StatusCode


@dataclasses.dataclass(frozen=True)
class Behaviour:
    name: str
    source: str  # file (and test or function) in tensorflow/serving that asserts it
    check: Callable


def _registrar(registry: list[Behaviour]):
    """A decorator factory: @name(source) adds the function to `registry`."""

    def behaviour(source: str):
        def register(check):
            registry.append(Behaviour(check.__name__, source, check))
            return check

        return register

    return behaviour


BEHAVIOURS: list[Behaviour] = []
behaviour = _registrar(BEHAVIOURS)


class Target:
    """Stubs of one server."""

    def __init__(self, address: str):
        self.address = address
        self.channel = grpc.insecure_channel(address)
        self.predict = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        from tensorflow_serving.apis import model_service_pb2_grpc

        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)


def _fails(call, request, code: grpc.StatusCode, text: str = "") -> str:
    with pytest.raises(grpc.RpcError) as e:
        call(request, timeout=60)
    assert e.value.code() == code, f"{e.value.code()}: {e.value.details()}"
    assert text in e.value.details(), e.value.details()
    return e.value.details()


def _predict_request(model=BRUTE, inputs=None, **spec) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    inputs = PROFILE.inputs(RETRIEVAL_INPUTS) if inputs is None else inputs
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(to_tensor_proto(key, value))
    return request


def _two_rows():
    return {key: value * 2 for key, value in PROFILE.inputs(RETRIEVAL_INPUTS).items()}


def _metadata_request(model=RANKING, fields=("signature_def",), **spec):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=list(fields))
    request.model_spec.name = model
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    return request


def _status_request(model=RANKING, version=None):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    if version is not None:
        request.model_spec.version.value = version
    return request


# --- Predict: servicing the request (servables/tensorflow/predict_util.cc) -------------------


@behaviour("servables/tensorflow/predict_util.cc RunPredict: default signature")
def empty_signature_name_means_serving_default(t):
    response = t.predict.Predict(_predict_request(), timeout=60)
    assert response.model_spec.signature_name == "serving_default"


@behaviour("servables/tensorflow/predict_util.cc MakeModelSpec")
def response_names_model_and_version(t):
    response = t.predict.Predict(_predict_request(), timeout=60)
    assert response.model_spec.name == BRUTE and response.model_spec.version.value == 1


@behaviour("servables/tensorflow/predict_util.cc RunPredict (signature not found)")
def unknown_signature_is_failed_precondition(t):
    _fails(
        t.predict.Predict,
        _predict_request(signature_name="nope"),
        Code.FAILED_PRECONDITION,
        'Serving signature key "nope" not found.',
    )


@behaviour("servables/tensorflow/predict_util.cc VerifyRequestInputsSize")
def missing_input_is_invalid_argument_listing_it(t):
    inputs = PROFILE.inputs(RETRIEVAL_INPUTS)
    del inputs["user_id"]
    details = _fails(
        t.predict.Predict, _predict_request(inputs=inputs), Code.INVALID_ARGUMENT, "input size"
    )
    assert "Missing but required: {user_id}" in details


@behaviour("servables/tensorflow/predict_util.cc VerifyRequestInputsSize")
def extra_input_is_invalid_argument_listing_it(t):
    inputs = {**PROFILE.inputs(RETRIEVAL_INPUTS), "movie_id": ["1"]}
    _fails(t.predict.Predict, _predict_request(inputs=inputs), Code.INVALID_ARGUMENT, "Sent extra:")


@behaviour("servables/tensorflow/predict_util.cc VerifyRequestInputsSize (message format)")
def input_size_message_counts_both_sides(t):
    inputs = {**PROFILE.inputs(RETRIEVAL_INPUTS), "movie_id": ["1"]}
    details = _fails(t.predict.Predict, _predict_request(inputs=inputs), Code.INVALID_ARGUMENT)
    assert "input size does not match signature: 9!=8" in details


@behaviour("servables/tensorflow/predict_util_test.cc InputsWithWrongType (session dtype check)")
def wrong_dtype_is_invalid_argument(t):
    request = _predict_request()
    request.inputs["timestamp"].CopyFrom(to_tensor_proto("user_id", ["x"]))
    _fails(t.predict.Predict, request, Code.INVALID_ARGUMENT, "timestamp")


@behaviour("servables/tensorflow/predict_util.cc PreProcessPrediction (alias not found)")
def unknown_output_filter_is_invalid_argument(t):
    request = _predict_request()
    request.output_filter.append("nope")
    _fails(
        t.predict.Predict,
        request,
        Code.INVALID_ARGUMENT,
        "output tensor alias not found in signature: nope",
    )


@behaviour("servables/tensorflow/predict_util.cc PreProcessPrediction (duplicate alias)")
def duplicate_output_filter_is_invalid_argument(t):
    request = _predict_request()
    request.output_filter.extend(["scores", "scores"])
    _fails(t.predict.Predict, request, Code.INVALID_ARGUMENT, "duplicate output tensor alias")


@behaviour("servables/tensorflow/predict_util_test.cc OutputFilters")
def output_filter_returns_only_those_outputs(t):
    request = _predict_request()
    request.output_filter.append("scores")
    assert set(t.predict.Predict(request, timeout=60).outputs) == {"scores"}


@behaviour("servables/tensorflow/predict_util_test.cc PredictionSuccess (all outputs)")
def no_output_filter_returns_every_output(t):
    assert set(t.predict.Predict(_predict_request(), timeout=60).outputs) == {
        "movie_ids",
        "scores",
    }


@behaviour("servables/tensorflow/predict_util.cc RunPredict: kAsProtoField (float_val)")
def float_outputs_fill_float_val_for_batches(t):
    scores = t.predict.Predict(_predict_request(inputs=_two_rows()), timeout=60).outputs["scores"]
    assert not scores.tensor_content and len(scores.float_val) == 2 * 5


@behaviour("servables/tensorflow/predict_util.cc RunPredict: kAsProtoField (string_val)")
def string_outputs_fill_string_val(t):
    ids = t.predict.Predict(_predict_request(inputs=_two_rows()), timeout=60).outputs["movie_ids"]
    assert len(ids.string_val) == 10


@behaviour("servables/tensorflow/predict_util.cc RunPredict: output shape")
def outputs_carry_their_shape(t):
    ids = t.predict.Predict(_predict_request(inputs=_two_rows()), timeout=60).outputs["movie_ids"]
    assert [d.size for d in ids.tensor_shape.dim] == [2, 5]


@behaviour("model_servers/server_core.cc ServableRequestFromModelSpec")
def empty_model_name_is_invalid_argument(t):
    _fails(
        t.predict.Predict,
        _predict_request(model=""),
        Code.INVALID_ARGUMENT,
        "ModelSpec has no name specified.",
    )


@behaviour("core/servable_handle (ServerCore::GetServableHandle): unknown model")
def unknown_model_is_not_found(t):
    _fails(
        t.predict.Predict,
        _predict_request(model="nope"),
        Code.NOT_FOUND,
        "Servable not found for request: Latest(nope)",
    )


@behaviour("core/servable_handle (ServerCore::GetServableHandle): unknown version")
def unknown_version_is_not_found(t):
    _fails(
        t.predict.Predict,
        _predict_request(version=7),
        Code.NOT_FOUND,
        f"Servable not found for request: Specific({BRUTE}, 7)",
    )


@behaviour("model_servers/server_core_test.cc ModelSpecMultipleVersionsAvailable (label)")
def version_label_resolves_to_its_version(t):
    inputs = {**PROFILE.inputs(RETRIEVAL_INPUTS), "movie_id": ["1"]}
    inputs.update(retrieval_score=[0.1], retrieval_rank=[0])
    request = _predict_request(RANKING, inputs, version_label="stable")
    assert t.predict.Predict(request, timeout=60).model_spec.version.value == 1


@behaviour("model_servers/server_core.cc GetModelVersionForLabel")
def unknown_label_is_invalid_argument(t):
    _fails(
        t.predict.Predict,
        _predict_request(RANKING, {}, version_label="canary"),
        Code.INVALID_ARGUMENT,
        "Unrecognized servable version label: canary",
    )


@behaviour("servables/tensorflow/predict_util_test.cc (specific version)")
def explicit_version_is_served(t):
    assert t.predict.Predict(_predict_request(version=1), timeout=60).model_spec.version.value == 1


@behaviour("model_servers/grpc_status_util.cc ToGRPCStatus (1024-character limit)")
def long_error_messages_are_truncated(t):
    inputs = PROFILE.inputs(RETRIEVAL_INPUTS)
    request = _predict_request(inputs=inputs)
    for i in range(80):
        request.inputs[f"an_input_nobody_expects_{i:03d}"].CopyFrom(to_tensor_proto("x", [1]))
    details = _fails(t.predict.Predict, request, Code.INVALID_ARGUMENT)
    assert details.endswith("...TRUNCATED") and len(details) == 1024 + len("...TRUNCATED")


@behaviour("model_servers/grpc_status_util.cc ToGRPCStatus (codes pass through)")
def graph_errors_keep_tensorflow_codes(t):
    metadata = t.predict.GetModelMetadata(_metadata_request(contract.RECOMMENDER), timeout=60)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signatures)
    keys = signatures.signature_def["serving_default"].inputs
    inputs = {key: value * 2 for key, value in PROFILE.inputs(keys).items()}
    inputs[contract.SEEN_MOVIE_IDS] = inputs[contract.SEEN_MOVIE_IDS][:1]  # assertion in graph
    request = _predict_request(contract.RECOMMENDER, inputs)
    _fails(t.predict.Predict, request, Code.INVALID_ARGUMENT, "seen_movie_ids")


# --- GetModelMetadata (servables/tensorflow/get_model_metadata_impl.cc) ----------------------


@behaviour("get_model_metadata_impl.cc ValidateGetModelMetadataRequest (no field)")
def metadata_without_field_is_invalid_argument(t):
    _fails(
        t.predict.GetModelMetadata,
        _metadata_request(fields=()),
        Code.INVALID_ARGUMENT,
        "must specify at least one metadata_field",
    )


@behaviour("get_model_metadata_impl.cc ValidateGetModelMetadataRequest (unknown field)")
def metadata_unknown_field_is_invalid_argument(t):
    _fails(
        t.predict.GetModelMetadata,
        _metadata_request(fields=("weights",)),
        Code.INVALID_ARGUMENT,
        "Metadata field weights is not supported",
    )


@behaviour("get_model_metadata_impl.cc GetModelMetadata (no model_spec)")
def metadata_without_model_spec_is_invalid_argument(t):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    _fails(t.predict.GetModelMetadata, request, Code.INVALID_ARGUMENT, "Missing ModelSpec")


@behaviour("model_servers/tensorflow_model_server_test.py testGetModelMetadata")
def metadata_has_only_signature_def_and_names_the_version(t):
    response = t.predict.GetModelMetadata(_metadata_request(), timeout=60)
    assert response.model_spec.name == RANKING and response.model_spec.version.value == 1
    assert list(response.metadata) == ["signature_def"]


@behaviour("get_model_metadata_impl.cc SavedModelGetSignatureDef (every signature)")
def metadata_lists_the_init_op_signature(t):
    response = t.predict.GetModelMetadata(_metadata_request(), timeout=60)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert {"serving_default", "__saved_model_init_op"} <= set(signatures.signature_def)
    assert signatures.signature_def["serving_default"].method_name == PREDICT_METHOD


@behaviour("get_model_metadata_impl.cc (GetServableHandle: unknown model)")
def metadata_unknown_model_is_not_found(t):
    _fails(t.predict.GetModelMetadata, _metadata_request("nope"), Code.NOT_FOUND)


@behaviour("get_model_metadata_impl.cc (GetServableHandle: label)")
def metadata_follows_version_labels(t):
    response = t.predict.GetModelMetadata(_metadata_request(version_label="stable"), timeout=60)
    assert response.model_spec.version.value == 1


@behaviour("get_model_metadata_impl.cc (GetServableHandle: unknown version)")
def metadata_unknown_version_is_not_found(t):
    _fails(t.predict.GetModelMetadata, _metadata_request(version=9), Code.NOT_FOUND)


# --- GetModelStatus (model_servers/get_model_status_impl.cc, *_test.cc) ----------------------


@behaviour("get_model_status_impl.cc GetModelStatus (no model_spec)")
def status_without_model_spec_is_invalid_argument(t):
    _fails(
        t.models.GetModelStatus,
        get_model_status_pb2.GetModelStatusRequest(),
        Code.INVALID_ARGUMENT,
        "Missing ModelSpec",
    )


@behaviour("get_model_status_impl_test.cc MissingOrEmptyModelSpecFailure / unknown model")
def status_unknown_model_is_not_found(t):
    _fails(
        t.models.GetModelStatus,
        _status_request("nope"),
        Code.NOT_FOUND,
        "Could not find any versions of model nope",
    )


@behaviour("get_model_status_impl_test.cc GetStatusForNonexistentModelVersion")
def status_unknown_version_is_not_found(t):
    _fails(
        t.models.GetModelStatus,
        _status_request(version=7),
        Code.NOT_FOUND,
        f"Could not find version 7 of model {RANKING}",
    )


@behaviour("get_model_status_impl_test.cc GetStatusForModelAndVersion")
def status_of_one_version(t):
    response = t.models.GetModelStatus(_status_request(version=1), timeout=60)
    assert [s.version for s in response.model_version_status] == [1]


@behaviour("tensorflow_model_server_test.py testGetModelStatus (AVAILABLE, error_code 0)")
def status_available_with_ok_status(t):
    (status,) = t.models.GetModelStatus(_status_request(), timeout=60).model_version_status
    assert status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert status.HasField("status") and status.status.error_code == 0


# --- Classify / Regress / MultiInference on predict signatures --------------------------------


@behaviour("servables/tensorflow/classifier.cc GetClassificationSignatureDef (method name)")
def classify_on_a_predict_signature_says_so(t):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = RANKING
    request.input.example_list.examples.add()
    _fails(
        t.predict.Classify,
        request,
        Code.INVALID_ARGUMENT,
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        f"Was: {PREDICT_METHOD}",
    )


@behaviour("servables/tensorflow/classifier.cc GetClassificationSignatureDef (no signature)")
def classify_unknown_signature_is_invalid_argument(t):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = RANKING, "nope"
    _fails(
        t.predict.Classify,
        request,
        Code.INVALID_ARGUMENT,
        "No signature was found with the name: nope",
    )


@behaviour("servables/tensorflow/classifier.cc (unknown model)")
def classify_unknown_model_is_not_found(t):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "nope"
    _fails(t.predict.Classify, request, Code.NOT_FOUND)


@behaviour("servables/tensorflow/regressor.cc GetRegressionSignatureDef (method name)")
def regress_on_a_predict_signature_says_so(t):
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = RANKING
    request.input.example_list.examples.add()
    _fails(
        t.predict.Regress,
        request,
        Code.INVALID_ARGUMENT,
        "Expected regression signature method_name to be tensorflow/serving/regress",
    )


@behaviour("servables/tensorflow/regressor.cc GetRegressionSignatureDef (no signature)")
def regress_unknown_signature_is_invalid_argument(t):
    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = RANKING, "nope"
    _fails(t.predict.Regress, request, Code.INVALID_ARGUMENT, "No signature was found")


def _multi(*tasks) -> inference_pb2.MultiInferenceRequest:
    request = inference_pb2.MultiInferenceRequest()
    for model, signature, method in tasks:
        task = request.tasks.add(method_name=method)
        task.model_spec.name, task.model_spec.signature_name = model, signature
    request.input.example_list.examples.add()
    return request


@behaviour("servables/tensorflow/multi_inference.cc Infer (empty model name)")
def multi_inference_empty_model_name(t):
    _fails(
        t.predict.MultiInference,
        _multi(("", "", "tensorflow/serving/classify")),
        Code.INVALID_ARGUMENT,
        "Found ModelSpec with an empty model name.",
    )


@behaviour("servables/tensorflow/multi_inference.cc Infer (signature not found)")
def multi_inference_unknown_signature(t):
    _fails(
        t.predict.MultiInference,
        _multi((RANKING, "nope", "tensorflow/serving/classify")),
        Code.INVALID_ARGUMENT,
        "Requested signature not found in model graph: nope",
    )


@behaviour("servables/tensorflow/multi_inference.cc Infer (method name)")
def multi_inference_unsupported_method(t):
    _fails(
        t.predict.MultiInference,
        _multi((RANKING, "serving_default", PREDICT_METHOD)),
        Code.UNIMPLEMENTED,
        f"Unsupported signature method_name: {PREDICT_METHOD}",
    )


@behaviour("servables/tensorflow/multi_inference.cc Infer -> PreProcessClassification")
def multi_inference_classify_on_predict_signature(t):
    _fails(
        t.predict.MultiInference,
        _multi((RANKING, "serving_default", "tensorflow/serving/classify")),
        Code.INVALID_ARGUMENT,
        "Expected classification signature method_name",
    )


# --- Health (model_servers/server.cc BuildAndStart) -------------------------------------------


def _health(t, service):
    return t.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status


@behaviour("grpc default health service (server.cc EnableDefaultHealthCheckService)")
def health_overall_serving(t):
    assert _health(t, "") == health_pb2.HealthCheckResponse.SERVING


@behaviour('model_servers/server.cc SetServingStatus("ModelService")')
def health_model_service_serving(t):
    assert _health(t, "ModelService") == health_pb2.HealthCheckResponse.SERVING


@behaviour('model_servers/server.cc SetServingStatus("PredictionService")')
def health_prediction_service_serving(t):
    assert _health(t, "PredictionService") == health_pb2.HealthCheckResponse.SERVING


# --- Targets ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["local", "tensorflow_model_server"])
def target(request, server, models_dir):
    if request.param == "local":
        yield Target(server.address)
        return
    binary = shutil.which("tensorflow_model_server")
    if binary is None:
        pytest.skip("no tensorflow_model_server on PATH: checked against the local server only")
    port = _free_port()
    config = models_dir.parent / "tfs_compat_models.config"
    stock = open(os.path.join(os.path.dirname(MODELS_CONFIG), "models.stock.config")).read()
    config.write_text(stock.replace("/models/", f"{models_dir}/"))
    process = subprocess.Popen(
        [  # health for ModelService/PredictionService needs TF Serving's health flag
            binary,
            f"--port={port}",
            f"--model_config_file={config}",
            "--enable_grpc_healthcheck_service=true",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    t = Target(f"127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            t.models.GetModelStatus(_status_request(contract.RECOMMENDER), timeout=5)
            break
        except grpc.RpcError:
            time.sleep(0.5)
    yield t
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.parametrize("item", BEHAVIOURS, ids=[b.name for b in BEHAVIOURS])
def test_behaviour(target, item):
    item.check(target)


# --- Config reload and model folders: a local server of its own -------------------------------


def _config(*models, labels=None):
    config = model_server_config_pb2.ModelServerConfig()
    for name, path, *platform in models:
        model = config.model_config_list.config.add(
            name=name, base_path=path, model_platform=(platform or ["tensorflow"])[0]
        )
        model.model_version_policy.all.SetInParent()
        for label, version in (labels or {}).get(name, {}).items():
            model.version_labels[label] = version
    return config


def _reload(t, config, metrics=()):
    request = model_management_pb2.ReloadConfigRequest(config=config, metric_names=list(metrics))
    return t.models.HandleReloadConfigRequest(request, timeout=120)


RELOAD_BEHAVIOURS: list[Behaviour] = []
reload_behaviour = _registrar(RELOAD_BEHAVIOURS)


@reload_behaviour("model_service_impl.cc HandleReloadConfigRequest (OK status)")
def reload_returns_ok_status(t, root):
    response = _reload(t, _config((RANKING, "/models/ranking")))
    assert response.status.error_code == 0


@reload_behaviour("server_core_test.cc ReloadConfigWaitsTillModelsAvailable")
def reload_returns_once_new_models_are_available(t, root):
    _reload(t, _config((RANKING, "/models/ranking"), (BRUTE, f"/models/{BRUTE}")))
    assert t.predict.Predict(_predict_request(), timeout=60).model_spec.version.value == 1


@reload_behaviour("server_core_test.cc ReloadConfigUnloadsModels (listed as END)")
def dropped_models_are_listed_as_end(t, root):
    _reload(t, _config((RANKING, "/models/ranking")))
    states = t.models.GetModelStatus(_status_request(BRUTE), timeout=60).model_version_status
    assert [s.state for s in states] == [get_model_status_pb2.ModelVersionStatus.END]
    _fails(t.predict.Predict, _predict_request(), Code.NOT_FOUND)


@reload_behaviour("server_core_test.cc ReloadConfigHandlesLoadingAPreviouslyUnloadedModel")
def a_dropped_model_can_come_back(t, root):
    _reload(t, _config((RANKING, "/models/ranking")))
    _reload(t, _config((RANKING, "/models/ranking"), (BRUTE, f"/models/{BRUTE}")))
    assert t.predict.Predict(_predict_request(), timeout=60).model_spec.version.value == 1


@reload_behaviour("server_core_test.cc ReloadConfigChangeModelBasePath")
def a_changed_base_path_is_followed(t, root):
    shutil.copytree(root / RANKING / "1", root / "ranking_b" / "4", dirs_exist_ok=True)
    _reload(t, _config((RANKING, "/models/ranking_b")))
    response = t.predict.GetModelMetadata(_metadata_request(), timeout=60)
    assert response.model_spec.version.value == 4
    _reload(t, _config((RANKING, "/models/ranking")))


@reload_behaviour("server_core_test.cc DuplicateModelNameInConfig")
def duplicate_names_are_invalid(t, root):
    config = _config((RANKING, "/models/ranking"), (RANKING, "/models/ranking"))
    _fails(lambda r, timeout: _reload(t, r), config, Code.INVALID_ARGUMENT, "multiple times")


@reload_behaviour("server_core_test.cc RelativePathFails")
def relative_base_paths_are_invalid(t, root):
    _fails(
        lambda r, timeout: _reload(t, r),
        _config((RANKING, "models/ranking")),
        Code.INVALID_ARGUMENT,
        "to have an absolute path or URI",
    )


@reload_behaviour("server_core_test.cc UnknownModelPlatform")
def unknown_platforms_are_invalid(t, root):
    _fails(
        lambda r, timeout: _reload(t, r),
        _config(("x", "/models/ranking", "pytorch")),
        Code.INVALID_ARGUMENT,
        "requests unsupported platform pytorch",
    )


@reload_behaviour("server_core_test.cc IllegalToChangeModelPlatform")
def changing_a_platform_is_invalid(t, root):
    _fails(
        lambda r, timeout: _reload(t, r),
        _config((RANKING, "/models/ranking", "pytorch")),
        Code.INVALID_ARGUMENT,
        "Illegal to change a model's platform",
    )


@reload_behaviour("server_core_test.cc IllegalConfigModelTypeAndPlatformSet")
def model_type_and_platform_together_are_invalid(t, root):
    config = _config((RANKING, "/models/ranking"))
    config.model_config_list.config[0].model_type = model_server_config_pb2.TENSORFLOW
    _fails(lambda r, timeout: _reload(t, r), config, Code.INVALID_ARGUMENT, "Illegal setting both")


@reload_behaviour("server_core.cc GetPlatform (neither set)")
def a_config_without_platform_is_invalid(t, root):
    config = _config((RANKING, "/models/ranking"))
    config.model_config_list.config[0].model_platform = ""
    _fails(lambda r, timeout: _reload(t, r), config, Code.INVALID_ARGUMENT, "neither")


@reload_behaviour("server_core_test.cc DeprecatedModelTypeConfig")
def the_deprecated_model_type_is_accepted(t, root):
    config = _config((RANKING, "/models/ranking"))
    config.model_config_list.config[0].model_platform = ""
    config.model_config_list.config[0].model_type = model_server_config_pb2.TENSORFLOW
    assert _reload(t, config).status.error_code == 0


@reload_behaviour("server_core_test.cc AssignLabelToUnavailableVersion")
def a_label_on_a_version_not_loaded_is_failed_precondition(t, root):
    config = _config((RANKING, "/models/ranking"), labels={RANKING: {"canary": 42}})
    _fails(
        lambda r, timeout: _reload(t, r),
        config,
        Code.FAILED_PRECONDITION,
        "not currently available for inference",
    )
    _reload(t, _config((RANKING, "/models/ranking")))


@reload_behaviour("server_core_test.cc ModelSpecMultipleVersionsAvailable (labels via reload)")
def labels_set_by_reload_are_served(t, root):
    _reload(t, _config((RANKING, "/models/ranking"), labels={RANKING: {"canary": 1}}))
    response = t.predict.GetModelMetadata(_metadata_request(version_label="canary"), timeout=60)
    assert response.model_spec.version.value == 1


@reload_behaviour("server_core_test.cc ErroringModel (did not become available)")
def a_new_model_that_fails_is_unknown(t, root):
    (root / "broken" / "1").mkdir(parents=True, exist_ok=True)
    (root / "broken" / "1" / "saved_model.pb").write_bytes(b"not a model")
    details = _fails(
        lambda r, timeout: _reload(t, r),
        _config((RANKING, "/models/ranking"), ("broken", "/models/broken")),
        Code.UNKNOWN,
        "1 model(s) did not become available",
    )
    assert "broken" in details
    (status,) = t.models.GetModelStatus(_status_request("broken"), timeout=60).model_version_status
    assert status.state == get_model_status_pb2.ModelVersionStatus.END
    assert status.status.error_code != 0 and status.status.error_message


@reload_behaviour("model_service_impl.cc RecordMetricsIncrease (requested metrics)")
def requested_metrics_are_answered(t, root):
    response = _reload(t, _config((RANKING, "/models/ranking")), metrics=["a_metric"])
    assert [m.name for m in response.metric] == ["a_metric"]


@reload_behaviour("model_service_impl.cc HandleReloadConfigRequest (config type)")
def only_model_config_lists_are_accepted(t, root):
    config = model_server_config_pb2.ModelServerConfig()
    config.custom_model_config.Pack(model_server_config_pb2.ModelConfigList())
    _fails(lambda r, timeout: _reload(t, r), config, Code.INVALID_ARGUMENT, "not supported")


@reload_behaviour("server_core.cc ReloadConfig (empty config: no action)")
def an_empty_config_changes_nothing(t, root):
    assert _reload(t, model_server_config_pb2.ModelServerConfig()).status.error_code == 0
    assert t.models.GetModelStatus(_status_request(), timeout=60).model_version_status


@reload_behaviour("server_core_test.cc CreateWaitsTillModelsAvailable")
def models_are_loaded_before_the_port_answers(t, root):
    from tests.serving.conftest import start_server

    running = start_server(root, SMALL, poll_seconds=3600)  # no poll after start
    try:
        other = Target(running.address)
        status = other.models.GetModelStatus(_status_request(BRUTE), timeout=10)
        assert (
            status.model_version_status[0].state
            == get_model_status_pb2.ModelVersionStatus.AVAILABLE
        )
    finally:
        running.stop()


@reload_behaviour("tensorflow_model_server_test.py testPredictUDS (--grpc_socket_path)")
def predict_over_a_unix_socket(t, root):
    from tests.serving.conftest import start_server

    socket_path = root / "serving.sock"
    running = start_server(root, SMALL, socket_path=str(socket_path))
    try:
        other = Target(f"unix:{socket_path}")
        assert other.predict.Predict(_predict_request(), timeout=60).outputs
    finally:
        running.stop()


@reload_behaviour("tensorflow_model_server_test.py testGoodGrpcChannelArgs")
def grpc_channel_arguments_are_applied(t, root):
    from serving.server import channel_arguments

    assert channel_arguments("grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb") == [
        ("grpc.max_connection_age_ms", 2000),
        ("grpc.lb_policy_name", "grpclb"),
    ]
    from tests.serving.conftest import start_server

    running = start_server(root, SMALL, channel_arguments="grpc.max_connection_age_ms=2000")
    try:
        assert Target(running.address).predict.Predict(_predict_request(), timeout=60).outputs
    finally:
        running.stop()


@reload_behaviour("tensorflow_model_server_test.py testModelConfigReload (config file polling)")
def the_config_file_is_polled(t, root):
    from tests.serving.conftest import start_server

    config = root / "polled.config"
    config.write_text(str(_config((RANKING, "/models/ranking"))))
    running = start_server(root, SMALL, model_config_file=str(config), config_poll_seconds=0.2)
    try:
        other = Target(running.address)
        os.utime(config, (time.time() + 5, time.time() + 5))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = other.models.GetModelStatus(_status_request(BRUTE), timeout=10)
            if states.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.END:
                break
            time.sleep(0.2)
        _fails(other.predict.Predict, _predict_request(), Code.NOT_FOUND)
    finally:
        running.stop()


@pytest.fixture(scope="module")
def reload_target(models_dir, tmp_path_factory):
    from tests.serving.conftest import start_server

    root = tmp_path_factory.mktemp("compat") / "models"
    shutil.copytree(models_dir, root)
    running = start_server(root)
    yield Target(running.address), root
    running.stop()


@pytest.mark.parametrize("item", RELOAD_BEHAVIOURS, ids=[b.name for b in RELOAD_BEHAVIOURS])
def test_reload_behaviour(reload_target, item):
    t, root = reload_target
    item.check(t, root)
    # every check leaves the server serving the ranking model
    _reload(t, _config((RANKING, "/models/ranking"), (BRUTE, f"/models/{BRUTE}")))


def test_at_least_sixty_behaviours_are_checked():
    assert len(BEHAVIOURS) + len(RELOAD_BEHAVIOURS) >= 60
