"""Typed config of the ranking pipeline (`configs/ranking.toml` fills it)."""

from __future__ import annotations

import dataclasses

from pipelines.config import ConfigError, DataConfig, TrainerConfig


@dataclasses.dataclass
class RankingModelConfig:
    """Feature encoders, cross network and deep network.

    Attributes:
      id_embedding_dim: Size of the user-id and movie-id embeddings.
      feature_embedding_dim: Size of the other categorical and text embeddings.
      num_cross_layers: DCN-v2 cross layers (`tfrs.layers.dcn.Cross`); 0 for none.
      cross_projection_dim: Low-rank size of each cross layer's weight; 0 is full rank.
      structure: "stacked" (cross layers feed the deep network) or "parallel" (both read
        the features; their outputs are concatenated).
      deep_layers: Dense ReLU layers of the deep network.
      dropout: Dropout after each deep layer.
      l2: L2 penalty on embeddings and dense kernels.
      dot_product: Add the dot product of the user-id and movie-id embeddings to the
        output (a matrix-factorisation term beside the networks).
      use_demographics: Read age (bucket and years), gender, occupation, zip prefix.
      use_movie_features: Read genres, title tokens and release year (from the movie
        table inside the model).
      use_time: Read time features of the rating timestamp (year, weekday, hour, and
        the movie's age at rating time).
      use_history: Read `recent_movie_ids` (movies the user rated before, SVD++'s implicit
        feedback): their mean embedding joins the features and the user side of the
        dot product.
      ensemble_size: Independently initialised networks trained side by side; the model
        predicts their mean (one SavedModel). 1 is a single network.
    """

    id_embedding_dim: int = 32
    feature_embedding_dim: int = 8
    num_cross_layers: int = 2
    cross_projection_dim: int = 0
    structure: str = "stacked"
    deep_layers: tuple[int, ...] = (256, 64)
    dropout: float = 0.2
    l2: float = 1e-3
    dot_product: bool = True
    use_demographics: bool = True
    use_movie_features: bool = True
    use_time: bool = True
    use_history: bool = True
    ensemble_size: int = 1

    def __post_init__(self) -> None:
        if self.ensemble_size < 1:
            raise ConfigError(f"model.ensemble_size={self.ensemble_size}: expected >= 1")
        if self.structure not in ("stacked", "parallel"):
            raise ConfigError(f"model.structure={self.structure!r}: expected 'stacked' or 'parallel'")


@dataclasses.dataclass
class RankingTaskConfig:
    """The loss.

    Attributes:
      listwise_weight: Weight of a ListMLE loss over lists of one user's ratings, added
        to the pointwise MSE; 0 trains pointwise only.
      list_length: Ratings per list when listwise_weight > 0.
      lists_per_user: Lists sampled per user and epoch when listwise_weight > 0.
    """

    listwise_weight: float = 0.0
    list_length: int = 5
    lists_per_user: int = 20


@dataclasses.dataclass
class AutoRecConfig:
    """I-AutoRec (ranking/autorec.py), blended with the networks.

    Attributes:
      weight: Its share of the prediction, (1 - weight) * networks + weight * AutoRec,
        where it knows the user and the movie (elsewhere the networks alone); 0 is off.
      hidden: Size of a movie's code (sigmoid units).
      l2: lambda of the objective sum of squared errors + lambda / 2 * (squared weights of
        encoder and decoder), over all training ratings.
      learning_rate: Adam's.
      epochs: Most passes over the movies.
      movies_per_batch: Movies (rating columns) per step.
      early_stopping_patience: Epochs without a better validation RMSE before stopping;
        the best epoch's weights are kept.
    """

    weight: float = 0.5
    hidden: int = 500
    l2: float = 240.0
    learning_rate: float = 0.001
    epochs: int = 200
    movies_per_batch: int = 256
    early_stopping_patience: int = 20

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"autorec.weight={self.weight}: expected 0 <= weight <= 1")
        if min(self.hidden, self.epochs, self.movies_per_batch, self.early_stopping_patience) < 1:
            raise ConfigError("autorec.hidden, epochs, movies_per_batch and early_stopping_patience must be >= 1")


@dataclasses.dataclass
class RankingTrainerConfig(TrainerConfig):
    """Optimisation (see pipelines.config.TrainerConfig), plus:

    Attributes:
      refit: After early stopping has chosen the number of epochs on validation, train a
        fresh model for that many epochs on train + validation (more data, same recipe).
    """

    refit: bool = False


@dataclasses.dataclass
class RankingConfig:
    """Everything `recsys train ranking` needs.

    Attributes:
      data: Dataset and split (the random split by default: the RMSE protocol).
      model: Network.
      task: Loss.
      autorec: The autoencoder blended with the networks.
      trainer: Optimisation; early stopping watches validation RMSE.
      run_dir: Where the run's config, vocabularies, metrics, logs go.
      export_dir: Base of exported SavedModels (`<export_dir>/ranking/<version>`).
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: RankingModelConfig = dataclasses.field(default_factory=RankingModelConfig)
    task: RankingTaskConfig = dataclasses.field(default_factory=RankingTaskConfig)
    autorec: AutoRecConfig = dataclasses.field(default_factory=AutoRecConfig)
    trainer: RankingTrainerConfig = dataclasses.field(
        default_factory=lambda: RankingTrainerConfig(batch_size=512, learning_rate=0.001, early_stopping_patience=3)
    )
    run_dir: str = "runs/ranking"
    export_dir: str = "models"
