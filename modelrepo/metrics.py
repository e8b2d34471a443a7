"""`metrics.json`: cross-validated and holdout figures, the split recipe, and the prediction intervals."""

from __future__ import annotations

import math
from enum import StrEnum

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
    """One fixed band for every house: multiply the point estimate by exp(low) and exp(high) for a `level`
    prediction interval. Every version has it; versions with `Metrics.intervals` serve those instead."""

    level: float
    log_low: float
    log_high: float
    source: str


class Normaliser(StrEnum):
    """What σ(x), the scale of a house's residual, is."""

    MEMBER_SPREAD = "member_spread"  # the blend's members' disagreement in log price (max − min), plus beta
    CONSTANT = "constant"  # 1 for every house: plain split conformal, one relative width for all


class LevelQuantiles(ContractModel):
    """Conformal quantiles of the normalised log residual (log y − log ŷ) / σ for one level."""

    level: float
    q_low: float
    q_high: float


class Calibration(ContractModel):
    """How to turn a price and its members' spread into ranges: low = ŷ·exp(q_low·σ), high = ŷ·exp(q_high·σ)."""

    normaliser: Normaliser
    beta: float  # added to the spread (member_spread); 0 and unused for a constant σ
    rows: int  # the out-of-fold predictions the quantiles come from
    levels: dict[str, LevelQuantiles]  # keyed by the level in percent ("80", "95"), narrowest first

    def sigma(self, spread: float) -> float:
        """σ(x) of one house from the spread of its members' log predictions."""
        return spread + self.beta if self.normaliser is Normaliser.MEMBER_SPREAD else 1.0

    def bands(self, price: float, spread: float) -> list[tuple[float, float, float]]:
        """(level, low, high) per level, in the price's unit, with `math.exp`: the same bits for a row alone or in
        a batch, on every surface."""
        sigma = self.sigma(spread)
        return [
            (quantiles.level, price * math.exp(quantiles.q_low * sigma), price * math.exp(quantiles.q_high * sigma))
            for quantiles in self.levels.values()
        ]


class CoverageCell(ContractModel):
    """How often the ranges held on a set of holdout sales, and how wide they were."""

    rows: int
    coverage: float  # share of the sales whose price fell inside their range
    mean_width: float  # mean of (high − low) / estimated price: a share of the estimate
    mean_width_amount: float  # mean of high − low, in the target's unit
    price_from: float | None = None  # a price quintile's bounds (estimated price)
    price_to: float | None = None


class LevelCoverage(ContractModel):
    overall: CoverageCell  # ordinary holdout sales (outliers excluded, as from fitting and calibration)
    with_outliers: CoverageCell  # every holdout sale
    by_price_quintile: dict[str, CoverageCell]  # "1" (cheapest fifth of estimates) to "5"
    by_group: dict[str, CoverageCell]  # the largest groups (`HoldoutIntervals.group_column`), largest first


class HoldoutIntervals(ContractModel):
    """Measured honestly: calibrated by cross-validation inside the training split only, scored on the holdout."""

    calibration: Calibration
    rows: int
    group_column: str | None  # "Neighborhood", or None when the table has no such column
    levels: dict[str, LevelCoverage]  # keyed as `Calibration.levels`


class Intervals(ContractModel):
    """Conformalised ranges: `calibration` is what serving applies to the shipped model, `holdout` how it held."""

    method: str
    calibration: Calibration
    holdout: HoldoutIntervals


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
    intervals: Intervals | None = None  # absent from versions written before conformal ranges

    @property
    def primary(self) -> float:
        """Cross-validated RMSE of log price on test folds without outliers: what the gate compares."""
        return self.cross_validation.without_outliers[PRIMARY_METRIC].mean


def level_key(level: float) -> str:
    """0.8 → "80", 0.95 → "95", 0.975 → "97.5": how `Calibration.levels` and the coverage tables are keyed."""
    return f"{level * 100:.10g}"
