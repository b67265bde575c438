"""Typed config of the ranking stage (the `[ranking]` tables of a config file)."""

from __future__ import annotations

import dataclasses

from core.config import ConfigError, FeatureSwitches, TrainerConfig


@dataclasses.dataclass
class RankingModelConfig(FeatureSwitches):
    """Feature encoders, DCN-v2 cross network and deep network.

    Attributes:
      id_embedding_dim: Size of the user-id and movie-id embeddings.
      feature_embedding_dim: Size of the other categorical and text embeddings.
      num_cross_layers: DCN-v2 cross layers (`tfrs.layers.dcn.Cross`) feeding the deep network.
      cross_projection_dim: Low-rank size of each cross layer's weight; 0 is full rank.
      deep_layers: Dense ReLU layers of the deep network.
      dropout: Dropout after each deep layer.
      l2: L2 penalty on embeddings and dense kernels.
      l2_per_lookup: Penalise only the embedding rows each batch looks up, averaged over the
        batch, instead of whole tables every step (`core.encoders.embedding_penalty`): the
        step stops costing O(vocabulary); for 100k+ users (configs/large.toml).
      use_demographics: Read age (bucket and years), gender, occupation, zip prefix.
      use_movie_content: Read genres, title tokens and release year (from the movie table
        inside the model).
      use_time: Read time features of the timestamp (year, weekday, hour, the movie's age).
      use_history: Read `recent_movie_ids` (SVD++'s implicit feedback: their mean embedding
        joins the features and the user side of the dot product).
    """

    id_embedding_dim: int = 32
    feature_embedding_dim: int = 8
    num_cross_layers: int = 2
    cross_projection_dim: int = 0
    deep_layers: tuple[int, ...] = (256, 64)
    dropout: float = 0.2
    l2: float = 1e-3
    l2_per_lookup: bool = False


@dataclasses.dataclass
class AutoRecConfig:
    """I-AutoRec (ranking/autorec.py), blended with the network for `predicted_rating`.

    Attributes:
      weight: Its share of the prediction, (1 - weight) * network + weight * AutoRec,
        where it knows the user and the movie (elsewhere the network alone); 0 is off.
      hidden: Size of a movie's code (sigmoid units).
      l2: lambda of the objective: sum of squared errors + lambda / 2 * (squared weights of
        encoder and decoder), over all training ratings.
      learning_rate: Adam's.
      epochs: Most passes over the movies.
      movies_per_batch: Movies (rating columns) per step.
      early_stopping_patience: Epochs without a better validation RMSE before stopping;
        the best epoch's weights are kept.
      max_matrix_mb: Largest dense movies x users rating matrix (float32) AutoRec may build;
        above it (ML-20M: 27k x 138k = 15 GB) AutoRec is skipped with a warning and the
        network alone predicts the rating.
    """

    weight: float = 0.5
    hidden: int = 500
    l2: float = 240.0
    learning_rate: float = 0.001
    epochs: int = 200
    movies_per_batch: int = 256
    early_stopping_patience: int = 20
    max_matrix_mb: int = 2048

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"autorec.weight={self.weight}: expected 0 <= weight <= 1")
        if min(self.hidden, self.epochs, self.movies_per_batch, self.early_stopping_patience) < 1:
            raise ConfigError(
                "autorec.hidden, epochs, movies_per_batch and early_stopping_patience must be >= 1"
            )


@dataclasses.dataclass
class ScorerConfig:
    """The candidate scorer (`score`): what it reads, its lists and its loss.

    Attributes:
      embedding_dim: Size of its own movie-id and user-id embeddings.
      num_cross_layers: DCN-v2 cross layers before the deep network.
      deep_layers: Dense ReLU layers.
      dropout: Dropout after each deep layer.
      l2: L2 penalty on embeddings and kernels.
      l2_per_lookup: As `RankingModelConfig.l2_per_lookup`.
      num_candidates: N, the retrieval candidates per training list (the served retrieval
        model's k should be at least this).
      queries_per_user: Each user's newest training ratings that become training queries;
        a separate retrieval model trained on the earlier ratings retrieves their lists.
      loss: "softmax" (cross-entropy over the list), "listmle" or "pairwise" (logistic).
    """

    embedding_dim: int = 8
    num_cross_layers: int = 2
    deep_layers: tuple[int, ...] = (64, 32)
    dropout: float = 0.3
    l2: float = 1e-4
    l2_per_lookup: bool = False
    num_candidates: int = 100
    queries_per_user: int = 10
    loss: str = "softmax"

    def __post_init__(self) -> None:
        losses = ("softmax", "listmle", "pairwise")
        if self.loss not in losses:
            raise ConfigError(f"ranking.scorer.loss={self.loss!r}: expected one of {losses}")
        if min(self.num_candidates, self.queries_per_user) < 1:
            raise ConfigError("ranking.scorer.num_candidates and queries_per_user must be >= 1")


def _rating_trainer() -> TrainerConfig:
    return TrainerConfig(batch_size=512, learning_rate=0.001, early_stopping_patience=3)


@dataclasses.dataclass
class RankingConfig:
    """The ranking stage.

    Attributes:
      model: The rating network (`predicted_rating`).
      autorec: The autoencoder blended with the network's rating.
      trainer: Optimisation of the rating task; early stopping watches validation RMSE.
      scorer: The candidate scorer (`score`, what orders the recommendations).
      scorer_trainer: Its optimisation (`batch_size` counts lists); early stopping watches
        validation HR@10 of the retrieval stage's lists.
    """

    model: RankingModelConfig = dataclasses.field(default_factory=RankingModelConfig)
    autorec: AutoRecConfig = dataclasses.field(default_factory=AutoRecConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=_rating_trainer)
    scorer: ScorerConfig = dataclasses.field(default_factory=ScorerConfig)
    scorer_trainer: TrainerConfig = dataclasses.field(
        default_factory=lambda: TrainerConfig(
            epochs=30, batch_size=32, learning_rate=0.001, early_stopping_patience=3
        )
    )
