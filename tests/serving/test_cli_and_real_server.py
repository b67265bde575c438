"""`recsys recommend`, `recsys serve` (a real process, SIGTERM), saved_model_cli on the
composite model, and the same client against a real tensorflow_model_server when one exists."""

from __future__ import annotations

import json
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from pipelines import cli
from serving import contract
from serving.client import ServingClient
from serving.recommend import recommend_composite
from tests import saved_model_cli
from tests.conftest import MODELS_CONFIG
from tests.serving.test_server import PROFILE

RECSYS = str(pathlib.Path(sys.executable).with_name("recsys"))
NEW_USER = [
    "--gender",
    "F",
    "--age",
    "31",
    "--occupation",
    "writer",
    "--zip",
    "55455",
    "--seen",
    "1,2",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_recommend_cli_table_json_and_composite(server, models_dir, capsys):
    here = ["--export-dir", str(models_dir)]  # the served models' profile table, not ./models
    assert cli.main(["recommend", "--target", server.address, "--k", "3", *here, *NEW_USER]) == 0
    table = capsys.readouterr().out
    assert "movie_id" in table and len(table.strip().splitlines()) == 4
    assert (
        cli.main(
            [
                "recommend",
                "--target",
                server.address,
                "--k",
                "3",
                "--json",
                "--via",
                "composite",
                *here,
                *NEW_USER,
            ]
        )
        == 0
    )
    found = json.loads(capsys.readouterr().out)
    assert len(found) == 3 and not {r["movie_id"] for r in found} & {"1", "2"}
    assert {"movie_id", "title", "score", "predicted_rating"} <= set(found[0])


def test_recommend_cli_errors_are_one_line(server, models_dir, capsys):
    here = ["--export-dir", str(models_dir)]  # the served models' profile table, not ./models
    assert (
        cli.main(
            ["recommend", "--target", server.address, "--k", "50", "--via", "composite"]
            + [*here, *NEW_USER]
        )
        == 2
    )
    assert "k=50 exceeds" in capsys.readouterr().err
    assert cli.main(["recommend", "--target", "127.0.0.1:1", "--timeout", "1", *NEW_USER]) == 2
    err = capsys.readouterr().err
    assert "no gRPC server answers at 127.0.0.1:1" in err and "recsys serve --port 1" in err
    assert cli.main(["recommend", "--target", server.address, "--k", "3"]) == 2
    assert "who are the recommendations for?" in capsys.readouterr().err


# Runs `recsys` in a fresh interpreter and reports which heavy modules it imported.
PROBE = (
    "import json, sys; from pipelines import cli; code = cli.main(sys.argv[1:]); "
    "heavy = ('tensorflow', 'tensorflow_datasets', 'tensorflow_recommenders', 'scann', "
    "'core.data', 'core.dataset'); "
    "print(json.dumps([code, sorted(m for m in heavy if m in sys.modules)]))"
)


def _probe(*argv) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def test_recommend_is_a_thin_client(server, models_dir):
    """A known user's answer needs only the profile table and TensorFlow Serving's protos (which
    import TensorFlow); no dataset, no model, no TFDS. Errors come before TensorFlow loads."""
    user = min(json.loads((models_dir / "user_profiles.json").read_text())["users"])
    common = ["recommend", "--export-dir", str(models_dir), "--k", "3"]
    assert _probe(*common, "--target", server.address, "--user-id", user) == (0, ["tensorflow"])
    for argv in (
        ["--target", server.address, "--user-id", "no-such-user"],
        ["--target", "127.0.0.1:1", "--user-id", user],
        ["--target", server.address],
    ):
        assert _probe(*common, *argv) == (2, []), argv


def _serve(models_dir, port, rest_port, *extra):
    return subprocess.Popen(
        [
            RECSYS,
            "serve",
            "--model-config",
            MODELS_CONFIG,
            "--models-dir",
            str(models_dir),
            "--port",
            str(port),
            "--rest_api_port",
            str(rest_port),
            "--poll-seconds",
            "0.5",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_cli_process_serves_and_stops_cleanly_on_sigterm(models_dir):
    port, rest_port = _free_port(), _free_port()
    batching = str(pathlib.Path(MODELS_CONFIG).with_name("batching.config"))
    process = _serve(
        models_dir, port, rest_port, "--enable_batching", "--batching_parameters_file", batching
    )
    try:
        with ServingClient(f"127.0.0.1:{port}", timeout=10, retries=30, backoff=0.5) as client:
            client.wait_until_available([contract.RECOMMENDER], timeout=180)
            assert len(recommend_composite(client, PROFILE, k=3)) == 3
        url = f"http://127.0.0.1:{rest_port}/v1/models/{contract.RECOMMENDER}"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert json.loads(response.read())["model_version_status"][0]["state"] == "AVAILABLE"
        second = _serve(models_dir, port, _free_port())  # the same gRPC port
        assert second.wait(timeout=120) == 1
        assert "in use" in second.stdout.read()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert time.monotonic() - started < 15, "prompt exit"
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()


def test_saved_model_cli_on_the_composite_model(models_dir):
    path = str(models_dir / contract.RECOMMENDER / "1")
    shown = saved_model_cli.show(path)
    for key in (
        "seen_movie_ids",
        "recent_movie_ids",
        "user_id",
        "movie_ids",
        "scores",
        "movie_title",
    ):
        assert f"['{key}']" in shown
    exprs = (
        "user_id=['1'];user_gender=[True];bucketized_user_age=[25.0];raw_user_age=[30.0];"
        "user_occupation_text=['writer'];user_zip_code=['55455'];timestamp=[880000000];"
        "recent_movie_ids=[['2']];seen_movie_ids=[['2']]"
    )
    assert "movie_ids" in saved_model_cli.run(path, exprs)


@pytest.mark.skipif(
    shutil.which("tensorflow_model_server") is None,
    reason="tensorflow_model_server is not on PATH (install TensorFlow Serving, or run the "
    "container "
    "command in BUILD.md, to run this test against a real server)",
)
def test_same_client_against_real_tensorflow_serving(models_dir, server, tmp_path):
    """Stock TensorFlow Serving: brute-force retrieval, ranking and the composite model."""
    models = [contract.RETRIEVAL_BRUTEFORCE, contract.RANKING, contract.RECOMMENDER]
    config = tmp_path / "models.config"
    config.write_text(
        "model_config_list {\n"
        + "".join(
            f'  config {{ name: "{m}" base_path: "{models_dir / m}" '
            'model_platform: "tensorflow" }\n'
            for m in models
        )
        + "}\n"
    )
    port = _free_port()
    process = subprocess.Popen(
        ["tensorflow_model_server", f"--port={port}", f"--model_config_file={config}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with (
            ServingClient(f"127.0.0.1:{port}", timeout=30, retries=20, backoff=0.5) as real,
            ServingClient(server.address) as local,
        ):
            real.wait_until_available(models, timeout=180)
            assert recommend_composite(real, PROFILE, k=3) == recommend_composite(
                local, PROFILE, k=3
            )
            meta = real.metadata(contract.RANKING)["signatures"][contract.SERVING_DEFAULT]
            assert contract.PREDICTED_RATING in meta["outputs"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_similar_cli_by_id_and_by_title(server, models_dir, capsys):
    from serving import recommend

    movies = recommend.load_movies(str(models_dir))
    first = next(iter(movies.values()))
    common = ["--target", server.address, "--export-dir", str(models_dir), "--k", "3"]
    assert cli.main(["similar", "--movie-id", first["movie_id"], *common]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"Because you watched {first['title']}:" and len(lines) == 4
    assert first["title"] not in "".join(lines[1:]), "the movie itself is excluded"
    title = first["title"].rsplit(" (", 1)[0]
    args = ["similar", "--title", title, "--model", "retrieval_bruteforce", *common]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[0].startswith("Because you watched")
    assert cli.main(["similar", "--movie-id", "no-such-movie", *common]) == 2
    assert "not in" in capsys.readouterr().err


def test_title_matching_asks_when_ambiguous():
    from serving.recommend import find_movie

    movies = {
        m: {"movie_id": m, "title": t}
        for m, t in (
            ("1", "Star Wars (1977)"),
            ("2", "Star Trek (1979)"),
            ("3", "Toy Story (1995)"),
        )
    }
    assert find_movie(movies, "toy story")["movie_id"] == "3"
    assert find_movie(movies, "Star Wars (1977)")["movie_id"] == "1"
    assert find_movie(movies, "Stra Wars")["movie_id"] == "1", "spelling"
    with pytest.raises(ValueError, match="matches 2 movies, which one.*1: Star Wars.*2: Star Trek"):
        find_movie(movies, "star")
    with pytest.raises(ValueError, match="no movie title matches"):
        find_movie(movies, "zzzz")
