"""`rating_order`: one int64 key with ties fixed by movie, equal to a lexsort;
`order_unless_sorted`: None when rows already are in it."""

from __future__ import annotations

import numpy as np
import pytest

from core.order import order_unless_sorted, rating_order


def in_rating_order(users, times, movies) -> bool:
    return order_unless_sorted(users, times, movies) is None


@pytest.mark.parametrize("grouped", [True, False])
def test_integer_keys_give_the_lexsort_order(grouped):
    rng = np.random.default_rng(0)
    n = 5_000
    users = rng.integers(1, 60, n)
    times = rng.integers(10**9, 10**9 + 40, n)  # few distinct seconds: many ties
    movies = rng.integers(1, 5_000, n)
    if grouped:  # as MovieLens files come: by user, unordered inside
        first = np.argsort(users, kind="stable")
        users, times, movies = users[first], times[first], movies[first]
    order = rating_order(users, times, movies)
    expected = np.lexsort([movies, times, users])
    keys = np.stack([users, times, movies], axis=1)
    np.testing.assert_array_equal(keys[order], keys[expected])
    assert sorted(order.tolist()) == list(range(n))


def test_keys_out_of_the_packed_range_and_text_keys_take_lexsort():
    users = np.array([2**40, 3, 3, 2**40])
    times = np.array([5, 2**33, 1, 0])
    movies = np.array([1, 1, 1, 1])
    assert rating_order(users, times, movies).tolist() == [2, 1, 3, 0]
    text = np.array(["b", "a", "a"], dtype=object).astype(str)
    assert rating_order(text, np.array([1, 2, 1]), np.array([0, 0, 0])).tolist() == [2, 1, 0]
    assert rating_order(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)).tolist() == []


def test_in_rating_order_agrees_with_the_sort():
    rng = np.random.default_rng(1)
    users = np.repeat([3, 8, 20], 40)
    times = rng.integers(0, 6, len(users))  # ties within a user
    movies = rng.integers(1, 50, len(users))
    assert not in_rating_order(users, times, movies)
    order = rating_order(users, times, movies)
    users, times, movies = users[order], times[order], movies[order]
    assert in_rating_order(users, times, movies)
    tie = np.flatnonzero((times[1:] == times[:-1]) & (movies[1:] != movies[:-1]))[0]
    swapped = movies.copy()
    swapped[[tie, tie + 1]] = swapped[[tie + 1, tie]]  # same second, movies out of order
    assert not in_rating_order(users, times, swapped)
    assert not in_rating_order(users[::-1], times[::-1], movies[::-1])
    assert not in_rating_order(users.astype(str), times, movies)  # text keys: sort them
    assert in_rating_order(users[:0], times[:0], movies[:0])
