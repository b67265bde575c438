"""I-AutoRec: the training-ratings matrix, learning, and the fixed-code scorer."""

from __future__ import annotations

import types

import numpy as np
import pytest
import tensorflow as tf

from ranking import autorec
from ranking.config import AutoRecConfig


def _columns(users, movies, ratings):
    return {
        "user_id": np.array(users, dtype=object),
        "movie_id": np.array(movies, dtype=object),
        "user_rating": np.array(ratings, dtype=np.float32),
    }


def _vocab(columns, tmp_path):
    vocab = types.SimpleNamespace(
        user_id=tuple(sorted(set(columns["user_id"]))),
        movie_id=tuple(sorted(set(columns["movie_id"]))),
    )
    files = {}
    for name in ("user_id", "movie_id"):
        files[name] = str(tmp_path / f"{name}.txt")
        (tmp_path / f"{name}.txt").write_text("\n".join(getattr(vocab, name)) + "\n")
    return vocab, files


def test_rating_matrix_holds_the_training_ratings_at_lookup_positions(tmp_path):
    train = _columns(["u1", "u2", "u2"], ["m2", "m1", "m2"], [4, 2, 5])
    vocab, _ = _vocab(train, tmp_path)
    matrix = autorec.rating_matrix(train, vocab)
    assert matrix.tolist() == [
        [0, 0, 0],
        [0, 0, 2],
        [0, 4, 5],
    ]  # rows: OOV, m1, m2; columns: OOV, u1, u2
    rows, columns = autorec.matrix_positions(_columns(["u1", "new"], ["new", "m1"], [1, 1]), vocab)
    assert rows.tolist() == [0, 1] and columns.tolist() == [1, 0]


def test_autorec_learns_taste_groups_it_never_saw_paired(tmp_path):
    """Two groups of users each love one group of movies; held-out pairs are predicted."""
    rng = np.random.default_rng(0)
    users, movies = [f"u{i}" for i in range(40)], [f"m{j}" for j in range(30)]
    pairs = [(u, m) for u in range(40) for m in range(30)]
    ratings = [5.0 if (u % 2) == (m % 2) else 1.0 for u, m in pairs]
    held_out = rng.random(len(pairs)) < 0.2
    split = {
        part: _columns(
            [users[u] for (u, _), h in zip(pairs, held_out) if h == keep],
            [movies[m] for (_, m), h in zip(pairs, held_out) if h == keep],
            [r for r, h in zip(ratings, held_out) if h == keep],
        )
        for part, keep in (("train", False), ("held_out", True))
    }
    vocab, files = _vocab(split["train"], tmp_path)
    cfg = AutoRecConfig(hidden=8, l2=1.0, learning_rate=0.01, epochs=200, movies_per_batch=10)
    scorer = autorec.train(cfg, split["train"], split["held_out"], vocab, files, seed=0)
    predicted, known = scorer(
        tf.constant(split["held_out"]["user_id"].astype(str)),
        tf.constant(split["held_out"]["movie_id"].astype(str)),
    )
    assert known.numpy().all()
    error = np.sqrt(np.mean((predicted.numpy() - split["held_out"]["user_rating"]) ** 2))
    assert error < 0.5, error  # the global mean would be off by 2


def test_scorer_knows_only_ids_with_training_ratings(tmp_path):
    train = _columns(["u1", "u2"], ["m1", "m2"], [4, 2])
    vocab, files = _vocab(train, tmp_path)
    scorer = autorec.AutoRecScorer(
        files,
        codes=np.ones((3, 2), np.float32),
        decoder=np.full((3, 2), 9.0, np.float32),
        bias=np.zeros(3, np.float32),
    )
    rating, known = scorer(tf.constant(["u1", "new", "u2"]), tf.constant(["m2", "m1", "new"]))
    assert known.numpy().tolist() == [True, False, False]
    assert rating.numpy().tolist() == [5.0, 5.0, 5.0]  # clipped to the rating range


def test_training_needs_a_validation_rating_it_can_score(tmp_path):
    train = _columns(["u1", "u2"], ["m1", "m2"], [4, 2])
    vocab, files = _vocab(train, tmp_path)
    with pytest.raises(ValueError, match="validation ratings of known users and movies"):
        autorec.train(
            AutoRecConfig(hidden=2), train, _columns(["new"], ["m1"], [3]), vocab, files, seed=0
        )


def test_autorec_is_skipped_when_its_matrix_would_not_fit(tmp_path, caplog):
    columns = _columns(["1", "2", "3"], ["a", "b", "a"], [4, 3, 5])
    vocab, _ = _vocab(columns, tmp_path)
    assert autorec.matrix_megabytes(vocab) == 3 * 4 * 4 / 2**20  # (movies + 1) x (users + 1)
    assert autorec.fits(AutoRecConfig(), vocab)
    assert not autorec.fits(AutoRecConfig(max_matrix_mb=0), vocab)
    assert "AutoRec skipped" in caplog.text and "max_matrix_mb=0" in caplog.text
