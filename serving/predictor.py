"""Predict prices for validated rows, with the interval and the version that every response carries."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from modelrepo import Feature

from . import validation
from .errors import ExplanationUnavailableError, InputError, TooLargeError
from .explanation import explain_rows
from .loader import ServedModel
from .monitor import Monitor
from .ranges import Ranges
from .results import BatchEstimates, Estimate, ExplainedEstimate, new_request_id
from .validation import Row, Validator, batch_range_warnings, observed_ranges

__all__ = ["BatchEstimates", "Estimate", "Predictor", "new_request_id"]

#: Comparable sales returned with an explanation.
COMPARABLES = 5


class Predictor:
    """The one place where rows become prices; every surface calls it, and every call is monitored."""

    def __init__(self, served: ServedModel, *, max_rows: int, monitor: Monitor) -> None:
        self.served, self.monitor = served, monitor
        self.validator = Validator.for_schema(served.schema, max_rows=max_rows, examples=served.examples[:1])
        self._ranges = observed_ranges(served.schema)
        self.price_ranges = Ranges.of(served.metrics)

    def predict(self, raw: Mapping[str, Any], *, surface: str) -> Estimate:
        """Validate one house and price it. Raises InputError naming each bad field."""
        started = time.perf_counter()
        with self._refusals_counted(surface):
            row = self.validator.row(raw)
        return self.predict_row(row, surface=surface, started=started)

    def predict_row(self, row: Row, *, surface: str, started: float | None = None) -> Estimate:
        """Price one row that already passed validation (REST validates with the same model first)."""
        started = time.perf_counter() if started is None else started
        (result,) = self._price([row], [new_request_id()], surface=surface)
        if isinstance(result, InputError):
            self.monitor.rejected(surface, "invalid")
            raise result
        self.monitor.priced(surface, [row], [result], seconds=time.perf_counter() - started, batch=False)
        return result

    def explain(self, raw: Mapping[str, Any], *, surface: str) -> ExplainedEstimate:
        """Validate and price one house, with each feature's effect and the most comparable sales.

        Raises:
            InputError: a bad field. ExplanationUnavailableError: this model version cannot be explained.
        """
        started = time.perf_counter()
        with self._refusals_counted(surface):
            row = self.validator.row(raw)
        return self.explain_row(row, surface=surface, started=started)

    def explain_row(self, row: Row, *, surface: str, started: float | None = None) -> ExplainedEstimate:
        attribution = self.served.attribution
        if attribution is None:
            self.monitor.rejected(surface, "unavailable")
            raise ExplanationUnavailableError(self.served.explanations_unavailable)
        estimate = self.predict_row(row, surface=surface, started=started)
        (explanation,) = explain_rows(attribution, [row])
        sales = self.served.comparables
        comparables = [sale.as_dict() for sale in sales.nearest(row, COMPARABLES)] if sales is not None else []
        return ExplainedEstimate(estimate, explanation, comparables)

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
        priced = self._price([row for _, row in good], [f"{base}-{n}" for n, _ in good], surface=surface)
        results: list[Estimate | InputError] = list(checked)  # type: ignore[arg-type]
        for (n, _), result in zip(good, priced, strict=True):
            results[n - 1] = result.labelled(f"row {n}: ") if isinstance(result, InputError) else result
        kept = [(row, result) for (_, row), result in zip(good, priced, strict=True) if isinstance(result, Estimate)]
        if kept:
            rows, estimates = zip(*kept, strict=True)
            self.monitor.priced(surface, rows, estimates, seconds=time.perf_counter() - started, batch=True)
        else:
            self.monitor.rejected(surface, "invalid")
        return BatchEstimates(base, results)

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
            "source": served.public_source,
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
                "interval_level": self.price_ranges.levels[0],
            },
            "intervals": self.price_ranges.info(),
            "engine": served.engine.name,
            "engine_reason": served.engine.reason,
            "explanations": served.attribution is not None,
            "comparables": len(served.comparables) if served.comparables is not None else 0,
            "explanations_unavailable": served.explanations_unavailable or None,
            "max_batch_rows": self.validator.max_rows,
            "features": [_feature_info(feature) for feature in served.schema.by_importance()],
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

    def _price(self, rows: Sequence[Row], ids: Sequence[str], *, surface: str) -> list[Estimate | InputError]:
        """An Estimate per row, or an InputError for a row whose price or any range's end is not a finite positive
        number: whatever the model does with a strange but accepted house, no surface returns such a price."""
        ranges, engine = self.price_ranges, self.served.engine.engine
        try:
            if ranges.needs_spread:
                prices, spreads = engine.predict_with_spread(rows)
            else:
                prices, spreads = engine.predict(rows), np.zeros(len(rows))
        except Exception:
            self.monitor.rejected(surface, "error")  # a bug, not bad input: counted so that alerts see it
            raise
        warnings = batch_range_warnings(rows, self._ranges)
        version, commit = self.served.version, self.served.commit
        results: list[Estimate | InputError] = []
        for price, spread, request_id, warned in zip(prices.tolist(), spreads.tolist(), ids, warnings, strict=True):
            try:
                bands = ranges.bands(price, spread)
            except OverflowError:  # members so far apart that exp(q·σ) leaves the floats
                bands = ()
            if not bands or not all(0 < band.low <= price <= band.high < math.inf for band in bands):
                results.append(InputError([_unpriceable(price, spread)]))
                continue
            low, high, level = bands[0].low, bands[0].high, bands[0].level
            results.append(Estimate(price, low, high, level, version, commit, request_id, warned, bands))
        return results


def _unpriceable(price: float, spread: float) -> str:
    if 0 < price < math.inf:  # the price is fine, its range's ends are not
        what = f"is {price!r}, but its range is not a finite positive price range (its parts disagree by {spread!r})"
    else:
        what = f"is {price!r}, not a finite positive price"
    return (
        f"the model's estimate for this house {what}, so none is returned; "
        "check the values against the training ranges in GET /api/v1/model"
    )


def _feature_info(feature: Feature) -> dict[str, Any]:
    """The schema's entry, with the accepted range filled in for schemas written before training stored it."""
    info = feature.model_dump(mode="json")
    if feature.accepted_range is not None:
        info["accepted_minimum"], info["accepted_maximum"] = feature.accepted_range
    return info
