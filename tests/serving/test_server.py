"""The local server over real gRPC on loopback: status, metadata, Predict, versions, errors."""

from __future__ import annotations

import os
import shutil
import time

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2

from serving import contract
from serving.client import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ServingClient,
    UnavailableError,
)
from serving.recommend import UserProfile

PROFILE = UserProfile(
    user_id="1",
    user_gender=True,
    bucketized_user_age=25.0,
    raw_user_age=30.0,
    user_occupation_text="writer",
    user_zip_code="55455",
    timestamp=880_000_000,
    recent_movie_ids=["3", "2"],
    seen_movie_ids=["2", "3"],
)
CANDIDATES = {
    "movie_id": ["1", "2", "3"],
    "retrieval_score": [0.3, 0.2, 0.1],
    "retrieval_rank": [0, 1, 2],
}
ONE_CANDIDATE = {"movie_id": ["1"], "retrieval_score": [0.3], "retrieval_rank": [0]}
RETRIEVAL_INPUTS = (
    "user_id",
    "user_gender",
    "bucketized_user_age",
    "raw_user_age",
    "user_occupation_text",
    "user_zip_code",
    "timestamp",
    "recent_movie_ids",
)


def test_status_of_every_model(client):
    for model in (
        contract.RETRIEVAL,
        contract.RETRIEVAL_BRUTEFORCE,
        contract.RANKING,
        contract.RECOMMENDER,
    ):
        assert client.status(model) == [{"version": 1, "state": "AVAILABLE", "error": ""}]


def test_metadata_signatures_match_the_contract(client):
    meta = client.metadata(contract.RETRIEVAL_BRUTEFORCE)
    assert meta["version"] == 1
    assert set(meta["signatures"]) == {
        contract.SERVING_DEFAULT,
        contract.UNSEEN_CANDIDATES_SIGNATURE,
        contract.QUERY_EMBEDDING_SIGNATURE,
        contract.SIMILAR_MOVIES_SIGNATURE,
        contract.LINEAGE_SIGNATURE,
    }
    lineage = meta["signatures"][contract.LINEAGE_SIGNATURE]
    assert lineage == {"inputs": {"user_id": "string"}, "outputs": {contract.LINEAGE: "string"}}
    default = meta["signatures"][contract.SERVING_DEFAULT]
    assert set(default["inputs"]) == set(RETRIEVAL_INPUTS)
    assert default["outputs"] == {contract.MOVIE_IDS: "string", contract.SCORES: "float32"}
    unseen = meta["signatures"][contract.UNSEEN_CANDIDATES_SIGNATURE]
    assert set(unseen["inputs"]) == {*RETRIEVAL_INPUTS, contract.SEEN_MOVIE_IDS}
    assert unseen["outputs"] == default["outputs"]
    ranking = client.metadata(contract.RANKING)["signatures"][contract.SERVING_DEFAULT]
    assert set(ranking["outputs"]) == {
        contract.SCORE,
        contract.PREDICTED_RATING,
        contract.MOVIE_TITLE,
    }
    assert {"movie_id", "retrieval_score", "retrieval_rank"} <= set(ranking["inputs"])
    recommender = client.metadata(contract.RECOMMENDER)["signatures"][contract.SERVING_DEFAULT]
    assert contract.SEEN_MOVIE_IDS in recommender["inputs"]


def test_predict_on_each_model(client):
    for model in (contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE):
        out = client.predict(model, PROFILE.inputs(RETRIEVAL_INPUTS))
        assert out[contract.MOVIE_IDS].shape == (1, 5) and out[contract.SCORES].shape == (1, 5)
    embedding = client.predict(
        contract.RETRIEVAL,
        PROFILE.inputs(RETRIEVAL_INPUTS),
        signature=contract.QUERY_EMBEDDING_SIGNATURE,
    )
    assert embedding[contract.QUERY_EMBEDDING].shape == (1, 8)
    ranking_inputs = {k: v for k, v in PROFILE.inputs(RETRIEVAL_INPUTS).items()}
    rated = client.predict(contract.RANKING, {**ranking_inputs, **CANDIDATES})
    assert rated[contract.PREDICTED_RATING].shape == (3,) and rated[contract.SCORE].shape == (3,)
    assert all(t.endswith(")") for t in rated[contract.MOVIE_TITLE])  # titles "... (1981)"


