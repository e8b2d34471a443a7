"""Predict prices for validated rows, with the interval and the version that every response carries."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from . import validation
from .errors import InputError, TooLargeError
from .loader import ServedModel
from .monitor import Monitor
from .results import BatchEstimates, Estimate, new_request_id
from .validation import Row, Validator, batch_range_warnings, observed_ranges

__all__ = ["BatchEstimates", "Estimate", "Predictor", "new_request_id"]


class Predictor:
    """The one place where rows become prices; every surface calls it, and every call is monitored."""

    def __init__(self, served: ServedModel, *, max_rows: int, monitor: Monitor) -> None:
        self.served, self.monitor = served, monitor
        self.validator = Validator.for_schema(served.schema, max_rows=max_rows, examples=served.examples[:1])
        self._ranges = observed_ranges(served.schema)
        interval = served.metrics.interval
        self._low, self._high, self._level = math.exp(interval.log_low), math.exp(interval.log_high), interval.level

    def predict(self, raw: Mapping[str, Any], *, surface: str) -> Estimate:
        """Validate one house and price it. Raises InputError naming each bad field."""
        started = time.perf_counter()
        with self._refusals_counted(surface):
            row = self.validator.row(raw)
        return self.predict_row(row, surface=surface, started=started)

    def predict_row(self, row: Row, *, surface: str, started: float | None = None) -> Estimate:
        """Price one row that already passed validation (REST validates with the same model first)."""
        started = time.perf_counter() if started is None else started
        estimate = self._price([row], [new_request_id()], surface=surface)
        self.monitor.priced(surface, [row], estimate, seconds=time.perf_counter() - started, batch=False)
        return estimate[0]

    def predict_batch(self, raws: Sequence[Any], *, surface: str) -> BatchEstimates:
        """Validate each row on its own; good rows are priced, bad rows keep their error (in order)."""
        started = time.perf_counter()
        with self._refusals_counted(surface):
            checked = self.validator.rows(raws)
        return self.price_batch(checked, surface=surface, started=started)

    def price_batch(
        self, checked: Sequence[Row | InputError], *, surface: str, started: float | None = None
    ) -> BatchEstimates:
        """Price the valid rows of a checked batch in one call to the model; the invalid ones keep their error."""
        started = time.perf_counter() if started is None else started
        base = new_request_id()
        good = [(n, row) for n, row in enumerate(checked, start=1) if not isinstance(row, InputError)]
        if not good:
            self.monitor.rejected(surface, "invalid")
            return BatchEstimates(base, [item for item in checked if isinstance(item, InputError)])
        rows = [row for _, row in good]
        priced = self._price(rows, [f"{base}-{n}" for n, _ in good], surface=surface)
        self.monitor.priced(surface, rows, priced, seconds=time.perf_counter() - started, batch=True)
        estimates = iter(priced)
        return BatchEstimates(base, [item if isinstance(item, InputError) else next(estimates) for item in checked])

    def csv_batch(self, content: bytes, *, surface: str) -> BatchEstimates:
        """A CSV upload: refused as a whole if it is not a readable CSV or too long, else like `predict_batch`."""
        with self._refusals_counted(surface):
            raws = self.validator.csv_rows(content)
        return self.predict_batch(raws, surface=surface)

    def feedback(self, request_id: Any, actual_price: Any, *, surface: str) -> dict[str, Any]:
        """Record the observed sale price of an earlier prediction. Raises InputError or UnknownRequestError."""
        with self._refusals_counted(surface):
            checked = validation.feedback({"request_id": request_id, "actual_price": actual_price})
        return self.record_feedback(checked, surface=surface)

    def record_feedback(self, checked: validation.Feedback, *, surface: str) -> dict[str, Any]:
        """Feedback that already passed validation (REST validates with the same model first)."""
        return self.monitor.feedback(checked.request_id, checked.actual_price, surface=surface)

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
            "engine": served.engine.name,
            "engine_reason": served.engine.reason,
            "max_batch_rows": self.validator.max_rows,
            "features": [feature.model_dump(mode="json") for feature in served.schema.by_importance()],
        }

    @contextmanager
    def _refusals_counted(self, surface: str) -> Iterator[None]:
        """Count a refused request by its reason, and let the error go on to the surface that shows it."""
        try:
            yield
        except TooLargeError:
            self.monitor.rejected(surface, "too_large")
            raise
        except InputError:
            self.monitor.rejected(surface, "invalid")
            raise

    def _price(self, rows: Sequence[Row], ids: Sequence[str], *, surface: str) -> list[Estimate]:
        try:
            prices = self.served.engine.engine.predict(rows)
        except Exception:
            self.monitor.rejected(surface, "error")  # a bug, not bad input: counted so that alerts see it
            raise
        warnings = batch_range_warnings(rows, self._ranges)
        version, commit, level = self.served.version, self.served.commit, self._level
        return [
            Estimate(price, price * self._low, price * self._high, level, version, commit, request_id, warned)
            for price, request_id, warned in zip(prices.tolist(), ids, warnings, strict=True)
        ]
