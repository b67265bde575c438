"""Second stage on tiny hand-made data: list building, the listwise losses, the signals."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from core import features as F
from ranking import candidates, signals
from ranking.scorer import LOSSES, ListMLELoss, PairwiseLogisticLoss


def _ratings(users, movies, times):
    return {
        F.USER_ID.name: np.array(users, dtype=object),
        F.MOVIE_ID.name: np.array(movies, dtype=object),
        F.TIMESTAMP.name: np.array(times, dtype=np.int64),
    }


def test_hold_out_newest_takes_each_users_newest_and_keeps_two_earlier():
    train = _ratings(
        ["a"] * 5 + ["b"] * 3, ["1", "2", "3", "4", "5", "1", "2", "3"], [1, 2, 3, 4, 5, 1, 2, 3]
    )
    earlier, newest, rows = candidates.hold_out_newest(train, per_user=2)
    assert list(zip(newest[F.USER_ID.name], newest[F.MOVIE_ID.name])) == [
        ("a", "4"),
        ("a", "5"),
        ("b", "3"),
    ]
    assert rows.tolist() == [3, 4, 7]
    # what each query's user rated before it, as catalogue rows
    index = {m: int(m) for m in "12345"}
    seen = candidates.rated_before(train, rows, index)
    assert [s.tolist() for s in seen] == [[1, 2, 3], [1, 2, 3, 4], [1, 2]]
    # b has 3 ratings: only 1 can be held out so that 2 earlier ones stay
    assert list(earlier[F.MOVIE_ID.name]) == ["1", "2", "3", "1", "2"]
    # every held-out rating is later than each earlier rating of its user
    for user in ("a", "b"):
        assert (
            earlier[F.TIMESTAMP.name][earlier[F.USER_ID.name] == user].max()
            < newest[F.TIMESTAMP.name][newest[F.USER_ID.name] == user].min()
        )


def test_candidate_lists_leave_out_seen_and_drop_lists_without_the_positive():
    catalogue = np.array(["m0", "m1", "m2", "m3", "m4"], dtype=object)
    scores = np.array(
        [
            [5.0, 4.0, 3.0, 2.0, 1.0],  # positive m1, m0 seen
            [5.0, 4.0, 3.0, 2.0, 1.0],  # positive m4: not in the top 3
            [0.0, 1.0, 2.0, 3.0, 9.0],
        ]
    )  # positive m3, m4 seen
    queries = {
        F.MOVIE_ID.name: np.array(["m1", "m4", "m3"], dtype=object),
        F.USER_ID.name: np.array(["a", "b", "c"], dtype=object),
    }
    seen = [np.array([0]), np.array([], dtype=np.int64), np.array([4])]
    lists = candidates.candidate_lists(
        lambda rows: scores[rows], catalogue, queries, seen, num_candidates=3, chunk=2
    )
    assert lists.num_queries == 3 and len(lists) == 2
    assert lists.movie_ids.tolist() == [["m1", "m2", "m3"], ["m3", "m2", "m1"]]
    assert lists.positive.tolist() == [0, 0]
    assert list(lists.queries[F.USER_ID.name]) == ["a", "c"]
    assert np.allclose(lists.scores, [[4.0, 3.0, 2.0], [3.0, 2.0, 1.0]])
    for row, ids in enumerate(lists.movie_ids):  # the positive is always in its list
        assert ids[lists.positive[row]] == lists.queries[F.MOVIE_ID.name][row]


def test_softmax_loss_by_hand():
    labels = tf.constant([[1.0, 0.0, 0.0]])
    logits = tf.constant([[1.0, 2.0, 3.0]])
    # -log softmax(logits)[0] = log(e^1 + e^2 + e^3) - 1 = log(1 + e + e^2)
    expected = math.log(1 + math.e + math.e**2)
    assert np.isclose(LOSSES["softmax"]()(labels, logits).numpy(), expected, atol=1e-6)


def test_pairwise_loss_by_hand():
    labels = tf.constant([[0.0, 1.0, 0.0]])
    logits = tf.constant([[1.0, 2.0, 0.5]])
    # mean over the two negatives of log(1 + exp(s_neg - s_pos)): (-1) and (-1.5)
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-1.5))) / 2
    loss = PairwiseLogisticLoss(reduction="none")(labels, logits)
    assert np.allclose(loss.numpy(), [expected], atol=1e-6)


def test_listmle_by_hand():
    labels = tf.constant([[3.0, 1.0, 2.0]])
    scores = tf.constant([[0.5, 0.2, 0.1]])
    # true order: item 0 (0.5), item 2 (0.1), item 1 (0.2)
    # -log P = [log(e^.5 + e^.1 + e^.2) - .5] + [log(e^.1 + e^.2) - .1] + [log(e^.2) - .2]
    expected = (
        math.log(math.exp(0.5) + math.exp(0.1) + math.exp(0.2))
        - 0.5
        + math.log(math.exp(0.1) + math.exp(0.2))
        - 0.1
    )
    loss = ListMLELoss(reduction="none")(labels, scores)
    assert np.allclose(loss.numpy(), [expected], atol=1e-6)


def test_adjacency_and_popularity_tables_by_hand():
    train = _ratings(["a", "a", "a", "b", "b"], ["1", "2", "3", "2", "3"], [10, 20, 200_000, 5, 6])
    catalogue = {
        F.MOVIE_ID.name: np.array(["1", "2", "3", "4"], dtype=object),
        F.MOVIE_GENRES.name: np.eye(4, len(F.GENRES), dtype=np.float32),
    }
    tables = signals.build_tables(train, catalogue)
    size = 5
    weights = dict(zip(tables.pairs.tolist(), tables.pair_weights.tolist()))
    # 2 follows 3? no: 2 -> 3 twice (a and b): 2 forward; 3 -> 2 backward twice: 2 * 0.5
    assert np.isclose(weights[1 * size + 2], math.log1p(2.0))
    assert np.isclose(weights[2 * size + 1], math.log1p(1.0))
    assert np.isclose(weights[0 * size + 1], math.log1p(1.0)) and 0 * size + 2 not in weights
    assert np.allclose(tables.popularity, np.log1p([1, 2, 2, 0, 0]))
    assert tables.first_rated[:3].tolist() == [10, 5, 6] and np.isinf(tables.first_rated[3])

    layer = signals.SecondStageSignals(tables)
    inputs = {
        F.MOVIE_ID.name: tf.constant(["3", "4"]),
        F.RECENT_MOVIE_IDS.name: tf.constant([["2", "1", ""], ["2", "1", ""]]),
        F.TIMESTAMP.name: tf.constant([6 + 86_400, 100], tf.int64),
        F.RETRIEVAL_SCORE.name: tf.constant([0.5, 0.25]),
        F.RETRIEVAL_RANK.name: tf.constant([0, 3], tf.int64),
    }
    out = layer(inputs).numpy()
    assert out.shape == (2, signals.NUM_SIGNALS)
    assert np.isclose(out[0, 0], math.log1p(2.0)) and out[0, 1] == 0.0  # 2 -> 3; 1 -> 3 never
    assert out[1, :5].tolist() == [0.0] * 5  # movie 4 follows nothing
    assert np.isclose(out[0, 6], math.log1p(1.0))  # one day after its first rating
    late = layer({**inputs, F.TIMESTAMP.name: tf.constant([10**9, 10**9], tf.int64)}).numpy()
    days = (200_000 - 6) / 86_400  # clipped to the last training rating, not 31 years
    assert np.isclose(late[0, 6], math.log1p(days))
    assert out[0, 7] == 0.5 and np.isclose(out[1, 8], math.log1p(3))
    assert np.isclose(out[0, 9], math.log1p(2))  # two history movies
    # co-rating cosine: a rated 1, 2, 3 and b rated 2, 3: cos(2, 3) = 2 / 2, cos(1, 3) = 1 / sqrt(2)
    assert np.isclose(out[0, 11], 1.0 + 1 / math.sqrt(2)) and np.isclose(out[0, 12], 1.0)
    assert out[1, 11] == 0.0  # nobody rated movie 4
    assert layer.dense_pairs is not None  # 25 pairs: a dense table
    hashed = signals.SecondStageSignals(tables, dense_pairs_limit=0)
    assert hashed.dense_pairs is None  # large catalogues: a hash table of the pairs seen
    np.testing.assert_array_equal(hashed(inputs).numpy(), out)


def test_nearest_movies_is_the_cosine_of_rating_columns():
    """Sparse, chunked co-rating cosines equal the dense definition; each movie keeps its
    NEIGHBOURS best, itself never, largest first."""
    rng = np.random.default_rng(3)
    users = rng.integers(0, 40, 900).astype(str).astype(object)
    rows = rng.integers(0, 70, 900)
    size = 71  # 70 movies and the unknown row
    keys, cosines = signals.nearest_movies(users, rows, size, chunk=16)
    rated = np.zeros((40, size))
    rated[users.astype(int), rows] = 1.0
    norms = np.linalg.norm(rated, axis=0)
    dense = rated.T @ rated / np.maximum(np.outer(norms, norms), 1e-9)
    np.fill_diagonal(dense, 0.0)
    a, b = keys // size, keys % size
    np.testing.assert_allclose(cosines, dense[a, b], rtol=1e-5)
    assert (a != b).all() and (cosines > 0).all()
    for movie in range(size):
        kept = cosines[a == movie]
        expected = np.sort(dense[movie][dense[movie] > 0])[::-1][: signals.NEIGHBOURS]
        np.testing.assert_allclose(kept, expected, rtol=1e-5)
    by_user = np.argsort(users, kind="stable")  # users in blocks, as data.load orders them
    same_keys, same_cosines = signals.nearest_movies(users[by_user], rows[by_user], size, 16)
    assert np.array_equal(same_keys, keys) and np.array_equal(same_cosines, cosines)
