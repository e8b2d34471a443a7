"""No surface ever returns a price, or an end of a range, that is not a finite positive number, whatever the engine
says."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelrepo import Snapshot
from serving import InputError, Predictor, ServingSettings, load_served_model
from serving.engine import EngineChoice
from serving.monitor import Monitor


@dataclasses.dataclass(frozen=True)
class FixedPrices:
    """An engine that answers the given prices in turn (what a broken model could return), its parts disagreeing
    by `spread` in log price."""

    prices: tuple[float, ...]
    spread: float = 0.05

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.array([self.prices[n % len(self.prices)] for n in range(len(rows))])

    def predict_with_spread(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        return self.predict(rows), np.full(len(rows), self.spread)


@pytest.fixture
def predictor_with(production: Snapshot, tmp_path: Path) -> Any:
    settings = ServingSettings(registry=production.folder.parent, log_dir=tmp_path / "logs")
    served = load_served_model(settings)

    def build(*prices: float, spread: float = 0.05) -> Predictor:
        variant = dataclasses.replace(served, engine=EngineChoice(FixedPrices(prices, spread), "compiled", "test"))
        return Predictor(variant, max_rows=10, monitor=Monitor(variant, settings))

    return build


@pytest.mark.parametrize("price", [np.inf, -np.inf, np.nan, 0.0, -5.0, 1.7e308])  # the last: its high end overflows
def test_a_price_that_is_not_finite_and_positive_is_refused(predictor_with: Any, price: float) -> None:
    predictor = predictor_with(price)
    with pytest.raises(InputError, match="not a finite positive price"):
        predictor.predict({}, surface="rest")
    predictor.monitor.close()


def test_in_a_batch_only_that_row_carries_the_error(predictor_with: Any) -> None:
    predictor = predictor_with(180_000.0, np.inf, 95_000.0)
    results = predictor.predict_batch([{}, {}, {}], surface="rest").results
    assert [type(result).__name__ for result in results] == ["Estimate", "InputError", "Estimate"]
    assert str(results[1]).startswith("row 2: the model's estimate for this house is inf")
    assert all(0 < r.low <= r.price <= r.high < np.inf for r in results if not isinstance(r, InputError))
    predictor.monitor.close()


@pytest.mark.parametrize("spread", [1e6, np.inf, np.nan])  # 1e6: exp(q·σ) overflows
def test_a_range_that_is_not_finite_is_refused_with_its_price(predictor_with: Any, spread: float) -> None:
    predictor = predictor_with(180_000.0, spread=spread)
    with pytest.raises(InputError, match=r"is 180000.0, but its range is not a finite positive price range"):
        predictor.predict({}, surface="rest")
    predictor.monitor.close()


def test_every_range_holds_the_price(predictor_with: Any) -> None:
    predictor = predictor_with(180_000.0)
    estimate = predictor.predict({}, surface="rest")
    assert [band.level for band in estimate.intervals] == [0.8, 0.95]
    (narrow, wide) = estimate.intervals
    assert (estimate.low, estimate.high, estimate.level) == (narrow.low, narrow.high, 0.8)
    assert wide.low < narrow.low < estimate.price < narrow.high < wide.high
    predictor.monitor.close()
