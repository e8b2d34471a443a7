"""`metrics.json`: cross-validated and holdout figures, the split recipe, and the prediction interval."""

from __future__ import annotations

from .document import ContractFile, ContractModel
from .files import METRICS_FILE

#: The metric the promotion gate compares: RMSE of the natural log of the price (lower is better).
PRIMARY_METRIC = "rmse_log"


class Summary(ContractModel):
    mean: float
    std: float
    per_fold: list[float] = []  # in fold order; absent from versions written before it was recorded


class CrossValidation(ContractModel):
    folds: int
    random_state: int
    without_outliers: dict[str, Summary]
    with_outliers: dict[str, Summary]


class Holdout(ContractModel):
    fraction: float
    random_state: int
    rows: int
    without_outliers: dict[str, float]
    with_outliers: dict[str, float]


class Interval(ContractModel):
    """Multiply the point estimate by exp(low) and exp(high) for a `level` prediction interval."""

    level: float
    log_low: float
    log_high: float
    source: str


class Metrics(ContractFile):
    FILE_NAME = METRICS_FILE

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
