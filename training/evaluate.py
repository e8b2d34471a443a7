"""Honest evaluation: shuffled k-fold cross-validation and a holdout split, with and without outliers.

Outliers are removed from the rows a model is *fitted* on (unless kept), but every test fold is scored twice:
on its ordinary rows and on all its rows, so that the cost of the rule is visible.

The price ranges shipped with the model are calibrated on the cross-validation's out-of-fold predictions. Their
holdout coverage is measured as honestly: the holdout model's ranges are calibrated by the same k-fold
cross-validation run inside the training split alone, so no holdout row reaches a calibration quantile.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, r2_score
from sklearn.model_selection import KFold, train_test_split

from modelrepo import member_spread
from modelrepo.metrics import CrossValidation, Holdout, HoldoutIntervals, Interval, Intervals, Summary

from .conformal import GROUP_COLUMN, Scored, calibrate, coverage_tables
from .importance import permutation_importance

Progress = Callable[[str], None]

INTERVAL_LEVEL = 0.8
CONFORMAL_METHOD = (
    "split conformal on signed log residuals divided by sigma(x) = spread + beta (the members' disagreement in "
    "log price, max - min; beta the median spread of the calibration rows) or 1 without members; quantiles at the "
    "finite-sample ranks ceil((n+1)(1-alpha/2)) and n+1 minus it, of out-of-fold predictions; outliers excluded"
)


@dataclass(frozen=True)
class OutOfFold:
    """Each row's prediction by the fold model that did not see it, and the members' spread there."""

    predicted: np.ndarray
    spread: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    cross_validation: CrossValidation
    holdout: Holdout
    interval: Interval
    out_of_fold: np.ndarray
    holdout_model: RegressorMixin
    holdout_rows: np.ndarray
    intervals: Intervals
    #: What the holdout's ranges were calibrated on (ordinary rows of the training split, out of fold) and
    #: scored on (every holdout row), for benchmarks that compare calibration rules.
    holdout_calibration_rows: Scored
    holdout_scored: Scored


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE of log price (the ranking metric of the Kaggle and De Cock tradition), and dollar metrics."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    return {
        "rmse_log": rmse_log(actual, predicted),
        "rmse": float(np.sqrt(np.mean((actual - predicted) ** 2))),
        "mae": float(mean_absolute_error(actual, predicted)),
        "mape": float(mean_absolute_percentage_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)) if len(actual) > 1 else float("nan"),
    }


def rmse_log(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.log(actual) - np.log(np.clip(predicted, 1e-9, None))) ** 2)))


def holdout_split(rows: int, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the training split and of the holdout: one definition for training and the benchmarks."""
    train, test = train_test_split(np.arange(rows), test_size=fraction, random_state=seed)
    return train, test


def evaluate(
    model: RegressorMixin,
    features: pd.DataFrame,
    target: pd.Series,
    outliers: np.ndarray,
    *,
    folds: int,
    holdout_fraction: float,
    seed: int,
    keep_outliers: bool,
    progress: Progress,
) -> Evaluation:
    """Cross-validate, then fit on a training split and score the holdout; calibrate and measure the ranges."""
    cv, oof = _cross_validate(
        model, features, target, outliers, folds=folds, seed=seed, keep=keep_outliers, progress=progress
    )
    train, test = holdout_split(len(features), fraction=holdout_fraction, seed=seed)
    progress(f"holdout: fitting on {len(train):,} rows, scoring {len(test):,}")
    fitted = _fit(model, features, target, train, outliers, keep=keep_outliers)
    predicted = fitted.predict(features.iloc[test])
    ordinary = ~outliers[test]
    holdout = Holdout(
        fraction=holdout_fraction,
        random_state=seed,
        rows=len(test),
        without_outliers=regression_metrics(target.to_numpy()[test][ordinary], predicted[ordinary]),
        with_outliers=regression_metrics(target.to_numpy()[test], predicted),
    )
    split = _Split(train, test, fitted, predicted)
    intervals, calibration_rows, scored = _intervals(
        model, features, target, outliers, oof, split, folds=folds, seed=seed, keep=keep_outliers, progress=progress
    )
    interval = _interval(target.to_numpy(), oof.predicted, outliers)
    return Evaluation(cv, holdout, interval, oof.predicted, fitted, test, intervals, calibration_rows, scored)


@dataclass(frozen=True)
class _Split:
    """The holdout split: training rows, holdout rows, the model fitted on the former and its predictions."""

    train: np.ndarray
    test: np.ndarray
    fitted: RegressorMixin
    predicted: np.ndarray


def _intervals(
    model: RegressorMixin,
    features: pd.DataFrame,
    target: pd.Series,
    outliers: np.ndarray,
    oof: OutOfFold,
    split: _Split,
    *,
    folds: int,
    seed: int,
    keep: bool,
    progress: Progress,
) -> tuple[Intervals, Scored, Scored]:
    """The shipped calibration (every ordinary row, out of fold), and the holdout's: calibrated by the same
    cross-validation inside the training split (`folds` more fits), scored on the holdout."""
    actual, train, test = target.to_numpy(), split.train, split.test
    shipped = calibrate(Scored(actual, oof.predicted, oof.spread).subset(~outliers))
    progress(f"holdout ranges: calibrated by {folds}-fold cross-validation inside the training split only")
    inner = _out_of_fold(
        model,
        features,
        target,
        train,
        outliers,
        folds=folds,
        seed=seed,
        keep=keep,
        each=lambda fold, rows, _: progress(f"calibration fold {fold}/{folds}: {len(rows):,} rows out of fold"),
    )
    calibration_rows = Scored(actual[train], inner.predicted, inner.spread).subset(~outliers[train])
    spread = _spread(split.fitted, features.iloc[test])
    scored = Scored(actual[test], split.predicted, spread)
    calibration = calibrate(calibration_rows)
    groups = features[GROUP_COLUMN].iloc[test] if GROUP_COLUMN in features.columns else None
    measured = HoldoutIntervals(
        calibration=calibration,
        rows=int((~outliers[test]).sum()),
        group_column=GROUP_COLUMN if groups is not None else None,
        levels=coverage_tables(calibration, scored, ordinary=~outliers[test], groups=groups),
    )
    return Intervals(method=CONFORMAL_METHOD, calibration=shipped, holdout=measured), calibration_rows, scored


