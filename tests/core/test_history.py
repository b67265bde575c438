"""recent_movie_ids: earlier in (time, movie) order, visible ratings only, newest first."""

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


def _random_rows(rng, count: int, users: int, times: int, movies: int) -> list[tuple]:
    """`count` (user, time, movie) rows drawn by `rng`, sorted as data.load sorts ratings."""
    drawn = zip(
        rng.integers(0, users, count), rng.integers(0, times, count), rng.integers(0, movies, count)
    )
    return sorted((str(u), int(t), str(m)) for u, t, m in drawn)


def test_history_hand_made():
    ratings = _ratings(
        [
            ("1", 10, "a"),  # 0: nothing before
            ("1", 20, "b"),  # 1: a
            ("1", 20, "c"),  # 2: same second as b, after it in the split's order: b, a
            ("1", 30, "d"),  # 3: invisible (a test rating); history c, b (a cut by length 2)
            ("1", 40, "e"),  # 4: d is invisible -> c, b
            ("2", 5, "x"),  # 5: another user: nothing before
        ]
    )
    visible = np.array([True, True, True, False, True, True])
    got = recent_history(ratings, visible, length=2)
    assert got.tolist() == [
        [PAD, PAD],
        ["a", PAD],
        ["b", "a"],
        ["c", "b"],
        ["c", "b"],
        [PAD, PAD],
    ]


def test_unsorted_ratings_are_rejected():
    ratings = _ratings([("1", 20, "a"), ("1", 10, "b")])
    with pytest.raises(ValueError, match="sorted by"):
        recent_history(ratings, np.array([True, True]), length=2)


def test_vectorised_history_equals_the_definition_on_random_data():
    """Against the definition, row by row: the user's visible movies in the rows before
    (sorted by user, time, movie), newest first, at most `length`."""
    rng = np.random.default_rng(0)
    rows = _random_rows(rng, 600, users=30, times=40, movies=50)
    ratings = _ratings(rows)
    visible = rng.random(len(rows)) < 0.8
    got = recent_history(ratings, visible, length=5)
    for i, (user, _, _) in enumerate(rows):
        earlier = [m for j, (u, _, m) in enumerate(rows[:i]) if u == user and visible[j]]
        expected = earlier[::-1][:5]
        assert got[i].tolist() == expected + [PAD] * (5 - len(expected))


def test_history_through_catalogue_rows_equals_the_one_from_ids():
    """data.load's ratings read their movies as catalogue rows (no sort of every id): the
    same histories as from the ids themselves."""
    from core.columns import Gathered

    rng = np.random.default_rng(2)
    rows = _random_rows(rng, 400, users=20, times=30, movies=40)
    ratings = _ratings(rows)
    catalogue = np.array([str(m) for m in range(45)], dtype=object)  # some never rated
    rows_of = np.array([int(m) for m in ratings["movie_id"]])
    ratings["movie_title"] = Gathered(rows_of, np.array([f"t{m}" for m in range(45)]))
    visible = rng.random(len(rows)) < 0.8
    by_rows = recent_history(ratings, visible, length=6, catalogue_ids=catalogue)
    assert np.array_equal(np.asarray(by_rows), np.asarray(recent_history(ratings, visible, 6)))


def test_tf_dataset_builds_histories_per_batch_and_reshuffles_each_epoch():
    """`to_tf_dataset` over a History column: every row once per epoch, each with the
    history numpy gives it, in a new order each epoch (the same orders for the same seed)."""
    from core.dataset import to_tf_dataset

    rng = np.random.default_rng(1)
    rows = _random_rows(rng, 300, users=20, times=50, movies=40)
    ratings = _ratings(rows)
    history = recent_history(ratings, rng.random(len(rows)) < 0.9, length=4)
    columns = {
        "row": np.arange(len(rows)),
        "recent_movie_ids": history[np.arange(len(rows))],  # a History of the rows
    }
    expected = np.asarray(history)

    def epochs(seed, count=2):
        dataset = to_tf_dataset(columns, ("row", "recent_movie_ids"), 32, shuffle_seed=seed)
        for _ in range(count):
            batches = list(dataset.as_numpy_iterator())
            order = np.concatenate([b["row"] for b in batches])
            ids = np.concatenate([b["recent_movie_ids"] for b in batches]).astype(str)
            yield order, ids

    first, second = epochs(7)
    for order, ids in (first, second):
        assert sorted(order) == list(range(len(rows)))
        np.testing.assert_array_equal(ids, expected[order].astype(str))
    assert first[0].tolist() != second[0].tolist()
    assert [o.tolist() for o, _ in epochs(7)] == [first[0].tolist(), second[0].tolist()]
    in_order = next(epochs(None, count=1))[0]
    assert in_order.tolist() == list(range(len(rows)))
