"""Drift: the population stability index of each feature and of the prediction over recent traffic.

Live rows are binned exactly as training binned its data (`modelrepo.reference`), so the two profiles compare
bin for bin. PSI below 0.1 is stable, 0.1 to 0.25 worth watching, above 0.25 drift.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelrepo import Schema
from modelrepo.reference import (
    MISSING,
    OTHER,
    NumericProfile,
    Reference,
    category_profile,
    numeric_profile,
    population_stability_index,
)

from .validation import Row

WATCH_THRESHOLD = 0.1
DRIFT_THRESHOLD = 0.25
PREDICTION = "prediction"
COLLECTING = "collecting"  # too few rows in the window for the index to mean anything


def level(psi: float) -> str:
    if psi > DRIFT_THRESHOLD:
        return "drift"
    return "watch" if psi >= WATCH_THRESHOLD else "stable"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    level: str


@dataclass(frozen=True)
class DriftReport:
    """PSI per feature, worst first. Below `min_rows` the figures are noise: `enough` is false and every level
    is `collecting`."""

    window_rows: int
    window_size: int
    min_rows: int
    features: list[FeatureDrift]

    @property
    def enough(self) -> bool:
        return self.window_rows >= self.min_rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_rows": self.window_rows,
            "window_size": self.window_size,
            "min_rows": self.min_rows,
            "enough_rows": self.enough,
            "thresholds": {"watch": WATCH_THRESHOLD, "drift": DRIFT_THRESHOLD},
            "features": [asdict(item) for item in self.features],
        }


@dataclass(frozen=True)
class Bin:
    label: str
    training: float
    live: float


@dataclass(frozen=True)
class BinCount:
    label: str
    training: float  # the share of training rows in the bin
    rows: int  # rows of the window in the bin


class DriftMonitor:
    """A sliding window of the most recent rows and prices, compared with the training profile on demand."""

    def __init__(self, reference: Reference, schema: Schema, *, window: int = 1000, min_rows: int = 100) -> None:
        self.reference, self.schema = reference, schema
        self.window, self.min_rows = window, min(min_rows, window)
        self._rows: deque[tuple[Row, float]] = deque(maxlen=window)
        self._lock = threading.Lock()
        self._seen = 0
        self._cached: tuple[int, DriftReport] | None = None

    def observe(self, rows: Sequence[Row], prices: Sequence[float]) -> None:
        with self._lock:
            self._rows.extend(zip(rows, prices, strict=True))
            self._seen += len(rows)

    def report(self) -> DriftReport:
        """Recomputed only when rows arrived since the last call (a few ms per hundred features)."""
        with self._lock:
            seen, window = self._seen, list(self._rows)
            if self._cached and self._cached[0] == seen:
                return self._cached[1]
        enough = len(window) >= self.min_rows
        items = [
            FeatureDrift(name, psi, level(psi) if enough else COLLECTING) for name, psi in self._scores(window).items()
        ]
        items.sort(key=lambda item: (-item.psi, item.feature))
        report = DriftReport(len(window), self.window, self.min_rows, items)
        with self._lock:
            self._cached = (seen, report)
        return report

    def distribution(self, feature: str) -> list[Bin]:
        """Training and live shares per bin of one feature (or `prediction`), for a plot."""
        with self._lock:
            window = list(self._rows)
        return self._bins(feature, window)

    def bin_counts(self) -> dict[str, list[BinCount]]:
        """Per feature (and `prediction`), the window's rows in each training bin: what replicas export so that a
        fleet's PSI is the PSI of their summed counts (one replica's shares cannot be averaged into it)."""
        with self._lock:
            window = list(self._rows)
        features = [*self.reference.categorical, *self.reference.numeric, PREDICTION]
        # A live share is a count over the window's length, so share × length is that count again.
        return {
            feature: [BinCount(b.label, b.training, round(b.live * len(window))) for b in self._bins(feature, window)]
            for feature in features
        }

    def _bins(self, feature: str, window: list[tuple[Row, float]]) -> list[Bin]:
        values = [price for _, price in window] if feature == PREDICTION else [row.get(feature) for row, _ in window]
        if feature in self.reference.categorical:
            expected = self.reference.categorical[feature].frequencies
            live = _category_shares(values, expected)
            return [Bin(name, share, live[name]) for name, share in expected.items()]
        profile = self.reference.prediction if feature == PREDICTION else self.reference.numeric[feature]
        live_profile = numeric_profile(_floats(values), profile.edges)
        labels = [*_bin_labels(profile.edges), "missing"]
        training = [*profile.frequencies, profile.missing]
        current = [*live_profile.frequencies, live_profile.missing]
        return [Bin(label, t, c) for label, t, c in zip(labels, training, current, strict=True)]

    def _scores(self, window: list[tuple[Row, float]]) -> dict[str, float]:
        scores: dict[str, float] = {}
        if not window:
            return scores
        for name, categorical in self.reference.categorical.items():
            live = _category_shares([row.get(name) for row, _ in window], categorical.frequencies)
            scores[name] = population_stability_index(list(categorical.frequencies.values()), list(live.values()))
        for name, numeric in self.reference.numeric.items():
            scores[name] = _numeric_psi(numeric, [row.get(name) for row, _ in window])
        scores[PREDICTION] = _numeric_psi(self.reference.prediction, [price for _, price in window])
        return scores


def _numeric_psi(profile: NumericProfile, values: list[Any]) -> float:
    live = numeric_profile(_floats(values), profile.edges)
    return population_stability_index([*profile.frequencies, profile.missing], [*live.frequencies, live.missing])


def _category_shares(values: list[Any], expected: dict[str, float]) -> dict[str, float]:
    known = [name for name in expected if name not in (MISSING, OTHER)]
    shares = category_profile(values, known).frequencies
    return {name: shares.get(name, 0.0) for name in expected}


def _floats(values: list[Any]) -> np.ndarray:
    return np.array([np.nan if value is None else float(value) for value in values], dtype=float)


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all values"]
    text = [_short(edge) for edge in edges]
    return [f"≤ {text[0]}", *(f"{low} – {high}" for low, high in zip(text, text[1:], strict=False)), f"> {text[-1]}"]


def _short(value: float) -> str:
    """215k rather than 2.15e+05; 1,300 and 1990 as they are; 0.35 for fractions."""
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"
