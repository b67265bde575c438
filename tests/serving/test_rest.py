"""TensorFlow Serving's REST API on the local server, with a real HTTP client (urllib)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from serving import contract
from serving.client import ServingClient
from tests.serving.conftest import start_server
from tests.serving.test_server import PROFILE, RETRIEVAL_INPUTS

BRUTE = contract.RETRIEVAL_BRUTEFORCE


@pytest.fixture(scope="module")
def rest(models_dir):
    running = start_server(
        models_dir, [BRUTE, contract.RANKING, contract.RECOMMENDER], rest_api_port=0
    )
    yield running
    running.stop()


def _call(server, path, body=None, raw=None):
    """(HTTP status, JSON body) of GET (no body) or POST."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{server.rest_port}{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _instance(profile=PROFILE):
    return {k: v[0] for k, v in profile.inputs(RETRIEVAL_INPUTS).items()}


def test_status_and_metadata(rest):
    status, body = _call(rest, f"/v1/models/{contract.RANKING}")
    assert status == 200
    assert body == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert _call(rest, f"/v1/models/{contract.RANKING}/versions/1")[1] == body
    assert _call(rest, f"/v1/models/{contract.RANKING}/labels/stable")[1] == body
    status, meta = _call(rest, f"/v1/models/{BRUTE}/metadata")
    assert status == 200 and meta["model_spec"] == {
        "name": BRUTE,
        "signature_name": "",
        "version": "1",
    }
    default = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert set(default["inputs"]) == set(RETRIEVAL_INPUTS)


def test_predict_rows_and_columns_match_grpc(rest):
    with ServingClient(rest.address) as client:
        expected = client.predict(BRUTE, PROFILE.inputs(RETRIEVAL_INPUTS))
    status, rows = _call(rest, f"/v1/models/{BRUTE}:predict", {"instances": [_instance()] * 2})
    assert status == 200 and len(rows["predictions"]) == 2
    first = rows["predictions"][0]
    assert first["movie_ids"] == expected[contract.MOVIE_IDS][0].tolist()
    np.testing.assert_allclose(first["scores"], expected[contract.SCORES][0], atol=1e-6)
    columns = {k: v for k, v in PROFILE.inputs(RETRIEVAL_INPUTS).items()}
    status, body = _call(rest, f"/v1/models/{BRUTE}/versions/1:predict", {"inputs": columns})
    assert status == 200 and body["outputs"]["movie_ids"] == expected[contract.MOVIE_IDS].tolist()
    b64 = {**columns, "user_id": [{"b64": base64.b64encode(b"1").decode()}]}
    assert _call(rest, f"/v1/models/{BRUTE}:predict", {"inputs": b64})[1] == body


def test_predict_on_the_recommender(rest):
    with ServingClient(rest.address) as client:
        inputs = client.metadata(contract.RECOMMENDER)["signatures"]["serving_default"]["inputs"]
        expected = client.predict(contract.RECOMMENDER, PROFILE.inputs(inputs))
    status, body = _call(
        rest, f"/v1/models/{contract.RECOMMENDER}:predict", {"inputs": PROFILE.inputs(inputs)}
    )
    assert status == 200
    assert body["outputs"]["movie_ids"] == expected[contract.MOVIE_IDS].tolist()


@pytest.mark.parametrize(
    "path, body, raw, code, text",
    [
        ("/v1/models/nope:predict", {"instances": [{}]}, None, 404, "Servable not found"),
        (f"/v1/models/{BRUTE}:predict", None, b"{not json", 400, "JSON Parse error"),
        (f"/v1/models/{BRUTE}:predict", {"inputs": {}, "instances": []}, None, 400, "only one"),
        (f"/v1/models/{BRUTE}:predict", {"signature_name": "x"}, None, 400, "not found"),
        (f"/v1/models/{BRUTE}:predict", {}, None, 400, "Missing 'inputs' or 'instances'"),
        (f"/v1/models/{BRUTE}:predict", {"instances": []}, None, 400, "No values"),
        (f"/v1/models/{BRUTE}/labels/nope", None, None, 400, "Unrecognized servable version label"),
        ("/v2/anything", None, None, 400, "Malformed request"),
        (f"/v1/models/{BRUTE}/versions/9", None, None, 404, "Could not find version 9"),
        (f"/v1/models/{BRUTE}:classify", {"examples": []}, None, 501, "classify"),
    ],
)
def test_errors_are_json_with_tf_serving_http_codes(rest, path, body, raw, code, text):
    status, answer = _call(rest, path, body, raw)
    assert status == code and text in answer["error"], answer


def test_wrong_types_are_bad_requests(rest):
    wrong = {**PROFILE.inputs(RETRIEVAL_INPUTS), "timestamp": ["not a number"]}
    status, answer = _call(rest, f"/v1/models/{BRUTE}:predict", {"inputs": wrong})
    assert status == 400 and "timestamp" in answer["error"]
