"""`reference.json`: the training profile that live traffic is compared with to detect drift.

Training and serving bin values with the same functions here, so that the two profiles are comparable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .document import ContractFile, ContractModel
from .files import REFERENCE_FILE

MISSING = "__missing__"
OTHER = "__other__"
_EPSILON = 1e-4


class NumericProfile(ContractModel):
    """Inner bin edges (deciles of the training data) and the share of rows in each bin, plus missing."""

    edges: list[float]
    frequencies: list[float]
    missing: float


class CategoryProfile(ContractModel):
    """Share of rows per category; `__missing__` for empty cells, `__other__` for unseen categories."""

    frequencies: dict[str, float]


class Reference(ContractFile):
    FILE_NAME = REFERENCE_FILE

    rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoryProfile]
    prediction: NumericProfile


def decile_edges(values: Sequence[float]) -> list[float]:
    """Distinct deciles: a skewed or discrete feature gets fewer, never empty, bins."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return []
    return [float(edge) for edge in np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9)))]


def numeric_profile(values: Sequence[float] | np.ndarray, edges: Sequence[float]) -> NumericProfile:
    """Bin values as (-inf, e1], (e1, e2], …, (ek, inf); missing values are counted apart."""
    array = np.asarray(values, dtype=float)
    present = array[np.isfinite(array)]
    counts = np.bincount(np.searchsorted(np.asarray(edges), present, side="left"), minlength=len(edges) + 1)
    total = max(array.size, 1)
    return NumericProfile(
        edges=list(edges),
        frequencies=[float(count) / total for count in counts],
        missing=float(array.size - present.size) / total,
    )


def category_profile(values: Iterable[object], known: Iterable[str]) -> CategoryProfile:
    """Shares of each known category, with `__missing__` and `__other__` always present."""
    counts = dict.fromkeys([*known, MISSING, OTHER], 0)
    total = 0
    for value in values:
        total += 1
        key = MISSING if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        counts[key if key in counts else OTHER] += 1
    return CategoryProfile(frequencies={key: count / max(total, 1) for key, count in counts.items()})


def population_stability_index(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI = Σ (a − e) · ln(a / e), with empty bins floored so that the index stays finite."""
    e = np.clip(np.asarray(expected, dtype=float), _EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))
