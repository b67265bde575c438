"""The ranker's training lists on tiny data: the listing retrieval model never saw its queries."""

from __future__ import annotations

import numpy as np

from core import features as F
from tests.conftest import tiny_config


def test_training_queries_are_later_than_everything_the_listing_model_trained_on(
    tiny_movielens, tfds_cache, tmp_path
):
    from pipelines import jobs

    cfg = tiny_config(tiny_movielens, tfds_cache, tmp_path)
    run = jobs.start_run(cfg, "ranking")
    served = jobs.fit_retrieval(cfg, run)
    train_lists, validation_lists, earlier = jobs.ranking_lists(cfg, run, served)

    trained_on = set(zip(earlier[F.USER_ID.name], earlier[F.MOVIE_ID.name]))
    last_trained = {}
    for user, time in zip(earlier[F.USER_ID.name], earlier[F.TIMESTAMP.name]):
        last_trained[user] = max(time, last_trained.get(user, time))
    queries = train_lists.queries
    assert len(train_lists) > 0
    for user, movie, time in zip(
        queries[F.USER_ID.name], queries[F.MOVIE_ID.name], queries[F.TIMESTAMP.name]
    ):
        assert (user, movie) not in trained_on  # its own rating: not in the listing model's data
        assert time >= last_trained[user]  # nor anything later than it
    # the positive is in every kept list, at the position recorded
    for lists in (train_lists, validation_lists):
        rows = np.arange(len(lists))
        assert (lists.movie_ids[rows, lists.positive] == lists.queries[F.MOVIE_ID.name]).all()
    # validation queries were never in the served model's training data (the train part)
    validation = set(
        zip(validation_lists.queries[F.USER_ID.name], validation_lists.queries[F.MOVIE_ID.name])
    )
    train = run.prepared.parts["train"]
    assert not validation & set(zip(train[F.USER_ID.name], train[F.MOVIE_ID.name]))
