"""Why this price, for people: each feature's effect in log price, as a percentage and in dollars.

The engine's attributions (`engine.shapley`) are additive in log price: `base_log_price + Σ log_effect` is the
log of the price. A feature's `percent` is what its effect alone multiplies the price by (e^effect − 1). Its
`dollars` come from walking from the base price to the price through the effects in the order listed (largest
first), each multiplying the running price: so the dollars add up, with the base price, to the price, and the
chart on the page is that walk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine.shapley import ModelAttribution


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: Any  # the house's value of the feature, as sent (codes, not labels); an engineered one's, computed
    log_effect: float
    percent: float
    dollars: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": self.value,
            "log_effect": self.log_effect,
            "percent": self.percent,
            "dollars": self.dollars,
        }


@dataclass(frozen=True)
class Explanation:
    base_log_price: float  # the average log price the model predicts over its training data
    contributions: list[Contribution]  # every feature the model reads, largest effect first

    @property
    def base_price(self) -> float:
        return math.exp(self.base_log_price)

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_log_price": self.base_log_price,
            "base_price": self.base_price,
            "contributions": [contribution.as_dict() for contribution in self.contributions],
        }


def explain_rows(attribution: ModelAttribution, rows: Sequence[Mapping[str, Any]]) -> list[Explanation]:
    """One explanation per validated row, its effects sorted by size (ties in the model's feature order)."""
    layout = attribution.model.layout
    numbers, slots = layout.arrays(rows)
    attributions = attribution.explain_arrays(numbers, slots)
    engineered = {column.name: layout.numeric.index(column.name) for column in layout.derived}
    explanations = []
    for n, (row, effects) in enumerate(zip(rows, attributions.contributions, strict=True)):
        order = np.argsort(-np.abs(effects), kind="stable")
        running = math.exp(attributions.base)
        contributions = []
        for index in order.tolist():
            effect = float(effects[index])
            after = running * math.exp(effect)
            name = attribution.features[index]
            value = _as_number(numbers[n, engineered[name]]) if name in engineered else row.get(name)
            contributions.append(Contribution(name, value, effect, math.expm1(effect) * 100, after - running))
            running = after
        explanations.append(Explanation(attributions.base, contributions))
    return explanations


def _as_number(value: float) -> float | int:
    """An engineered value as JSON shows it: 2,450 rather than 2450.0 for a whole number."""
    return int(value) if float(value).is_integer() else float(value)
