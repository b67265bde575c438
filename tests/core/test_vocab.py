"""Vocabularies come from the training split only and survive save -> load."""

from __future__ import annotations

import numpy as np

from core import vocab


def _train_columns():
    return {
        "user_id": np.array(["10", "2", "2"], dtype=object),
        "movie_id": np.array(["7", "30", "7"], dtype=object),
        "movie_title": np.array(
            ["Star Wars (1977)", "A Star, the River (1990)", "Star Wars (1977)"], dtype=object
        ),
        "user_occupation_text": np.array(["writer", "artist", "artist"], dtype=object),
        "user_zip_code": np.array(["55455", "t8h1n", "t8h1n"], dtype=object),
    }


def test_build_from_training_columns():
    v = vocab.build(_train_columns())
    assert v.user_id == ("2", "10")  # numeric id order
    assert v.movie_id == ("7", "30")
    assert v.user_occupation_text == ("artist", "writer")
    assert v.zip_prefix == ("554", "T8H")
    # "star" occurs in both distinct titles; punctuation and case are stripped.
    assert v.title_tokens[0] == "star"
    assert set(v.title_tokens) == {"star", "wars", "1977", "a", "the", "river", "1990"}


def test_without_demographics():
    cols = {k: _train_columns()[k] for k in ("user_id", "movie_id", "movie_title")}
    v = vocab.build(cols)
    assert v.user_occupation_text == () and v.zip_prefix == ()


def test_save_load_round_trip(tmp_path):
    v = vocab.build(_train_columns())
    v.save(str(tmp_path))
    assert vocab.Vocabularies.load(str(tmp_path)) == v
