"""The one config of every job: data, both stages, where runs and models go."""

from __future__ import annotations

import dataclasses

from core.config import ConfigError, DataConfig
from ranking.config import RankingConfig
from retrieval.config import RetrievalConfig


@dataclasses.dataclass
class GateConfig:
    """The export gate (pipelines.gate).

    Attributes:
      margin: How much worse (relative) than the last blessed model on the same data a new
        one may be and still be exported; 0.02 = 2 %, about the noise between two runs.
      force: Export even when the gate refuses for that reason (the decision says so); a
        model with non-finite metrics is never exported.
    """

    margin: float = 0.02
    force: bool = False


@dataclasses.dataclass
class PipelineConfig:
    """Everything `recsys train ...` needs (a config file's tables mirror this nesting).

    Attributes:
      data: Dataset and split (temporal by default: no future in training).
      retrieval: The two-tower stage.
      ranking: The ranking stage.
      run_dir: Runs folder: `recsys train` makes `<run_dir>/<time>-<dataset>-<split>/` per
        run (`<run_dir>/latest` points at the newest) holding `run.json` (data, lineage,
        metrics, gate decisions, exports) and a folder per stage (config, vocabularies,
        metrics, blessing.json, TensorBoard logs, embeddings). Jobs called directly
        write their stages into `run_dir` itself.
      export_dir: Where SavedModels go (`<export_dir>/<model>/<version>`), with the user
        profile table beside them.
      k: Movies the composite `recommender` returns per user.
      gate: When a trained model may be exported.
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    ranking: RankingConfig = dataclasses.field(default_factory=RankingConfig)
    run_dir: str = "runs"
    export_dir: str = "models"
    k: int = 10
    gate: GateConfig = dataclasses.field(default_factory=GateConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.retrieval.index.k:
            raise ConfigError(
                f"k={self.k}: expected 1 <= k <= retrieval.index.k={self.retrieval.index.k}"
            )
