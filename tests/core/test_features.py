"""The feature registry: one definition per name, and what the models derive from it."""

from __future__ import annotations

import dataclasses

from core import features as F


def test_names_are_unique_and_indexed():
    assert len({f.name for f in F.REGISTRY}) == len(F.REGISTRY)
    assert all(F.BY_NAME[f.name] is f for f in F.REGISTRY)


def test_inputs_of_follow_readers_and_groups():
    everything = set(F.Group)
    assert F.inputs_of(F.Reader.QUERY_TOWER, everything) == (
        "user_id",
        "user_gender",
        "bucketized_user_age",
        "raw_user_age",
        "user_occupation_text",
        "user_zip_code",
        "timestamp",
        "recent_movie_ids",
    )
    assert F.inputs_of(F.Reader.QUERY_TOWER, set()) == ("user_id",)  # CORE is always on
    assert F.inputs_of(F.Reader.CANDIDATE_TOWER, everything) == (
        "movie_id",
        "movie_title",
        "movie_genres",
    )
    assert F.inputs_of(F.Reader.CANDIDATE_TOWER, set()) == ("movie_id",)
    assert F.inputs_of(F.Reader.RECOMMENDER, everything) == ("seen_movie_ids",)
    assert "user_occupation_label" not in F.inputs_of(F.Reader.RANKER, everything)  # TFDS only


def test_shapes_come_from_the_kind():
    assert F.RECENT_MOVIE_IDS.shape == (None, None) and F.SEEN_MOVIE_IDS.shape == (None, None)
    assert F.MOVIE_GENRES.shape == (None, None)
    assert F.USER_ID.shape == (None,) and F.TIMESTAMP.shape == (None,)


def test_a_user_profile_holds_exactly_the_profile_features():
    from serving.recommend import UserProfile

    fields = {field.name for field in dataclasses.fields(UserProfile)}
    assert fields == {f.name for f in F.PROFILE_FEATURES}
    assert F.USER_OCCUPATION_LABEL not in F.PROFILE_FEATURES  # no model reads it


def test_tfds_and_demographic_sets():
    assert F.RECENT_MOVIE_IDS not in F.TFDS_RATING_FEATURES
    assert F.RETRIEVAL_SCORE not in F.TFDS_RATING_FEATURES
    assert {f.name for f in F.DEMOGRAPHIC_FEATURES} == {
        "user_gender",
        "bucketized_user_age",
        "raw_user_age",
        "user_occupation_label",
        "user_occupation_text",
        "user_zip_code",
    }


def test_enabled_groups_are_the_switches_that_are_on():
    on = F.enabled_groups(demographics=True, time=False, history=True, movie_content=False)
    assert on == {F.Group.DEMOGRAPHICS, F.Group.HISTORY}
    assert (
        F.enabled_groups(demographics=False, time=False, history=False, movie_content=False)
        == set()
    )
