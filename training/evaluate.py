"""Honest evaluation: shuffled k-fold cross-validation and a holdout split, with and without outliers.

Outliers are removed from the rows a model is *fitted* on (unless kept), but every test fold is scored twice:
on its ordinary rows and on all its rows, so that the cost of the rule is visible.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.metrics import make_scorer, mean_absolute_error, mean_absolute_percentage_error, r2_score
from sklearn.model_selection import KFold, train_test_split

from modelrepo.metrics import CrossValidation, Holdout, Interval, Summary

Progress = Callable[[str], None]

INTERVAL_LEVEL = 0.8


@dataclass(frozen=True)
class Evaluation:
    cross_validation: CrossValidation
    holdout: Holdout
    interval: Interval
    out_of_fold: np.ndarray
    holdout_model: RegressorMixin
    holdout_rows: np.ndarray


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
    """Cross-validate, then fit on a training split and score the holdout."""
    cv, out_of_fold = _cross_validate(
        model, features, target, outliers, folds=folds, seed=seed, keep=keep_outliers, progress=progress
    )
    train, test = train_test_split(np.arange(len(features)), test_size=holdout_fraction, random_state=seed)
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
    return Evaluation(cv, holdout, _interval(target.to_numpy(), out_of_fold, outliers), out_of_fold, fitted, test)


def fit_final(
    model: RegressorMixin, features: pd.DataFrame, target: pd.Series, outliers: np.ndarray, *, keep_outliers: bool
) -> RegressorMixin:
    return _fit(model, features, target, np.arange(len(features)), outliers, keep=keep_outliers)


def importance_ranks(
    model: RegressorMixin, features: pd.DataFrame, target: pd.Series, *, repeats: int, seed: int
) -> pd.Series:
    """Permutation importance on held-out rows: the rise in RMSE of log price when a column is shuffled."""
    scorer = make_scorer(rmse_log, greater_is_better=False)
    result = permutation_importance(model, features, target, scoring=scorer, n_repeats=repeats, random_state=seed)
    return pd.Series(result.importances_mean, index=features.columns).sort_values(ascending=False)


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
) -> tuple[CrossValidation, np.ndarray]:
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    out_of_fold = np.empty(len(features))
    clean: list[dict[str, float]] = []
    full: list[dict[str, float]] = []
    for fold, (train, test) in enumerate(splitter.split(features), start=1):
        fitted = _fit(model, features, target, train, outliers, keep=keep)
        out_of_fold[test] = fitted.predict(features.iloc[test])
        actual = target.to_numpy()[test]
        ordinary = ~outliers[test]
        clean.append(regression_metrics(actual[ordinary], out_of_fold[test][ordinary]))
        full.append(regression_metrics(actual, out_of_fold[test]))
        progress(f"fold {fold}/{folds}: RMSE log {clean[-1]['rmse_log']:.4f}, MAPE {clean[-1]['mape']:.1%}")
    summary = CrossValidation(
        folds=folds, random_state=seed, without_outliers=_summarize(clean), with_outliers=_summarize(full)
    )
    return summary, out_of_fold


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