def fit_final(
    model: RegressorMixin, features: pd.DataFrame, target: pd.Series, outliers: np.ndarray, *, keep_outliers: bool
) -> RegressorMixin:
    return _fit(model, features, target, np.arange(len(features)), outliers, keep=keep_outliers)


def importance_ranks(
    model: RegressorMixin, features: pd.DataFrame, target: pd.Series, *, repeats: int, seed: int
) -> pd.Series:
    """Permutation importance on held-out rows: the rise in RMSE of log price when a column is shuffled."""
    rises = permutation_importance(model, features, target, error=rmse_log, repeats=repeats, seed=seed)
    return rises.sort_values(ascending=False)


def _cross_validate(
    model: RegressorMixin,
    features: pd.DataFrame,
    target: pd.Series,
    outliers: np.ndarray,
    *,
    folds: int,
    seed: int,
    keep: bool,
    progress: Progress,
) -> tuple[CrossValidation, OutOfFold]:
    actual = target.to_numpy()
    clean: list[dict[str, float]] = []
    full: list[dict[str, float]] = []

    def scored(fold: int, test: np.ndarray, predicted: np.ndarray) -> None:
        ordinary = ~outliers[test]
        clean.append(regression_metrics(actual[test][ordinary], predicted[ordinary]))
        full.append(regression_metrics(actual[test], predicted))
        progress(f"fold {fold}/{folds}: RMSE log {clean[-1]['rmse_log']:.4f}, MAPE {clean[-1]['mape']:.1%}")

    oof = _out_of_fold(
        model, features, target, np.arange(len(features)), outliers, folds=folds, seed=seed, keep=keep, each=scored
    )
    summary = CrossValidation(
        folds=folds, random_state=seed, without_outliers=_summarize(clean), with_outliers=_summarize(full)
    )
    return summary, oof


def _out_of_fold(
    model: RegressorMixin,
    features: pd.DataFrame,
    target: pd.Series,
    rows: np.ndarray,
    outliers: np.ndarray,
    *,
    folds: int,
    seed: int,
    keep: bool,
    each: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> OutOfFold:
    """Shuffled k-fold over `rows` only (positions in `features`): each of them predicted by a model fitted on the
    others, with its members' spread. `each(fold, test rows, predictions)` sees every fold as it is done."""
    predicted, spread = np.empty(len(rows)), np.empty(len(rows))
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (inside, test) in enumerate(splitter.split(rows), start=1):
        fitted = _fit(model, features, target, rows[inside], outliers, keep=keep)
        held_out = features.iloc[rows[test]]
        predicted[test] = fitted.predict(held_out)
        spread[test] = _spread(fitted, held_out)
        if each is not None:
            each(fold, rows[test], predicted[test])
    return OutOfFold(predicted, spread)


def _spread(model: RegressorMixin, frame: pd.DataFrame) -> np.ndarray:
    """The members' spread of each row (what serving sizes its ranges by), zeros for a model without members."""
    spread = member_spread(model, frame)
    return np.zeros(len(frame)) if spread is None else spread


def _fit(
    model: RegressorMixin,
    features: pd.DataFrame,
    target: pd.Series,
    rows: np.ndarray,
    outliers: np.ndarray,
    *,
    keep: bool,
) -> RegressorMixin:
    rows = rows if keep else rows[~outliers[rows]]
    with warnings.catch_warnings():
        # The Huber part's solver stops at its iteration cap before its tolerance; the fit is deterministic and
        # the cross-validation scores what it gives, so the warning on every fold would only be noise.
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        fitted: RegressorMixin = clone(model).fit(features.iloc[rows], target.iloc[rows])
    return fitted


def _summarize(per_fold: list[dict[str, float]]) -> dict[str, Summary]:
    return {
        name: Summary(
            mean=float(np.mean([fold[name] for fold in per_fold])),
            std=float(np.std([fold[name] for fold in per_fold])),
            per_fold=[float(fold[name]) for fold in per_fold],
        )
        for name in per_fold[0]
    }


def _interval(actual: np.ndarray, out_of_fold: np.ndarray, outliers: np.ndarray) -> Interval:
    """Quantiles of out-of-fold log residuals: an empirical interval that needs no distributional assumption."""
    residuals = (np.log(actual) - np.log(out_of_fold))[~outliers]
    tail = (1 - INTERVAL_LEVEL) / 2
    low, high = np.quantile(residuals, [tail, 1 - tail])
    return Interval(
        level=INTERVAL_LEVEL,
        log_low=float(low),
        log_high=float(high),
        source="quantiles of cross-validated out-of-fold residuals of log price",
    )
