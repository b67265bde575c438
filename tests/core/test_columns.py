import numpy as np

from core.columns import Gathered
from core.dataset import to_tf_dataset


def test_gathered_reads_like_the_array_it_stands_for():
    table = np.array(["a", "b", "c"], dtype=object)
    rows = np.array([2, 0, 2, 1])
    column = Gathered(rows, table)
    assert column.shape == (4,) and column.dtype == object and len(column) == 4
    assert np.asarray(column).tolist() == ["c", "a", "c", "b"]
    assert column[np.array([3, 0])].tolist() == ["b", "c"]  # rows stay rows
    assert column[1] == "a" and list(column) == ["c", "a", "c", "b"]
    lists = Gathered(np.array([[0, 1], [2, 2]]), np.eye(3, dtype=np.float32))
    assert lists.shape == (2, 2, 3) and lists.ndim == 3
    np.testing.assert_array_equal(np.asarray(lists)[1], [[0, 0, 1], [0, 0, 1]])


def test_gathered_columns_batch_as_their_arrays():
    rng = np.random.default_rng(0)
    titles = np.array([f"movie {i}" for i in range(7)], dtype=object)
    genres = rng.random((7, 4)).astype(np.float32)
    rows = rng.integers(0, 7, 50)
    columns = {
        "title": Gathered(rows, titles),
        "genres": Gathered(rows, genres),
        "lists": Gathered(rng.integers(0, 7, (50, 3)), titles),
    }
    batches = list(to_tf_dataset(columns, tuple(columns), 16, shuffle_seed=3))
    got = {n: np.concatenate([b[n].numpy() for b in batches]) for n in columns}
    order = [titles.tolist().index(t.decode()) for t in got["title"]]  # shuffled rows
    np.testing.assert_array_equal(genres[order], got["genres"])
    assert sorted(t.decode() for t in got["title"]) == sorted(np.asarray(columns["title"]))
    expected = sorted(map(tuple, np.asarray(columns["lists"]).tolist()))
    assert sorted(tuple(x.decode() for x in r) for r in got["lists"]) == expected
