"""Predict prices for validated rows, with the interval and the version that every response carries."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from modelrepo import to_frame

from .errors import InputError
from .loader import ServedModel
from .validation import Row, Validator, range_warnings


@dataclass(frozen=True)
class Estimate:
    """One price: the point estimate and an interval from the cross-validated residuals, in dollars."""

    price: float
    low: float
    high: float
    level: float
    model_version: str
    model_commit: str
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Predictor:
    """The one place where rows become prices; every surface calls it."""

    def __init__(self, served: ServedModel, *, max_rows: int) -> None:
        self.served = served
        self.validator = Validator.for_schema(served.schema, max_rows=max_rows, examples=served.examples[:1])
        interval = served.metrics.interval
        self._low, self._high, self._level = math.exp(interval.log_low), math.exp(interval.log_high), interval.level

    def predict(self, raw: Mapping[str, Any]) -> Estimate:
        """Validate one house and price it. Raises InputError naming each bad field."""
        return self.predict_rows([self.validator.row(raw)])[0]

    def predict_rows(self, rows: Sequence[Row]) -> list[Estimate]:
        """Price rows that already passed validation, in one call to the model."""
        prices = self.served.model.predict(to_frame(rows, self.served.schema))
        return [self._estimate(float(price), row) for price, row in zip(prices, rows, strict=True)]

    def predict_batch(self, raws: Sequence[Any]) -> list[Estimate | InputError]:
        """Validate each row on its own; good rows are priced, bad rows keep their error (in order)."""
        checked = self.validator.rows(raws)
        good = [row for row in checked if not isinstance(row, InputError)]
        estimates = iter(self.predict_rows(good)) if good else iter(())
        return [row if isinstance(row, InputError) else next(estimates) for row in checked]

    def info(self) -> dict[str, Any]:
        served = self.served
        cv = served.metrics.cross_validation.without_outliers
        return {
            "model_version": served.version,
            "model_commit": served.commit,
            "source": served.store_description,
            "offline": served.snapshot.offline,
            "created_at": served.manifest.created_at.isoformat(),
            "code_commit": served.manifest.code_commit,
            "library_versions": served.manifest.library_versions,
            "data": served.manifest.data.model_dump(),
            "target": served.schema.target.model_dump(),
            "metrics": {
                "cv_rmse_log": cv["rmse_log"].mean,
                "cv_mape": cv["mape"].mean,
                "cv_mae": cv["mae"].mean,
                "cv_r2": cv["r2"].mean,
                "holdout_rmse_log": served.metrics.holdout.without_outliers["rmse_log"],
                "interval_level": served.metrics.interval.level,
            },
            "max_batch_rows": self.validator.max_rows,
            "features": [feature.model_dump(mode="json") for feature in served.schema.by_importance()],
        }

    def _estimate(self, price: float, row: Row) -> Estimate:
        return Estimate(
            price=price,
            low=price * self._low,
            high=price * self._high,
            level=self._level,
            model_version=self.served.version,
            model_commit=self.served.commit,
            warnings=range_warnings(row, self.served.schema),
        )
