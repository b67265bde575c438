"""The one config of every job: data, both stages, where runs and models go."""

from __future__ import annotations

import dataclasses

from core.config import ConfigError, DataConfig
from ranking.config import RankingConfig
from retrieval.config import RetrievalConfig


@dataclasses.dataclass
class PipelineConfig:
    """Everything `recsys train ...` needs (a config file's tables mirror this nesting).

    Attributes:
      data: Dataset and split (temporal by default: no future in training).
      retrieval: The two-tower stage.
      ranking: The ranking stage.
      run_dir: Where each stage's run folder goes (`<run_dir>/<stage>`: config, metrics,
        vocabularies, TensorBoard logs, embeddings).
      export_dir: Where SavedModels go (`<export_dir>/<model>/<version>`), with the user
        profile table beside them.
      k: Movies the composite `recommender` returns per user.
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    ranking: RankingConfig = dataclasses.field(default_factory=RankingConfig)
    run_dir: str = "runs"
    export_dir: str = "models"
    k: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.retrieval.index.k:
            raise ConfigError(
                f"k={self.k}: expected 1 <= k <= retrieval.index.k={self.retrieval.index.k}"
            )
