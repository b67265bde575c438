"""The Kubernetes manifests of BUILD.md's "Serving replicas", checked without a cluster: each
document has the fields its kind requires, names agree across documents, and the files the
ConfigMap is made of are valid TensorFlow Serving configs."""

from __future__ import annotations

import json
import re

import yaml

from serving.batching import read_batching_parameters
from serving.manager import read_config, validate_config
from tests.conftest import REPO

CONFIGS = REPO / "configs"
REQUIRED = {  # kind -> (apiVersion, fields that must be present, as dotted paths)
    "Deployment": ("apps/v1", ["metadata.name", "spec.selector.matchLabels", "spec.template"]),
    "Job": ("batch/v1", ["metadata.name", "spec.template.spec.containers"]),
    "Service": ("v1", ["metadata.name", "spec.selector", "spec.ports"]),
    "PersistentVolumeClaim": ("v1", ["metadata.name", "spec.accessModes", "spec.resources"]),
}


def _get(document: dict, path: str):
    for key in path.split("."):
        document = document[key]
    return document


def _documents(name: str = "serving.yaml") -> dict[str, dict]:
    docs = list(yaml.safe_load_all((CONFIGS / "kubernetes" / name).read_text()))
    for doc in docs:
        version, fields = REQUIRED[doc["kind"]]
        assert doc["apiVersion"] == version, doc["kind"]
        for path in fields:
            assert _get(doc, path), f"{doc['kind']}: {path}"
    return {doc["kind"]: doc for doc in docs}


def test_the_manifests_fit_together():
    docs = _documents()
    deployment, service, claim = (
        docs["Deployment"],
        docs["Service"],
        docs["PersistentVolumeClaim"],
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["clusterIP"] == "None"  # headless: DNS lists every ready pod
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports)
    assert container["readinessProbe"]["grpc"]["port"] == ports["grpc"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert (
        volumes[mounts["/models"]]["persistentVolumeClaim"]["claimName"]
        == claim["metadata"]["name"]
    )
    config_map = volumes[mounts["/config"]]["configMap"]["name"]
    # Every file a flag names under /config is a key of the generated ConfigMap.
    kustomization = yaml.safe_load((CONFIGS / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["kubernetes/serving.yaml"]
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == config_map
    files = dict(
        entry.split("=", 1) if "=" in entry else (entry.rsplit("/", 1)[-1], entry)
        for entry in generator["files"]
    )
    named = {m for arg in container["args"] for m in re.findall(r"=/config/([\w.]+)", arg)}
    assert named == set(files), (named, files)
    # ... and each is a valid TensorFlow Serving config.
    config = read_config(str(CONFIGS / files["models.config"]))
    validate_config(config, previous={})
    assert {m.name for m in config.model_config_list.config} == {
        "retrieval_bruteforce",
        "ranking",
        "recommender",
    }
    read_batching_parameters(str(CONFIGS / files["batching.config"]))


def test_the_multi_worker_job_gives_each_worker_a_reachable_name_and_its_index():
    docs = _documents("train-multi-worker.yaml")
    job, service = docs["Job"], docs["Service"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    pod = spec["template"]["spec"]
    assert (
        pod["subdomain"] == service["metadata"]["name"] and service["spec"]["clusterIP"] == "None"
    )
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    workers = json.loads(env["WORKERS"])
    assert len(workers) == spec["completions"]
    port = service["spec"]["ports"][0]["port"]
    name = job["metadata"]["name"]
    assert workers == [
        f"{name}-{i}.{service['metadata']['name']}:{port}" for i in range(len(workers))
    ]
    script = container["args"][0]
    assert "TF_CONFIG" in script and "$JOB_COMPLETION_INDEX" in script and "recsys train" in script
    # The TF_CONFIG the shell builds is valid JSON naming this worker.
    built = script.split('TF_CONFIG="', 1)[1].split('" &&', 1)[0].replace('\\"', '"')
    built = built.replace("$WORKERS", env["WORKERS"]).replace("$JOB_COMPLETION_INDEX", "1")
    config = json.loads(built)
    assert config == {"cluster": {"worker": workers}, "task": {"type": "worker", "index": 1}}
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    serving = _documents()["PersistentVolumeClaim"]["metadata"]["name"]
    assert serving in claims  # the chief exports where the replicas read
