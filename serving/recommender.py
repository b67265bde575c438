"""Two-stage recommendations: retrieve N, drop seen movies, rank, return the top K.

Two ways, one answer:
  * `recommend` (client side): a Predict call to a retrieval model, one to the ranking
    model with the N candidates, filtering and ordering in the client;
  * the composite `recommender` SavedModel (`export_recommender`): the same steps in one
    graph, built from the exported brute-force retrieval model and the ranking model, so
    a single Predict call answers and stock TensorFlow Serving can serve it.
Both rank all N candidates in one batch and order by predicted rating, ties in retrieval
order, so they return the same top K.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import numpy as np
import tensorflow as tf

from pipelines import features as F
from serving import contract, savedmodel
from serving.client import ServingClient

log = logging.getLogger(__name__)

USER_FEATURES = (
    F.USER_ID, F.USER_GENDER, F.BUCKETIZED_USER_AGE, F.RAW_USER_AGE, F.USER_OCCUPATION_TEXT, F.USER_ZIP_CODE,
)  # fmt: skip


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
        """Request inputs (a batch of one) for the given signature input keys."""
        values = {f.name: [getattr(self, f.name)] for f in USER_FEATURES}
        values[F.TIMESTAMP.name] = [self.timestamp]
        values[F.RECENT_MOVIE_IDS.name] = [list(self.recent_movie_ids) or [""]]
        values[contract.SEEN_MOVIE_IDS] = [list(self.seen_movie_ids) or [""]]
        missing = set(keys) - set(values)
        if missing:
            raise ValueError(f"the model asks for inputs a user profile does not have: {sorted(missing)}")
        return {k: values[k] for k in keys}


def profile_from_ratings(ratings: dict[str, np.ndarray], user_id: str, history_length: int) -> UserProfile:
    """A known user's profile from rating columns (sorted by user, time, as `data.load` gives them).

    The request time is one second after the user's last rating.

    Raises:
      ValueError: if the user has no ratings.
    """
    rows = np.flatnonzero(ratings[F.USER_ID.name] == user_id)
    if not len(rows):
        raise ValueError(
            f"user_id {user_id!r} has no ratings in this dataset; for a new user pass demographics "
            "(--gender/--age/--occupation/--zip) instead"
        )
    first = rows[0]
    profile = UserProfile(user_id=user_id, timestamp=int(ratings[F.TIMESTAMP.name][rows].max()) + 1)
    for feature in USER_FEATURES[1:]:
        if feature.name in ratings:
            value = ratings[feature.name][first]
            setattr(profile, feature.name, value.item() if isinstance(value, np.generic) else value)
    movies = ratings[F.MOVIE_ID.name][rows]  # in time order
    profile.recent_movie_ids = [str(m) for m in movies[::-1][:history_length]]
    profile.seen_movie_ids = [str(m) for m in movies]
    return profile


def recommend(client: ServingClient, profile: UserProfile, k: int = 10,
              retrieval_model: str = contract.RETRIEVAL, ranking_model: str = contract.RANKING) -> list[dict]:  # fmt: skip
    """Client-side two-stage recommendation over gRPC.

    Returns:
      Up to k dicts {"movie_id", "title", "predicted_rating", "retrieval_score"}, best first.
    """
    retrieval_keys = client.metadata(retrieval_model)["signatures"][contract.SERVING_DEFAULT]["inputs"]
    retrieved = client.predict(retrieval_model, profile.inputs(retrieval_keys))
    candidates, retrieval_scores = retrieved[contract.MOVIE_IDS][0], retrieved[contract.SCORES][0]
    ranking_keys = client.metadata(ranking_model)["signatures"][contract.SERVING_DEFAULT]["inputs"]
    ranked = client.predict(ranking_model, ranking_inputs(profile, ranking_keys, candidates))
    ratings, titles = ranked[contract.PREDICTED_RATING], ranked[contract.MOVIE_TITLE]
    seen = set(profile.seen_movie_ids)
    keep = [i for i, movie in enumerate(candidates) if movie not in seen]
    best = sorted(keep, key=lambda i: -ratings[i])[:k]  # stable: ties stay in retrieval order
    return [
        {"movie_id": str(candidates[i]), "title": str(titles[i]), "predicted_rating": float(ratings[i]),
         "retrieval_score": float(retrieval_scores[i])}
        for i in best
    ]  # fmt: skip


def ranking_inputs(profile: UserProfile, keys, candidates) -> dict[str, list]:
    """The ranking model's inputs named by `keys`: the profile's features repeated once per
    candidate movie (not the [1] broadcast, so server-side batching stays correct)."""
    user = {key: value * len(candidates) for key, value in profile.inputs(set(keys) - {F.MOVIE_ID.name}).items()}
    return {**user, F.MOVIE_ID.name: list(candidates)}


def recommend_composite(client: ServingClient, profile: UserProfile, k: int = 10,
                        model: str = contract.RECOMMENDER) -> list[dict]:  # fmt: skip
    """The same recommendation from one Predict call to the composite model.

    Raises:
      ValueError: if k exceeds the K the composite model was exported with.
    """
    keys = client.metadata(model)["signatures"][contract.SERVING_DEFAULT]["inputs"]
    out = client.predict(model, profile.inputs(keys))
    ids, ratings, titles = out[contract.MOVIE_IDS][0], out[contract.SCORES][0], out[contract.MOVIE_TITLE][0]
    if k > len(ids):
        raise ValueError(f"k={k} exceeds the {len(ids)} movies the {model} model was exported to return")
    return [
        {"movie_id": str(m), "title": str(t), "predicted_rating": float(r)}
        for m, t, r in zip(ids[:k], titles[:k], ratings[:k])
        if np.isfinite(r)  # fewer unseen candidates than k: the rest are -inf
    ]


class RecommenderModule(tf.Module):
    """Retrieval (loaded SavedModel) -> drop seen -> ranking (loaded SavedModel) -> top k."""

    def __init__(self, retrieval, ranking, k: int):
        super().__init__()
        self.retrieval, self.ranking, self.k = retrieval, ranking, k
        retrieve = retrieval.signatures[contract.SERVING_DEFAULT]
        rank = ranking.signatures[contract.SERVING_DEFAULT]
        self.retrieval_specs = dict(retrieve.structured_input_signature[1])
        self.ranking_specs = dict(rank.structured_input_signature[1])
        num_candidates = retrieve.structured_outputs[contract.MOVIE_IDS].shape[1]
        if num_candidates is not None and k > num_candidates:
            raise ValueError(f"k={k} exceeds the {num_candidates} candidates the retrieval model returns")
        specs = {**self.retrieval_specs, **self.ranking_specs}
        specs.pop(F.MOVIE_ID.name)
        specs[contract.SEEN_MOVIE_IDS] = tf.TensorSpec([None, None], tf.string, name=contract.SEEN_MOVIE_IDS)
        self.input_names = tuple(sorted(specs))
        self.serve = tf.function(self._serve)
        self.serving_signatures = {contract.SERVING_DEFAULT: self.serve.get_concrete_function(**specs)}

    def _serve(self, **inputs):
        retrieved = self.retrieval.signatures[contract.SERVING_DEFAULT](**{k: inputs[k] for k in self.retrieval_specs})
        ids = retrieved[contract.MOVIE_IDS]  # [batch, N]
        batch, n = tf.shape(ids)[0], tf.shape(ids)[1]
        rank_inputs = {k: tf.repeat(inputs[k], n, axis=0) for k in self.ranking_specs if k != F.MOVIE_ID.name}
        rank_inputs[F.MOVIE_ID.name] = tf.reshape(ids, [-1])
        ranked = self.ranking.signatures[contract.SERVING_DEFAULT](**rank_inputs)
        ratings = tf.reshape(ranked[contract.PREDICTED_RATING], [batch, n])
        titles = tf.reshape(ranked[contract.MOVIE_TITLE], [batch, n])
        seen = inputs[contract.SEEN_MOVIE_IDS]
        is_seen = tf.reduce_any(tf.equal(ids[:, :, tf.newaxis], seen[:, tf.newaxis, :]), axis=2)
        scores, best = tf.math.top_k(tf.where(is_seen, -np.inf, ratings), k=self.k)  # ties: retrieval order
        return {
            contract.MOVIE_IDS: tf.gather(ids, best, batch_dims=1),
            contract.SCORES: scores,
            contract.MOVIE_TITLE: tf.gather(titles, best, batch_dims=1),
        }


def latest_version(export_dir: str, model: str) -> str:
    """`<export_dir>/<model>/<newest version>`.

    Raises:
      FileNotFoundError: if the model has no exported version.
    """
    numbers = savedmodel.versions(os.path.join(export_dir, model))
    if not numbers:
        raise FileNotFoundError(f"no exported version under {os.path.join(export_dir, model)}: train it first")
    return os.path.join(export_dir, model, str(numbers[-1]))


def export_recommender(export_dir: str, k: int = 10, retrieval_dir: str | None = None, ranking_dir: str | None = None) -> str:
    """Composes the newest brute-force retrieval and ranking exports into `<export_dir>/recommender/<v>`."""
    retrieval_dir = retrieval_dir or latest_version(export_dir, contract.RETRIEVAL_BRUTEFORCE)
    ranking_dir = ranking_dir or latest_version(export_dir, contract.RANKING)
    module = RecommenderModule(tf.saved_model.load(retrieval_dir), tf.saved_model.load(ranking_dir), k)
    example = UserProfile(user_id="1", user_gender=True, bucketized_user_age=25.0, raw_user_age=30.0,
                          user_occupation_text="writer", user_zip_code="55455", timestamp=893_286_638,
                          recent_movie_ids=["1"], seen_movie_ids=["1"])  # fmt: skip

    def write(directory: str) -> None:
        tf.saved_model.save(module, directory, signatures=module.serving_signatures)
        savedmodel.write_warmup(directory, contract.RECOMMENDER, [_numpy(example.inputs(module.input_names))])
        savedmodel.write_metadata(directory, {
            "model": contract.RECOMMENDER, "k": k, "inputs": list(module.input_names),
            "outputs": [contract.MOVIE_IDS, contract.SCORES, contract.MOVIE_TITLE],
            "retrieval": os.path.abspath(retrieval_dir), "ranking": os.path.abspath(ranking_dir),
            "created_unix": int(time.time()),
        })  # fmt: skip

    path = savedmodel.write_version(os.path.join(export_dir, contract.RECOMMENDER), write)
    log.info("exported recommender (k=%d) from %s and %s to %s", k, retrieval_dir, ranking_dir, path)
    return path


def _numpy(inputs: dict[str, list]) -> dict[str, np.ndarray]:
    return {
        k: np.asarray(v, dtype=object if k in (contract.SEEN_MOVIE_IDS,) or F.BY_NAME[k].dtype == "string"
                      else F.BY_NAME[k].dtype)
        for k, v in inputs.items()
    }  # fmt: skip


def format_table(recommendations: list[dict]) -> str:
    """A readable table of recommendations."""
    lines = [f"{'#':>3}  {'movie_id':>8}  {'rating':>6}  title"]
    for i, r in enumerate(recommendations, 1):
        lines.append(f"{i:>3}  {r['movie_id']:>8}  {r['predicted_rating']:6.2f}  {r['title']}")
    return "\n".join(lines)


def to_json(recommendations: list[dict]) -> str:
    return json.dumps(recommendations, indent=2)
