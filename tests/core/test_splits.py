"""Random and temporal splits on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np

from core import splits


def test_random_split_sizes_cover_and_determinism():
    a = splits.random_split(1000, seed=3, test_fraction=0.2, validation_fraction=0.1)
    assert (len(a.train), len(a.validation), len(a.test)) == (720, 80, 200)
    together = np.concatenate([a.train, a.validation, a.test])
    assert sorted(together) == list(range(1000))
    b = splits.random_split(1000, seed=3, test_fraction=0.2, validation_fraction=0.1)
    c = splits.random_split(1000, seed=4, test_fraction=0.2, validation_fraction=0.1)
    assert np.array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_temporal_split_hand_made_case():
    # row: user, time, movie
    rows = [
        ("u1", 10, "5"),  # 0
        ("u1", 30, "2"),  # 1  tie at t=30 with row 2: movie "2" < "10" numerically
        ("u1", 30, "10"),  # 2  -> last of u1: test
        ("u1", 20, "7"),  # 3
        ("u2", 5, "1"),  # 4  u2 has 2 ratings: all train
        ("u2", 6, "3"),  # 5
        ("u3", 1, "9"),  # 6
        ("u3", 2, "8"),  # 7  validation
        ("u3", 3, "4"),  # 8  test
    ]
    users, times, movies = (np.array(c, dtype=object) for c in zip(*rows))
    s = splits.temporal_split(users, times.astype(np.int64), movies)
    assert list(s.test) == [2, 8]
    assert list(s.validation) == [1, 7]
    assert list(s.train) == [0, 3, 4, 5, 6]


def test_temporal_split_of_sorted_rows_skips_the_sort_and_agrees():
    """Rows already in (user, time, movie) order, as data.load gives them, take the O(n)
    path; shuffled, the same ratings take the sort: the same ratings land in each part."""
    rng = np.random.default_rng(0)
    keys = rng.choice(50 * 30 * 80, 2000, replace=False)  # distinct (user, time, movie)
    users, times, movies = keys // 2400, keys // 80 % 30, keys % 80
    order = np.lexsort([movies, times, users])
    in_order = [np.array([str(v) for v in c[order]], dtype=object) for c in (users, movies)]
    ordered_users = users[order]
    assert splits._in_order(
        ordered_users, ordered_users[1:] == ordered_users[:-1], times[order], movies[order]
    )
    assert not splits._in_order(users, users[1:] == users[:-1], times, movies)
    a = splits.temporal_split(in_order[0], times[order], in_order[1])
    shuffle = rng.permutation(2000)
    b = splits.temporal_split(in_order[0][shuffle], times[order][shuffle], in_order[1][shuffle])
    for part in ("train", "validation", "test"):
        assert np.array_equal(np.sort(shuffle[getattr(b, part)]), getattr(a, part))
