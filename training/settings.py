"""Options of one training run, with defaults read once from the environment (the Spaces way)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .data import AMES_CSV, AMES_FEATURE_DOCS, AMES_ID_COLUMNS, AMES_TARGET
from .gate import DEFAULT_TOLERANCE
from .pipeline import ModelConfig


@dataclass(frozen=True)
class TrainOptions:
    data: Path = AMES_CSV
    target: str = AMES_TARGET
    drop: tuple[str, ...] = AMES_ID_COLUMNS
    feature_docs: Path | None = AMES_FEATURE_DOCS
    outlier_column: str = "Gr Liv Area"
    outlier_above: float = 4000.0
    keep_outliers: bool = False
    folds: int = 5
    holdout_fraction: float = 0.2
    importance_repeats: int = 5
    model: ModelConfig = field(default_factory=ModelConfig)
    quick: bool = False
    output: Path = Path("build/model")
    registry: Path = Path("registry")
    repo_id: str | None = None
    private: bool = False
    token: str | None = None
    publish: bool = True
    promote: bool = True
    force: bool = False
    comparables: bool = True  # write comparables.csv (the fitted training sales, shown as comparable sales)
    tolerance: float = DEFAULT_TOLERANCE
    model_name: str = "Ames house price estimator"
    dataset_id: str = "ames-housing"
    dataset_repo: str | None = None  # publish the training table as this Hub dataset (once per content)
    mlflow_uri: str | None = None  # track the run in MLflow there (the mlflow extra)
    mlflow_experiment: str = "ames-house-price"

    @property
    def is_ames(self) -> bool:
        return self.data.resolve() == AMES_CSV


def environment_defaults(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """CLI defaults that come from the environment: MODEL_REGISTRY, MODEL_REPO and HF_TOKEN."""
    env = os.environ if environ is None else environ
    return {
        "registry": Path(env.get("MODEL_REGISTRY") or "registry"),
        "repo_id": env.get("MODEL_REPO") or None,
        "token": env.get("HF_TOKEN") or None,
        "mlflow_uri": env.get("MLFLOW_TRACKING_URI") or None,
        "dataset_repo": env.get("DATASET_REPO") or None,
    }
