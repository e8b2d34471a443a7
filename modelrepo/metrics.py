"""`metrics.json`: cross-validated and holdout figures, the split recipe, and the prediction interval."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .files import METRICS_FILE
from .schema import read_model_file

#: The metric the promotion gate compares: RMSE of the natural log of the price (lower is better).
PRIMARY_METRIC = "rmse_log"


class Summary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: float
    std: float


class CrossValidation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    folds: int
    random_state: int
    without_outliers: dict[str, Summary]
    with_outliers: dict[str, Summary]


class Holdout(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fraction: float
    random_state: int
    rows: int
    without_outliers: dict[str, float]
    with_outliers: dict[str, float]


class Interval(BaseModel):
    """Multiply the point estimate by exp(low) and exp(high) for a `level` prediction interval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: float
    log_low: float
    log_high: float
    source: str


class Metrics(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    unit: str
    training_rows: int
    outlier_rule: str | None
    outliers_removed: int
    cross_validation: CrossValidation
    holdout: Holdout
    interval: Interval

    @property
    def primary(self) -> float:
        """Cross-validated RMSE of log price on test folds without outliers: what the gate compares."""
        return self.cross_validation.without_outliers[PRIMARY_METRIC].mean

    def write(self, folder: Path) -> Path:
        path = folder / METRICS_FILE
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, folder: Path) -> Metrics:
        return read_model_file(cls, folder / METRICS_FILE)
