"""Embeddings for people: Projector files (read by a real TensorBoard), maps, neighbour quality."""

from __future__ import annotations

import json
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from pipelines import embeddings


@pytest.fixture(scope="module")
def projector(trained, tmp_path_factory):
    cfg, _ = trained
    output = tmp_path_factory.mktemp("projector")
    written = embeddings.export_projector(cfg.run_dir, cfg.export_dir, str(output))
    return cfg, output, written


def test_projector_files(projector):
    cfg, output, written = projector
    from serving import recommend

    movies = recommend.load_movies(cfg.export_dir)
    vectors = np.loadtxt(output / "movies.tsv", delimiter="\t", ndmin=2)
    metadata = (output / "movies_metadata.tsv").read_text().splitlines()
    assert metadata[0].split("\t") == [
        "title",
        "year",
        "genres",
        "main_genre",
        "ratings",
        "mean_rating",
    ]
    assert len(metadata) - 1 == len(vectors) == len(movies) == written["movies"]
    users = (output / "users_metadata.tsv").read_text().splitlines()
    assert len(users) - 1 == written["users"] == len(np.loadtxt(output / "users.tsv", ndmin=2))
    config = (output / embeddings.PROJECTOR_CONFIG).read_text()
    for path in ("movies.tsv", "movies_metadata.tsv", "users.tsv", "users_metadata.tsv"):
        assert f'"{path}"' in config and (output / path).is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_a_real_tensorboard_serves_the_projector_files(projector):
    _, output, written = projector
    binary = shutil.which("tensorboard") or str(
        pathlib.Path(sys.executable).with_name("tensorboard")
    )
    port = _free_port()
    try:
        process = subprocess.Popen(
            [binary, "--logdir", str(output), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as e:
        pytest.skip(f"TensorBoard cannot start: {e}")
    base = f"http://127.0.0.1:{port}/data/plugin/projector"
    try:
        deadline, runs = time.monotonic() + 90, None
        while time.monotonic() < deadline and runs is None:
            if process.poll() is not None:
                pytest.skip(f"TensorBoard exited with {process.returncode} before serving")
            try:
                runs = json.loads(_get(f"{base}/runs"))
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert runs == ["."], runs
        info = json.loads(_get(f"{base}/info?run=."))
        assert {e["tensorName"] for e in info["embeddings"]} == {
            "movies",
            "users (at their last rating)",
        }
        tensor = np.frombuffer(_get(f"{base}/tensor?run=.&name=movies"), dtype=np.float32)
        vectors = np.loadtxt(output / "movies.tsv", delimiter="\t", ndmin=2)
        assert np.allclose(tensor.reshape(vectors.shape), vectors, atol=1e-6)
        metadata = _get(f"{base}/metadata?run=.&name=movies").decode().splitlines()
        assert metadata[0].startswith("title\tyear") and len(metadata) == written["movies"] + 1
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_maps_and_neighbour_quality(trained, tmp_path):
    cfg, _ = trained
    paths = embeddings.plot_maps(cfg.run_dir, cfg.export_dir, str(tmp_path))
    assert [pathlib.Path(p).name for p in paths] == ["embeddings_pca.png", "embeddings_tsne.png"]
    assert all(pathlib.Path(p).stat().st_size > 10_000 for p in paths)

    from benchmarks import embeddings_quality

    result = embeddings_quality.run(cfg, str(tmp_path), min_ratings=1)
    assert (tmp_path / "embeddings.json").is_file() and (tmp_path / "embeddings.md").is_file()
    genre, overlap = result["genre_agreement@10"], result["co_rating_overlap@10"]
    assert set(genre) == {"embedding", "random", "co-rating cosine"}
    assert result["ratios"]["genre_agreement_vs_random"] == round(
        genre["embedding"] / genre["random"], 2
    )
    assert set(overlap) == {"embedding", "random"} and result["examples"]


def test_genre_agreement_and_overlap_on_a_hand_computed_example():
    from benchmarks.embeddings_quality import genre_agreement, overlap

    genres = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    # movie 0's neighbours 1 (shares), 2 (does not); movie 2's: 3 (shares), 0 (does not)
    nn = np.array([[1, 2], [0, 3], [3, 0], [0, 2]])
    assert genre_agreement(nn, genres) == (1 + 2 + 1 + 2) / 8
    assert overlap(nn, np.array([[1, 3], [2, 3], [0, 1], [0, 2]])) == (1 + 1 + 1 + 2) / 8


def test_neighbours_exclude_the_movie_itself():
    vectors = np.eye(4, dtype=np.float32) + 0.1
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = embeddings.neighbours(vectors, 3)
    assert all(i not in row for i, row in enumerate(found))
