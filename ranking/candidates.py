"""Training lists for the ranker: the retrieval stage's own candidates, built leakage-free.

A retrieval model scored on the interactions it was trained on returns memorised
positives at the top, and a ranker trained on such lists learns to trust the retrieval
score blindly. So the lists come from a retrieval model that never saw the queries:

  * `hold_out_newest` splits the training ratings per user by time: the newest
    `per_user` ratings become ranker queries, the earlier ones train a separate
    retrieval model (the "earlier window" model);
  * `candidate_lists` asks that model for each query's top-N movies, leaving out the
    movies the user rated before (as serving's `unseen_candidates` does); the query's own movie
    is the positive. A list whose positive was not retrieved is dropped (the ranker can
    only reorder what retrieval returns; keeping it would teach nothing and injecting
    the positive would put a movie at a rank retrieval never gives).

Validation lists come from the served retrieval model on the validation ratings, which it
did not train on either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from core import features as F
from core.columns import Gathered
from core.data import Columns, take


@dataclasses.dataclass(frozen=True)
class CandidateLists:
    """Ranker training lists: one row per query, N candidates each.

    Attributes:
      queries: The query columns [n] (user features, `timestamp`, `recent_movie_ids`).
      movie_ids: [n, N] str candidates in retrieval order (read through catalogue rows).
      scores: [n, N] float32 retrieval scores.
      positive: [n] int, the position of the query's own movie among the candidates.
      num_queries: How many queries were asked (dropped lists included).
    """

    queries: Columns
    movie_ids: Gathered
    scores: np.ndarray
    positive: np.ndarray
    num_queries: int

    def __len__(self) -> int:
        return len(self.positive)


def hold_out_newest(train: Columns, per_user: int) -> tuple[Columns, Columns, np.ndarray]:
    """(earlier, newest, rows of newest in `train`): each user's newest `per_user` ratings
    and the rest (the rows are sorted by user then time). Users keep at least 2 earlier
    ratings.

    Raises:
      ValueError: if `per_user` < 1.
    """
    if per_user < 1:
        raise ValueError(f"per_user={per_user}: expected >= 1")
    users = train[F.USER_ID.name]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    from_end = np.repeat(starts + counts, counts) - np.arange(len(users))  # 1 = the user's newest
    held = (from_end <= per_user) & (np.repeat(counts, counts) - from_end >= 2)
    rows = np.flatnonzero(held)
    return take(train, np.flatnonzero(~held)), take(train, rows), rows


def rated_before(
    ratings: Columns, rows: np.ndarray, movie_index: dict[str, int]
) -> list[np.ndarray]:
    """Per query row of `ratings` (sorted by user, then time), the catalogue rows its user
    rated in the rows before it: earlier in (timestamp, then the sorted row order), as the
    temporal split orders ratings."""
    users = ratings[F.USER_ID.name]
    movies = np.array([movie_index[m] for m in ratings[F.MOVIE_ID.name]], dtype=np.int64)
    first = np.maximum.accumulate(
        np.where(np.r_[True, users[1:] != users[:-1]], np.arange(len(users)), 0)
    )  # the row where each row's user begins
    return [movies[start:row] for start, row in zip(first[rows].tolist(), rows.tolist())]


def candidate_lists(
    score: Callable[[np.ndarray], np.ndarray],
    catalogue_ids: np.ndarray,
    queries: Columns,
    seen: list[np.ndarray],
    num_candidates: int,
    chunk: int = 4096,
) -> CandidateLists:
    """The top `num_candidates` unseen movies of each query, keeping lists that hold the positive.

    Args:
      score: Query rows [r] -> their [r, num_movies] retrieval scores against the catalogue;
        called for `chunk` queries at a time, so memory does not grow with the queries.
      catalogue_ids: [num_movies] str.
      queries: [n] query columns with `movie_id` (the positive).
      seen: Per query, catalogue rows never to list (the user's earlier movies).
      num_candidates: N.
    """
    count = len(queries[F.MOVIE_ID.name])
    tops, top_scores = [], []
    for start in range(0, count, chunk):
        rows = np.arange(start, min(start + chunk, count))
        scores = np.array(score(rows), dtype=np.float32)
        listed = [seen[row] for row in rows]
        in_chunk = np.repeat(np.arange(len(rows)), [len(movies) for movies in listed])
        scores[in_chunk, np.concatenate(listed)] = -np.inf
        top = top_columns(scores, num_candidates)
        tops.append(top.astype(np.int32))
        top_scores.append(np.take_along_axis(scores, top, axis=1))
    top = np.concatenate(tops) if tops else np.zeros((0, num_candidates), np.int32)
    row_of = {m: i for i, m in enumerate(catalogue_ids.tolist())}
    positive = np.array([row_of.get(m, -1) for m in queries[F.MOVIE_ID.name].tolist()])
    hits = top == positive[:, None]
    keep = hits.any(axis=1)
    return CandidateLists(
        queries=take(queries, np.flatnonzero(keep)),
        movie_ids=Gathered(top[keep], catalogue_ids),
        scores=np.concatenate(top_scores)[keep] if top_scores else np.zeros(top.shape, np.float32),
        positive=hits[keep].argmax(axis=1),
        num_queries=count,
    )


def top_columns(values: np.ndarray, k: int) -> np.ndarray:
    """[rows, min(k, columns)] column indices of each row's k largest values, largest first,
    the lower column first among equal values (`tf.math.top_k`: multi-threaded, a heap of k
    a row; numpy's argpartition took 4x as long on 27k columns)."""
    return tf.math.top_k(values, k=min(k, values.shape[1])).indices.numpy()
