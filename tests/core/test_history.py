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
