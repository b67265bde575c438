"""The serving contract: model names, signature names, input and output keys.

Exporters, the local server, the client and the tests import these names; input
keys are the feature names of `core.features`. No `input_1` anywhere.
"""

from __future__ import annotations

from core import features as F

# Models, as named in configs/serving/models.config and under models/<name>/<version>/.
RETRIEVAL = "retrieval"  # ScaNN index: needs ScaNN's ops in the server
RETRIEVAL_BRUTEFORCE = "retrieval_bruteforce"  # exact, stock TensorFlow ops only
RANKING = "ranking"
RECOMMENDER = "recommender"  # retrieval + seen-filter + ranking in one graph

# Signatures.
SERVING_DEFAULT = "serving_default"
QUERY_EMBEDDING_SIGNATURE = "query_embedding"
SIMILAR_MOVIES_SIGNATURE = (
    "similar_movies"  # movie_id [batch] -> its nearest movies (itself excluded)
)
# query features + seen_movie_ids -> the k best movies not seen (what the recommender ranks)
UNSEEN_CANDIDATES_SIGNATURE = "unseen_candidates"
SIMILAR_K = 10  # movies similar_movies returns (fewer for a catalogue of 10 or fewer)
# ranking, what the recommender calls: one list of candidates per query, [queries, N] in and
# out. It scores every candidate, then rates and titles only the k it keeps.
SCORE_LISTS_SIGNATURE = "score_lists"  # -> score
RATE_LISTS_SIGNATURE = "rate_lists"  # -> predicted_rating, movie_title
LINEAGE_SIGNATURE = "lineage"  # user_id [batch] -> the export's lineage (see LINEAGE), any input
INIT_OP_SIGNATURE = "__saved_model_init_op"  # listed in metadata, as TF Serving does; not callable

# Output keys.
MOVIE_IDS = "movie_ids"  # [batch, k] string
SCORES = "scores"  # [batch, k] float32
QUERY_EMBEDDING = "query_embedding"  # [batch, d] float32
PREDICTED_RATING = "predicted_rating"  # [batch] float32: the rating the user would give
SCORE = "score"  # [batch] float32 (ranking), [batch, k] (recommender): how likely picked next
MOVIE_TITLE = F.MOVIE_TITLE.name  # [batch] string (ranking, recommender)
# [batch] string "<dataset>:<split>:<vocabulary fingerprint>": what the model was trained on.
# Models (and the profile table) that work together have the same lineage.
LINEAGE = "lineage"

# Inputs are registry features (core.features), e.g. the composite's seen_movie_ids.
SEEN_MOVIE_IDS = F.SEEN_MOVIE_IDS.name

# Files inside a version directory.
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
METADATA_FILE = "assets.extra/recsys.json"  # feature names, k, config, metrics of the export
