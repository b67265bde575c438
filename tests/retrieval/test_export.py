"""Exported retrieval models: fresh-process equality, OOV users, saved_model_cli, versions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from serving import contract, savedmodel
from tests import saved_model_cli
from tests.conftest import tiny_config

# Runs in a fresh interpreter that imports only TensorFlow (and ScaNN's ops for the ScaNN model).
FRESH_LOAD = """
import json, sys
import numpy as np
import tensorflow as tf
if sys.argv[2] == "scann":
    from scann.scann_ops.py import scann_ops  # registers ScaNN's TensorFlow ops
model = tf.saved_model.load(sys.argv[1])
requests = json.load(open(sys.argv[3]))
signature = model.signatures["serving_default"]
specs = signature.structured_input_signature[1]
out = []
for inputs in requests:
    result = signature(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()})
    out.append([m.decode() for m in result["movie_ids"].numpy()[0]])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(tiny_movielens, tfds_cache, tmp_path_factory):
    """A trained tiny model, its in-process signature outputs, and its export."""
    import tensorflow as tf

    from pipelines import jobs
    from retrieval import export, train
    from retrieval.index import build_index

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path_factory.mktemp("export"))
    run = jobs.start_run(cfg, "retrieval")
    prepared = run.prepared
    model = train.train(cfg.retrieval, prepared, run.vocab_files, cfg.data.seed)
    movies = train.catalogue_embeddings(model, prepared.catalogue)
    names = model.query_tower.feature_names
    requests = [{n: prepared.parts["test"][n][i : i + 1] for n in names} for i in range(3)]
    catalogue_ids = prepared.catalogue["movie_id"]
    paths = export.export_all(
        model.query_tower, catalogue_ids, movies, cfg.retrieval.index, cfg.export_dir, requests, {}
    )
    ids = tf.constant(catalogue_ids.astype(str).tolist())
    expected = {}
    for name, kind in export.MODEL_KINDS.items():
        index = build_index(cfg.retrieval.index, ids, tf.constant(movies), kind=kind)
        module = export.RetrievalServingModule(
            model.query_tower, index, ids, tf.constant(movies), cfg.retrieval.index.k
        )
        expected[name] = [
            [
                m.decode()
                for m in module.serving_signatures["serving_default"](**r)["movie_ids"].numpy()[0]
            ]
            for r in requests
        ]
    return cfg, paths, requests, expected, prepared, (ids.numpy(), movies)


def _call(model, signature: str, inputs: dict):
    """Calls a loaded signature with inputs cast to its declared dtypes (as a client does)."""
    import tensorflow as tf

    function = model.signatures[signature]
    specs = function.structured_input_signature[1]
    return function(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()})


def _json_requests(requests, path):
    as_lists = [{k: v.tolist() for k, v in r.items()} for r in requests]
    path.write_text(json.dumps(as_lists))
    return str(path)


