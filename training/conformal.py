"""Conformalised price ranges: split conformal on normalised out-of-fold log residuals, and how often they held.

A house's score is its signed log residual divided by σ(x), the scale the model expects for it: the disagreement
of the blend's members in log price (max − min) plus `beta`, the median disagreement of the calibration rows (a
rule fixed in advance, never tuned on the rows reported), or 1 for a model that is not a blend. The range's ends
are conformal quantiles of the scores at the finite-sample ranks ⌈(n+1)(1−α/2)⌉ and its mirror n+1−that, so each
tail misses at most α/2 of exchangeable new houses, and the range is as asymmetric as the residuals are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

from modelrepo.metrics import Calibration, CoverageCell, LevelCoverage, LevelQuantiles, Normaliser, level_key

from .errors import TrainingError

#: The levels of the ranges, narrowest first: serving shows the first one as `low`, `high`.
LEVELS = (0.8, 0.95)
#: The σ(x) rule, chosen by `benchmarks/intervals.py` (coverage by price quintile, spread against a constant σ).
NORMALISER = Normaliser.MEMBER_SPREAD
#: The column whose largest groups get a coverage row each, when the table has it.
GROUP_COLUMN = "Neighborhood"
GROUPS = 10
QUINTILES = 5


@dataclass(frozen=True)
class Scored:
    """Sale prices, estimates and the members' spread of the same rows (the spread is 0 without members)."""

    actual: np.ndarray
    predicted: np.ndarray
    spread: np.ndarray

    def subset(self, rows: np.ndarray) -> Scored:
        return Scored(self.actual[rows], self.predicted[rows], self.spread[rows])


def conformal_quantiles(scores: np.ndarray, level: float) -> tuple[float, float]:
    """The (lower, upper) conformal quantiles of `scores` for a central `level` range.

    Raises:
        TrainingError: too few scores for the level (the upper rank would pass the last score).
    """
    n = len(scores)
    tail = (1 - Fraction(repr(level))) / 2  # exact: 0.95 is 19/20, so the rank has no rounding error
    rank = math.ceil((n + 1) * (1 - tail))
    if rank > n:
        needed = math.ceil((1 - tail) / tail)
        raise TrainingError(
            f"{n} calibration rows are too few for a {level:.0%} range (at least {needed} are needed): "
            "train on a larger table or with fewer folds"
        )
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    return float(ordered[n - rank]), float(ordered[rank - 1])


def calibrate(scored: Scored, *, normaliser: Normaliser = NORMALISER, levels: Sequence[float] = LEVELS) -> Calibration:
    """Quantiles of the normalised log residuals of out-of-fold predictions (never of rows the model saw).

    A spread that is zero on most rows (members that agree) leaves no scale to normalise by: σ is then constant.
    """
    beta = float(np.median(scored.spread)) if len(scored.spread) else 0.0
    if normaliser is Normaliser.MEMBER_SPREAD and not beta > 0:
        normaliser = Normaliser.CONSTANT
    partial = Calibration(
        normaliser=normaliser,
        beta=beta if normaliser is Normaliser.MEMBER_SPREAD else 0.0,
        rows=len(scored.actual),
        levels={},
    )
    scores = (np.log(scored.actual) - np.log(scored.predicted)) / sigmas(partial, scored.spread)
    quantiles = {}
    for level in sorted(levels):
        low, high = conformal_quantiles(scores, level)
        quantiles[level_key(level)] = LevelQuantiles(level=level, q_low=low, q_high=high)
    return partial.model_copy(update={"levels": quantiles})


def sigmas(calibration: Calibration, spread: np.ndarray) -> np.ndarray:
    """σ(x) for many rows, as `Calibration.sigma` gives it for one."""
    if calibration.normaliser is Normaliser.MEMBER_SPREAD:
        return np.asarray(spread + calibration.beta, dtype=np.float64)
    return np.ones(len(spread))


def bounds(calibration: Calibration, scored: Scored, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of one level for many rows."""
    quantiles, sigma = calibration.levels[key], sigmas(calibration, scored.spread)
    return scored.predicted * np.exp(quantiles.q_low * sigma), scored.predicted * np.exp(quantiles.q_high * sigma)


def coverage_tables(
    calibration: Calibration, scored: Scored, *, ordinary: np.ndarray, groups: pd.Series | None
) -> dict[str, LevelCoverage]:
    """Per level: coverage and mean width on the ordinary rows overall, on every row, per quintile of the estimated
    price and for the largest groups (ordinary rows only; the groups' values are strings, missing as "missing")."""
    plain = scored.subset(ordinary)
    quintile = _quintiles(plain.predicted)
    labels = np.array([]) if groups is None else groups.astype("string").fillna("missing").to_numpy()[ordinary]
    largest = _largest(labels, GROUPS)
    tables = {}
    for key in calibration.levels:
        tables[key] = LevelCoverage(
            overall=_cell(calibration, plain, key),
            with_outliers=_cell(calibration, scored, key),
            by_price_quintile={
                str(n + 1): _cell(calibration, plain.subset(quintile == n), key, priced=True)
                for n in range(QUINTILES)
                if (quintile == n).any()  # ties on a tiny table may leave a fifth empty
            },
            by_group={name: _cell(calibration, plain.subset(labels == name), key) for name in largest},
        )
    return tables


def _cell(calibration: Calibration, scored: Scored, key: str, *, priced: bool = False) -> CoverageCell:
    low, high = bounds(calibration, scored, key)
    inside = (low <= scored.actual) & (scored.actual <= high)
    width = high - low
    return CoverageCell(
        rows=len(scored.actual),
        coverage=float(inside.mean()),
        mean_width=float(np.mean(width / scored.predicted)),
        mean_width_amount=float(width.mean()),
        price_from=float(scored.predicted.min()) if priced else None,
        price_to=float(scored.predicted.max()) if priced else None,
    )


def _quintiles(predicted: np.ndarray) -> np.ndarray:
    """0 (the cheapest fifth of the estimates) to 4, each fifth of the rows (ties kept together)."""
    edges = np.quantile(predicted, np.arange(1, QUINTILES) / QUINTILES)
    return np.searchsorted(edges, predicted, side="left")


def _largest(labels: np.ndarray, count: int) -> list[str]:
    """The `count` most frequent labels, most rows first, ties by name (the same order on every run)."""
    names, rows = np.unique(labels, return_counts=True)
    order = sorted(range(len(names)), key=lambda n: (-rows[n], str(names[n])))
    return [str(names[n]) for n in order[:count]]
