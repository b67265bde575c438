"""recent_movie_ids: strictly earlier, visible ratings only, newest first."""

from __future__ import annotations

import numpy as np
import pytest

from core.history import PAD, recent_history


def _ratings(rows):
    users, times, movies = zip(*rows)
    return {
        "user_id": np.array(users, dtype=object),
        "timestamp": np.array(times, dtype=np.int64),
        "movie_id": np.array(movies, dtype=object),
    }


def test_history_hand_made():
    ratings = _ratings(
        [
            ("1", 10, "a"),  # 0: nothing before
            ("1", 20, "b"),  # 1: a
            ("1", 20, "c"),  # 2: same second as b -> b is not "before": a
            (
                "1",
                30,
                "d",
            ),  # 3: invisible (a test rating); history c, b (newest first; a cut by length 2)
            ("1", 40, "e"),  # 4: d is invisible -> c, b
            ("2", 5, "x"),  # 5: another user: nothing before
        ]
    )
    visible = np.array([True, True, True, False, True, True])
    got = recent_history(ratings, visible, length=2)
    assert got.tolist() == [
        [PAD, PAD],
        ["a", PAD],
        ["a", PAD],
        ["c", "b"],
        ["c", "b"],
        [PAD, PAD],
    ]


def test_unsorted_ratings_are_rejected():
    ratings = _ratings([("1", 20, "a"), ("1", 10, "b")])
    with pytest.raises(ValueError, match="sorted by"):
        recent_history(ratings, np.array([True, True]), length=2)


def test_vectorised_history_equals_the_definition_on_random_data():
    """Against the definition, row by row: the user's visible movies strictly earlier,
    newest first (ties in time keep the ratings' order), at most `length`."""
    rng = np.random.default_rng(0)
    rows = sorted(
        (str(u), int(t), str(m))
        for u, t, m in zip(
            rng.integers(0, 30, 600), rng.integers(0, 40, 600), rng.integers(0, 50, 600)
        )
    )
    ratings = _ratings(rows)
    visible = rng.random(len(rows)) < 0.8
    got = recent_history(ratings, visible, length=5)
    for i, (user, time, _) in enumerate(rows):
        earlier = [m for j, (u, t, m) in enumerate(rows) if u == user and t < time and visible[j]]
        expected = earlier[::-1][:5]
        assert got[i].tolist() == expected + [PAD] * (5 - len(expected))