def test_recommend_both_ways_gives_the_same_top_k(client):
    from serving.recommend import recommend, recommend_composite

    composite = recommend_composite(client, PROFILE, k=3)
    two_calls = recommend(client, PROFILE, k=3, retrieval_model=contract.RETRIEVAL_BRUTEFORCE)
    assert [r["movie_id"] for r in composite] == [r["movie_id"] for r in two_calls]
    for key in ("score", "predicted_rating"):
        assert np.allclose([r[key] for r in composite], [r[key] for r in two_calls], atol=1e-5)
    assert not {r["movie_id"] for r in composite} & set(
        PROFILE.seen_movie_ids
    ), "seen movies are filtered"
    scores = [r["score"] for r in composite]
    assert scores == sorted(scores, reverse=True)
    assert len(recommend(client, PROFILE, k=3)) == 3  # through the ScaNN model too


def test_version_label_and_unknown_label(client):
    out = client.predict(
        contract.RANKING, {**PROFILE.inputs(RETRIEVAL_INPUTS), **ONE_CANDIDATE}, label="stable"
    )
    assert out[contract.PREDICTED_RATING].shape == (1,)
    with pytest.raises(InvalidArgumentError, match="Unrecognized servable version label: canary"):
        client.predict(
            contract.RANKING, {**PROFILE.inputs(RETRIEVAL_INPUTS), **ONE_CANDIDATE}, label="canary"
        )


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"model": "nope"}, NotFoundError, "Servable not found"),
        ({"version": 7}, NotFoundError, "Specific"),
        ({"model": "pending"}, NotFoundError, r"Latest\(pending\)"),
        ({"signature": "nope"}, FailedPreconditionError, 'signature key "nope" not found'),
        ({"drop": "user_id"}, InvalidArgumentError, r"Missing but required: \{user_id\}"),
        ({"extra": "bogus"}, InvalidArgumentError, r"Sent extra: \{bogus\}"),
        (
            {"retype": "timestamp"},
            InvalidArgumentError,
            "Expects arg\\[timestamp\\] to be int64 but string",
        ),
        ({"reshape": "recent_movie_ids"}, InvalidArgumentError, "expects rank 2"),
        ({"empty": "user_id"}, InvalidArgumentError, "empty"),
    ],
)
def test_bad_requests_get_tf_serving_status_codes(client, change, error, message):
    inputs = PROFILE.inputs(RETRIEVAL_INPUTS)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = change.get("model", contract.RETRIEVAL_BRUTEFORCE)
    if "version" in change:
        request.model_spec.version.value = change["version"]
    request.model_spec.signature_name = change.get("signature", contract.SERVING_DEFAULT)
    from serving.client import to_tensor_proto

    for key, value in inputs.items():
        if key == change.get("drop"):
            continue
        if key == change.get("retype"):
            value = [str(v) for v in value]
            request.inputs[key].CopyFrom(to_tensor_proto("user_id", value))
            continue
        if key == change.get("reshape"):
            value = value[0]
        if key == change.get("empty"):
            value = []
        request.inputs[key].CopyFrom(to_tensor_proto(key, value))
    if "extra" in change:
        request.inputs[change["extra"]].CopyFrom(to_tensor_proto("user_id", ["x"]))
    with pytest.raises(error, match=message):
        client._call(client.prediction.Predict, request)
    # and the server keeps serving
    assert client.predict(contract.RETRIEVAL_BRUTEFORCE, inputs)[contract.MOVIE_IDS].shape == (1, 5)


