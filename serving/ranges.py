"""The price ranges every response carries: a version's conformal ranges, or an old version's one fixed band.

A version trained with conformal ranges (`metrics.json` → `intervals`) gives each house an 80% and a 95% range
from its price and the disagreement of the model's members (`Calibration.bands`); an older version gives the one
80% band it shipped, the same share of the price for every house, exactly as it was served before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from modelrepo.metrics import Calibration, Intervals, Metrics, Normaliser

from .results import Band

NO_WIDE_RANGE = (
    "this version was trained before conformal ranges: it has only its 80% range (quantiles of cross-validated "
    "residuals, the same share of the price for every house) and no 95% range"
)


@dataclass(frozen=True)
class Ranges:
    """How one version turns a price (and its members' spread) into ranges, narrowest first."""

    intervals: Intervals | None
    legacy: Band  # the fixed band as factors of the price: (level, exp(log_low), exp(log_high))

    @classmethod
    def of(cls, metrics: Metrics) -> Ranges:
        interval = metrics.interval
        return cls(metrics.intervals, Band(interval.level, math.exp(interval.log_low), math.exp(interval.log_high)))

    @property
    def calibration(self) -> Calibration | None:
        return self.intervals.calibration if self.intervals is not None else None

    @property
    def needs_spread(self) -> bool:
        """Whether a price's ranges depend on the members' spread (else the engine need not compute it)."""
        calibration = self.calibration
        return calibration is not None and calibration.normaliser is Normaliser.MEMBER_SPREAD

    @property
    def levels(self) -> list[float]:
        calibration = self.calibration
        if calibration is None:
            return [self.legacy.level]
        return [quantiles.level for quantiles in calibration.levels.values()]

    def bands(self, price: float, spread: float) -> tuple[Band, ...]:
        calibration = self.calibration
        if calibration is None:
            return (Band(self.legacy.level, price * self.legacy.low, price * self.legacy.high),)
        return tuple(Band(level, low, high) for level, low, high in calibration.bands(price, spread))

    def info(self) -> dict[str, Any]:
        """What GET /api/v1/model says about the ranges: levels, how they were calibrated, how they held."""
        if self.intervals is None:
            return {"levels": self.levels, "conformal": False, "note": NO_WIDE_RANGE}
        return {
            "levels": self.levels,
            "conformal": True,
            "note": None,
            "method": self.intervals.method,
            "calibration": self.intervals.calibration.model_dump(mode="json"),
            "holdout": self.intervals.holdout.model_dump(mode="json"),
        }