@pytest.mark.parametrize("name", [contract.RETRIEVAL_BRUTEFORCE, contract.RETRIEVAL])
def test_fresh_process_gives_the_trained_models_top_k(exported, name, tmp_path):
    cfg, paths, requests, expected, _, _ = exported
    kind = "scann" if name == contract.RETRIEVAL else "brute_force"
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH_LOAD,
            paths[name],
            kind,
            _json_requests(requests, tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == expected[name]


def test_brute_force_top_k_is_exact_against_numpy(exported):
    import tensorflow as tf

    cfg, paths, requests, _, _, (movie_ids, movies) = exported
    model = tf.saved_model.load(paths[contract.RETRIEVAL_BRUTEFORCE])
    for request in requests:
        query = _call(model, contract.QUERY_EMBEDDING_SIGNATURE, request)[
            contract.QUERY_EMBEDDING
        ].numpy()
        assert query.shape == (1, cfg.retrieval.model.output_dim)
        scores = query[0] @ movies.T  # every movie, scored independently of the index
        expected = [
            m.decode()
            for m in movie_ids[np.argsort(-scores, kind="stable")[: cfg.retrieval.index.k]]
        ]
        out = _call(model, contract.SERVING_DEFAULT, request)
        assert [m.decode() for m in out[contract.MOVIE_IDS].numpy()[0]] == expected
        assert np.allclose(
            out[contract.SCORES].numpy()[0],
            np.sort(scores)[::-1][: cfg.retrieval.index.k],
            atol=1e-5,
        )


def test_unseen_candidates_are_the_k_best_movies_not_seen(exported):
    """Exact against numpy for brute force; whatever the seen list holds (top movies, an id
    outside the catalogue, padding, nothing), the row has k movies and none of them seen.
    A user who has seen all but 3 movies gets those 3, then seen ones scored -inf."""
    import tensorflow as tf

    cfg, paths, requests, _, _, (movie_ids, movies) = exported
    k = cfg.retrieval.index.k
    catalogue = [m.decode() for m in movie_ids]
    for name in (contract.RETRIEVAL_BRUTEFORCE, contract.RETRIEVAL):
        model = tf.saved_model.load(paths[name])
        for request in requests:
            query = _call(model, contract.QUERY_EMBEDDING_SIGNATURE, request)[
                contract.QUERY_EMBEDDING
            ].numpy()[0]
            order = np.argsort(-(movies @ query), kind="stable")
            for seen in (
                [],
                [catalogue[i] for i in order[: k // 2]] + ["no-such-movie", ""],
                [catalogue[i] for i in order[::2]],
                [catalogue[i] for i in order[3:]],
            ):
                out = _call(
                    model,
                    contract.UNSEEN_CANDIDATES_SIGNATURE,
                    {**request, "seen_movie_ids": [seen or [""]]},
                )
                ids = [m.decode() for m in out[contract.MOVIE_IDS].numpy()[0]]
                scores = out[contract.SCORES].numpy()[0]
                unseen = [catalogue[i] for i in order if catalogue[i] not in set(seen)]
                found = int(np.isfinite(scores).sum())
                assert not set(ids[:found]) & set(seen), name
                assert (scores[found:] == -np.inf).all() and set(ids[found:]) <= set(seen)
                if name == contract.RETRIEVAL_BRUTEFORCE:
                    assert len(ids) == k and found == min(k, len(unseen))
                    assert ids[:found] == unseen[:found]
                    kept = [m for m in order if catalogue[m] not in set(seen)][:found]
                    assert np.allclose(scores[:found], movies[kept] @ query, atol=1e-5)


def test_similar_movies_exclude_the_movie_and_match_numpy(exported):
    import tensorflow as tf

    _, paths, _, _, _, (movie_ids, movies) = exported
    queries = movie_ids[:4]
    k = min(contract.SIMILAR_K, len(movie_ids) - 1)
    for name in (contract.RETRIEVAL_BRUTEFORCE, contract.RETRIEVAL):
        model = tf.saved_model.load(paths[name])
        out = _call(model, contract.SIMILAR_MOVIES_SIGNATURE, {"movie_id": queries})
        ids = out[contract.MOVIE_IDS].numpy()
        assert ids.shape[0] == len(queries) and 0 < ids.shape[1] <= k
        for query, row in zip(queries, ids):
            assert query not in row, f"{name}: the movie itself is excluded"
        if name != contract.RETRIEVAL_BRUTEFORCE:
            continue
        assert ids.shape[1] == k
        for i, query in enumerate(queries):  # exact: a numpy cosine top-k on the vectors
            scores = movies @ movies[list(movie_ids).index(query)]
            scores[list(movie_ids).index(query)] = -np.inf
            expected = movie_ids[np.argsort(-scores, kind="stable")[:k]]
            assert ids[i].tolist() == expected.tolist()
            assert np.allclose(
                out[contract.SCORES].numpy()[i], np.sort(scores)[::-1][:k], atol=1e-5
            )
        with pytest.raises(tf.errors.InvalidArgumentError, match="not in the catalogue"):
            _call(model, contract.SIMILAR_MOVIES_SIGNATURE, {"movie_id": [b"no-such-movie"]})


def test_unknown_user_with_and_without_demographics_gets_k_movies(exported):
    import tensorflow as tf

    cfg, paths, _, _, prepared, _ = exported
    model = tf.saved_model.load(paths[contract.RETRIEVAL_BRUTEFORCE])
    catalogue = set(prepared.catalogue["movie_id"])
    for demographics in (
        {
            "user_gender": [True],
            "bucketized_user_age": [25.0],
            "raw_user_age": [30.0],
            "user_occupation_text": ["writer"],
            "user_zip_code": ["55455"],
        },
        {
            "user_gender": [False],
            "bucketized_user_age": [0.0],
            "raw_user_age": [0.0],
            "user_occupation_text": [""],
            "user_zip_code": [""],
        },  # nothing known: every lookup OOV
    ):
        inputs = {
            "user_id": ["no-such-user"],
            "timestamp": [0],
            "recent_movie_ids": [[""]],
            **demographics,
        }
        out = _call(model, contract.SERVING_DEFAULT, inputs)
        ids = [m.decode() for m in out["movie_ids"].numpy()[0]]
        assert len(ids) == cfg.retrieval.index.k and set(ids) <= catalogue
        assert np.all(np.isfinite(out["scores"].numpy()))


def test_saved_model_cli_show_lists_the_contract_names(exported):
    _, paths, _, _, _, _ = exported
    for name in (contract.RETRIEVAL, contract.RETRIEVAL_BRUTEFORCE):
        shown = saved_model_cli.show(paths[name])
        for key in (
            "user_id",
            "recent_movie_ids",
            "timestamp",
            "movie_ids",
            "scores",
            "query_embedding",
        ):
            assert f"['{key}']" in shown, key
        assert "input_1" not in shown and "output_1" not in shown


def test_saved_model_cli_run_prints_movie_ids(exported):
    _, paths, _, _, prepared, _ = exported
    exprs = (
        "user_id=['1'];user_gender=[True];bucketized_user_age=[25.0];raw_user_age=[30.0];"
        "user_occupation_text=['writer'];user_zip_code=['55455'];timestamp=[880000000];"
        "recent_movie_ids=[['1','2']]"
    )
    printed = saved_model_cli.run(paths[contract.RETRIEVAL_BRUTEFORCE], exprs)
    assert "movie_ids" in printed
    top = re.findall(r"b'([^']+)'", printed)
    assert top and set(top) <= set(prepared.catalogue["movie_id"])
    # BUILD.md's unseen_candidates example: the movies just printed, given as seen, are gone
    seen = ",".join(f"'{m}'" for m in top)
    printed = saved_model_cli.run(
        paths[contract.RETRIEVAL_BRUTEFORCE],
        f"{exprs};seen_movie_ids=[[{seen}]]",
        contract.UNSEEN_CANDIDATES_SIGNATURE,
    )
    unseen = re.findall(r"b'([^']+)'", printed)
    assert len(unseen) == len(top) and not set(unseen) & set(top)


def test_versions_are_written_atomically_and_never_overwritten(tmp_path):
    base = str(tmp_path / "m")
    assert savedmodel.write_version(
        base, lambda d: open(os.path.join(d, "ok"), "w").close()
    ).endswith("/1")
    assert savedmodel.write_version(
        base, lambda d: open(os.path.join(d, "ok"), "w").close()
    ).endswith("/2")

    def broken(directory):
        open(os.path.join(directory, "half"), "w").close()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        savedmodel.write_version(base, broken)
    assert sorted(os.listdir(base)) == ["1", "2"], "a failed write leaves nothing behind"
    with pytest.raises(FileExistsError):
        savedmodel.write_version(base, broken, version=2)