def test_batch_size_mismatches_name_the_inputs(client):
    bad = {**PROFILE.inputs(RETRIEVAL_INPUTS), **CANDIDATES, "user_id": ["1", "1"]}
    with pytest.raises(InvalidArgumentError, match="movie_id: 3.*user_id: 2"):
        client.predict(contract.RANKING, bad)
    # the ranking model broadcasts a one-row user over its candidates (documented) ...
    assert client.predict(contract.RANKING, {**PROFILE.inputs(RETRIEVAL_INPUTS), **CANDIDATES})
    # ... the recommender does not: one row per user, checked inside its graph
    keys = client.metadata(contract.RECOMMENDER)["signatures"]["serving_default"]["inputs"]
    two_users = {key: value * 2 for key, value in PROFILE.inputs(keys).items()}
    two_users[contract.SEEN_MOVIE_IDS] = two_users[contract.SEEN_MOVIE_IDS][:1]
    with pytest.raises(InvalidArgumentError, match="seen_movie_ids must have as many rows"):
        client.predict(contract.RECOMMENDER, two_users)


def test_missing_model_name_and_unsupported_metadata_field(client):
    request = predict_pb2.PredictRequest()
    with pytest.raises(InvalidArgumentError, match="ModelSpec has no name"):
        client._call(client.prediction.Predict, request)
    from tensorflow_serving.apis import get_model_metadata_pb2

    meta = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["weights"])
    meta.model_spec.name = contract.RANKING
    with pytest.raises(InvalidArgumentError, match="not supported"):
        client._call(client.prediction.GetModelMetadata, meta)


def test_health_service(server):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        ranking = stub.Check(health_pb2.HealthCheckRequest(service=contract.RANKING), timeout=10)
        pending = stub.Check(health_pb2.HealthCheckRequest(service="pending"), timeout=10)
    assert ranking.status == health_pb2.HealthCheckResponse.SERVING
    assert pending.status == health_pb2.HealthCheckResponse.NOT_SERVING


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_new_version_is_served_without_restart_and_half_written_ones_never(own_client, models_copy):
    client = own_client
    base = models_copy / contract.RETRIEVAL_BRUTEFORCE
    half = base / "3"
    half.mkdir()  # a numeric folder without saved_model.pb: not a version yet
    (half / "variables").mkdir()
    staging = base / ".tmp-2"
    shutil.copytree(base / "1", staging)
    os.rename(staging, base / "2")  # the exporters' atomic rename
    assert _wait_for(
        lambda: any(
            s["version"] == 2 and s["state"] == "AVAILABLE"
            for s in client.status(contract.RETRIEVAL_BRUTEFORCE)
        )
    )
    assert _wait_for(
        lambda: {
            s["version"]: s["state"] for s in client.status(contract.RETRIEVAL_BRUTEFORCE)
        }.get(1)
        == "END"
    )
    request = predict_pb2.PredictRequest()
    request.model_spec.name = contract.RETRIEVAL_BRUTEFORCE
    from serving.client import to_tensor_proto

    for key, value in PROFILE.inputs(RETRIEVAL_INPUTS).items():
        request.inputs[key].CopyFrom(to_tensor_proto(key, value))
    assert client._call(client.prediction.Predict, request).model_spec.version.value == 2
    assert 3 not in [s["version"] for s in client.status(contract.RETRIEVAL_BRUTEFORCE)]


def test_a_broken_version_is_reported_and_the_old_one_keeps_serving(own_client, models_copy):
    client = own_client
    base = models_copy / contract.RECOMMENDER
    broken = base / ".tmp-9"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    os.rename(broken, base / "9")
    assert _wait_for(
        lambda: any(
            s["version"] == 9 and s["state"] == "END" and s["error"]
            for s in client.status(contract.RECOMMENDER)
        )
    )
    assert {s["version"]: s["state"] for s in client.status(contract.RECOMMENDER)}[1] == "AVAILABLE"
    assert client.predict(
        contract.RECOMMENDER,
        PROFILE.inputs(
            client.metadata(contract.RECOMMENDER)["signatures"]["serving_default"]["inputs"]
        ),
    )


def test_client_retries_unavailable_then_raises(tmp_path):
    with ServingClient("127.0.0.1:1", timeout=2, retries=2, backoff=0.01) as unreachable:
        started = time.monotonic()
        with pytest.raises(UnavailableError, match="127.0.0.1:1"):
            unreachable.status(contract.RANKING)
        assert time.monotonic() - started < 20
