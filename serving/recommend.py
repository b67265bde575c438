"""Two-stage recommendations for a client: retrieve the N best unseen movies, rank, top K.

Two ways, one answer:
  * `recommend` (client side): a Predict call to a retrieval model's `unseen_candidates`,
    one to the ranking model with the N candidates, ordering in the client;
  * `recommend_composite`: one Predict call to the composite `recommender` model
    (`pipelines.composite` exports it), which runs the same steps in one graph.
Both rank all N candidates in one batch, ties in retrieval order, so they return the same
top K. Requests are built from a `UserProfile`, whose fields are the registry's profile
features; known users' profiles come from the table exported beside the models.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import os
import time
from typing import TYPE_CHECKING

import numpy as np

from core import features as F
from serving import contract

if TYPE_CHECKING:  # the client module imports TensorFlow; profiles and movies do not need it
    from serving.client import ServingClient

log = logging.getLogger(__name__)

PROFILES_FILE = "user_profiles.json"  # beside the models: <export_dir>/user_profiles.json
MOVIES_FILE = "movies.json"  # beside the models: titles, genres and counts of the catalogue


@dataclasses.dataclass
class UserProfile:
    """What a recommendation request knows about a user.

    Attributes:
      user_id: Id; an unknown one (e.g. "") falls into the out-of-vocabulary bucket.
      user_gender, bucketized_user_age, raw_user_age, user_occupation_text, user_zip_code:
        Demographics (TFDS names); unknown values map to out-of-vocabulary buckets.
      timestamp: Request time, seconds since the epoch.
      recent_movie_ids: Movies rated most recently, newest first.
      seen_movie_ids: Every movie the user rated (never recommended again).
    """

    user_id: str = ""
    user_gender: bool = False
    bucketized_user_age: float = 0.0
    raw_user_age: float = 0.0
    user_occupation_text: str = ""
    user_zip_code: str = ""
    timestamp: int = 0
    recent_movie_ids: list[str] = dataclasses.field(default_factory=list)
    seen_movie_ids: list[str] = dataclasses.field(default_factory=list)

    def inputs(self, keys) -> dict[str, list]:
        """Request inputs (a batch of one) for the given signature input keys.

        Raises:
          ValueError: a key that is not a profile feature of the registry.
        """
        missing = set(keys) - {f.name for f in F.PROFILE_FEATURES}
        if missing:
            raise ValueError(
                f"the model asks for inputs a user profile does not have: {sorted(missing)}"
            )
        return {
            k: [list(getattr(self, k)) or [F.PAD]]
            if F.BY_NAME[k].kind is F.Kind.SEQUENCE
            else [getattr(self, k)]
            for k in keys
        }


def build_profiles(ratings: dict[str, np.ndarray], history_length: int) -> dict[str, UserProfile]:
    """Every user's profile from rating columns sorted by (user, time), as `core.data` gives them.

    A profile holds the user's features, their `history_length` newest movies, every movie
    they rated, and a request time one second after their last rating.
    """
    users = ratings[F.USER_ID.name]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    names = [f.name for f in F.PROFILE_FEATURES if f.entity is F.Entity.USER and f.name in ratings]
    profiles = {}
    for start, end in zip(starts, ends):
        movies = [str(m) for m in ratings[F.MOVIE_ID.name][start:end]]  # in time order
        fields = {
            n: ratings[n][start].item()
            if isinstance(ratings[n][start], np.generic)
            else ratings[n][start]
            for n in names
        }
        profiles[str(users[start])] = UserProfile(
            **fields,
            timestamp=int(ratings[F.TIMESTAMP.name][start:end].max()) + 1,
            recent_movie_ids=movies[::-1][:history_length],
            seen_movie_ids=movies,
        )
    return profiles


def save_profiles(export_dir: str, profiles: dict[str, UserProfile], lineage: str) -> str:
    """Writes `<export_dir>/user_profiles.json` with the lineage of the models exported beside
    it (contract.LINEAGE); returns its path."""
    path = os.path.join(export_dir, PROFILES_FILE)
    os.makedirs(export_dir, exist_ok=True)
    table = {
        "dataset": lineage.split(":")[0],
        contract.LINEAGE: lineage,
        "users": {u: dataclasses.asdict(p) for u, p in profiles.items()},
    }
    with open(path + ".tmp", "w") as f:
        json.dump(table, f)
    os.replace(path + ".tmp", path)
    return path


def load_profiles(export_dir: str) -> list[UserProfile]:
    """Every profile of the table exported beside the models, in user-id order."""
    users = _read_profiles(export_dir)
    return [UserProfile(**users[u]) for u in sorted(users, key=lambda u: (len(u), u))]


def default_request_time(export_dir: str) -> int:
    """The request time for a new user: the latest one of the exported profiles, i.e. the
    end of the training data (time features never see a time far outside what they learned)."""
    try:
        users = _read_profiles(export_dir)
    except FileNotFoundError:
        log.warning(
            "no profile table in %s: the request time is now, which may lie far past the "
            "training data; pass --timestamp or --export-dir",
            export_dir,
        )
        return int(time.time())
    return max(int(u["timestamp"]) for u in users.values())


def load_profile(export_dir: str, user_id: str) -> UserProfile:
    """A known user's profile from the table exported beside the models.

    Raises:
      FileNotFoundError: no table in `export_dir` (train first).
      ValueError: the user is not in it.
    """
    users = _read_profiles(export_dir)
    if user_id not in users:
        raise ValueError(
            f"user_id {user_id!r} is not a known user of these models; for a new user pass "
            "demographics (--gender/--age/--occupation/--zip) instead"
        )
    return UserProfile(**users[user_id])


def _read_profiles(export_dir: str) -> dict[str, dict]:
    return _read_table(export_dir)["users"]


def _read_table(export_dir: str) -> dict:
    path = os.path.join(export_dir, PROFILES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: train the models first (recsys train all)")
    with open(path) as f:
        return json.load(f)


def profiles_lineage(export_dir: str) -> str:
    """The lineage of the profile table in `export_dir` ("" for a table written before
    lineages were recorded)."""
    return _read_table(export_dir).get(contract.LINEAGE, "")


def check_lineage(client: ServingClient, models: list[str], expected: str = "") -> str:
    """Asks the server what each model was trained on (its `lineage` signature) and checks
    that they agree with each other and with `expected` (e.g. the profile table's).
    Models exported without the signature are not checked. Returns the common lineage.

    Raises:
      ValueError: naming what each was trained on.
    """
    from serving.client import FailedPreconditionError

    found = {"the profile table": expected} if expected else {}
    for model in models:
        try:
            out = client.predict(
                model, {F.USER_ID.name: [""]}, signature=contract.LINEAGE_SIGNATURE
            )
        except FailedPreconditionError:  # exported before lineages existed
            continue
        found[f"the served {model}"] = str(out[contract.LINEAGE][0])
    if len(set(found.values())) > 1:
        said = "; ".join(f"{who}: {lineage}" for who, lineage in found.items())
        raise ValueError(
            f"these were trained on different data (dataset:split:vocabulary): {said}. Serve "
            "the models exported together with the profile table (--export-dir), or retrain "
            "with `recsys train all`"
        )
    return next(iter(found.values()), "")


def save_movies(export_dir: str, movies: list[dict], lineage: str) -> str:
    """Writes `<export_dir>/movies.json` ({movie_id, title, genres, ratings, mean_rating} per
    movie of the catalogue), so clients name movies without reading the dataset."""
    path = os.path.join(export_dir, MOVIES_FILE)
    os.makedirs(export_dir, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(
            {"dataset": lineage.split(":")[0], contract.LINEAGE: lineage, "movies": movies}, f
        )
    os.replace(path + ".tmp", path)
    return path


def load_movies(export_dir: str) -> dict[str, dict]:
    """movie_id -> {movie_id, title, genres, ratings, mean_rating}, from `save_movies`.

    Raises:
      FileNotFoundError: no table in `export_dir` (train first).
    """
    path = os.path.join(export_dir, MOVIES_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: train the models first (recsys train all)")
    with open(path) as f:
        return {m["movie_id"]: m for m in json.load(f)["movies"]}


def find_movie(movies: dict[str, dict], title: str) -> dict:
    """The one movie whose title matches `title`: exact (case-insensitive, year optional),
    else by substring, else by spelling (difflib).

    Raises:
      ValueError: no movie matches, or several do (listing them, so the caller can choose).
    """
    wanted = title.strip().lower()

    def bare(name: str) -> str:
        return name.lower().rsplit(" (", 1)[0].strip()

    exact = [m for m in movies.values() if wanted in (m["title"].lower(), bare(m["title"]))]
    found = exact or [m for m in movies.values() if wanted in m["title"].lower()]
    if not found:
        close = difflib.get_close_matches(wanted, [bare(m["title"]) for m in movies.values()], 5)
        found = [m for m in movies.values() if bare(m["title"]) in close]
    if not found:
        raise ValueError(f"no movie title matches {title!r}; try a shorter part of the title")
    if len(found) > 1:
        listed = "; ".join(f"{m['movie_id']}: {m['title']}" for m in found[:10])
        more = f" (and {len(found) - 10} more)" if len(found) > 10 else ""
        raise ValueError(
            f"{title!r} matches {len(found)} movies, which one? {listed}{more}. "
            "Pass --movie-id, or a longer title"
        )
    return found[0]


def similar(client: ServingClient, movie_id: str, model: str = contract.RETRIEVAL) -> list[dict]:
    """The movies nearest to `movie_id` in the retrieval model's index ("more like this"),
    over gRPC: [{"movie_id", "score"}], nearest first, the movie itself excluded."""
    out = client.predict(
        model, {F.MOVIE_ID.name: [movie_id]}, signature=contract.SIMILAR_MOVIES_SIGNATURE
    )
    return [
        {"movie_id": str(m), "score": float(s)}
        for m, s in zip(out[contract.MOVIE_IDS][0], out[contract.SCORES][0])
    ]


def recommend(
    client: ServingClient,
    profile: UserProfile,
    k: int = 10,
    retrieval_model: str = contract.RETRIEVAL,
    ranking_model: str = contract.RANKING,
) -> list[dict]:
    """Client-side two-stage recommendation over gRPC, ordered by the ranker's score.

    Returns:
      Up to k dicts {"movie_id", "title", "score", "predicted_rating", "retrieval_score"},
      best first.
    """
    unseen = contract.UNSEEN_CANDIDATES_SIGNATURE
    retrieval_keys = client.metadata(retrieval_model)["signatures"][unseen]["inputs"]
    retrieved = client.predict(retrieval_model, profile.inputs(retrieval_keys), signature=unseen)
    # -inf scores trail a row whose catalogue has fewer unseen movies than retrieval returns
    found = np.isfinite(retrieved[contract.SCORES][0])
    candidates = retrieved[contract.MOVIE_IDS][0][found]
    retrieval_scores = retrieved[contract.SCORES][0][found]
    if not len(candidates):  # the user has seen every movie
        return []
    ranking_keys = client.metadata(ranking_model)["signatures"][contract.SERVING_DEFAULT]["inputs"]
    ranked = client.predict(
        ranking_model, ranking_inputs(profile, ranking_keys, candidates, retrieval_scores)
    )
    scores, ratings, titles = (
        ranked[key] for key in (contract.SCORE, contract.PREDICTED_RATING, contract.MOVIE_TITLE)
    )
    best = sorted(range(len(candidates)), key=lambda i: -scores[i])[:k]  # ties: retrieval order
    return [
        {
            "movie_id": str(candidates[i]),
            "title": str(titles[i]),
            "score": float(scores[i]),
            "predicted_rating": float(ratings[i]),
            "retrieval_score": float(retrieval_scores[i]),
        }
        for i in best
    ]


def ranking_inputs(profile: UserProfile, keys, candidates, retrieval_scores) -> dict[str, list]:
    """The ranking model's inputs named by `keys`: the profile's features repeated once per
    candidate movie (not the [1] broadcast, so server-side batching stays correct), the
    candidates, their retrieval scores and ranks (retrieval order)."""
    per_candidate = {
        F.MOVIE_ID.name: list(candidates),
        F.RETRIEVAL_SCORE.name: [float(s) for s in retrieval_scores],
        F.RETRIEVAL_RANK.name: list(range(len(candidates))),
    }
    user = profile.inputs(set(keys) - set(per_candidate))
    return {**{key: value * len(candidates) for key, value in user.items()}, **per_candidate}


def recommend_composite(
    client: ServingClient, profile: UserProfile, k: int = 10, model: str = contract.RECOMMENDER
) -> list[dict]:
    """The same recommendation from one Predict call to the composite model.

    Raises:
      ValueError: if k exceeds the K the composite model was exported with.
    """
    keys = client.metadata(model)["signatures"][contract.SERVING_DEFAULT]["inputs"]
    out = client.predict(model, profile.inputs(keys))
    ids, scores = out[contract.MOVIE_IDS][0], out[contract.SCORES][0]
    ratings, titles = out[contract.PREDICTED_RATING][0], out[contract.MOVIE_TITLE][0]
    if k > len(ids):
        raise ValueError(
            f"k={k} exceeds the {len(ids)} movies the {model} model was exported to return"
        )
    return [
        {"movie_id": str(m), "title": str(t), "score": float(s), "predicted_rating": float(r)}
        for m, t, s, r in zip(ids[:k], titles[:k], scores[:k], ratings[:k])
        if np.isfinite(s)  # fewer unseen candidates than k: the rest are -inf
    ]


def format_table(recommendations: list[dict]) -> str:
    """A readable table of recommendations."""
    lines = [f"{'#':>3}  {'movie_id':>8}  {'score':>6}  {'rating':>6}  title"]
    for i, r in enumerate(recommendations, 1):
        lines.append(
            f"{i:>3}  {r['movie_id']:>8}  {r['score']:6.2f}  {r['predicted_rating']:6.2f}  "
            f"{r['title']}"
        )
    return "\n".join(lines)


def to_json(recommendations: list[dict]) -> str:
    """Valid JSON: a non-finite number (from a broken model) becomes null, never NaN."""

    def finite(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value

    rows = [{k: finite(v) for k, v in row.items()} for row in recommendations]
    return json.dumps(rows, indent=2, allow_nan=False)
