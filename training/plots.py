"""The card's pictures: predicted vs actual, residuals, and permutation importances (PNG, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # noqa: E402 - headless: the backend must be chosen before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

PREDICTED_VS_ACTUAL = "predicted_vs_actual.png"
RESIDUALS = "residuals.png"
IMPORTANCES = "importances.png"

_DOLLARS = FuncFormatter(lambda value, _: f"${value / 1000:,.0f}k" if value < 1e6 else f"${value / 1e6:,.3g}M")
#: Labelled prices on a log axis: 1-2-5 steps, few enough that the labels never overlap (minor ticks unlabelled).
_PRICE_STEPS = [step * 10**power for power in range(3, 8) for step in (1, 2, 5)]
#: Saved resolution: sharp when the page shows a plot a little larger than its 100-dpi size.
DPI = 120


def write_plots(
    folder: Path, *, actual: np.ndarray, predicted: np.ndarray, outliers: np.ndarray, importances: pd.Series
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _predicted_vs_actual(folder / PREDICTED_VS_ACTUAL, actual, predicted, outliers),
        _residuals(folder / RESIDUALS, actual, predicted, outliers),
        _importances(folder / IMPORTANCES, importances.head(15)),
    ]


def _predicted_vs_actual(path: Path, actual: np.ndarray, predicted: np.ndarray, outliers: np.ndarray) -> Path:
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.scatter(actual[~outliers], predicted[~outliers], s=6, alpha=0.4, label="sales")
    if outliers.any():
        axes.scatter(
            actual[outliers], predicted[outliers], s=24, marker="x", color="crimson", label="outliers (not trained on)"
        )
    limits = [min(actual.min(), predicted.min()), max(actual.max(), predicted.max())]
    axes.plot(limits, limits, color="black", linewidth=1, label="perfect")
    axes.set(xscale="log", yscale="log", xlabel="actual price", ylabel="predicted price (cross-validated)")
    _price_ticks(axes.xaxis, limits)
    _price_ticks(axes.yaxis, limits)
    axes.set_title("Predicted vs actual (out-of-fold)")
    axes.legend(loc="upper left")
    return _save(figure, path)


def _residuals(path: Path, actual: np.ndarray, predicted: np.ndarray, outliers: np.ndarray) -> Path:
    residuals = np.log(actual) - np.log(predicted)
    figure, (scatter, histogram) = plt.subplots(1, 2, figsize=(10, 4))
    scatter.scatter(predicted[~outliers], residuals[~outliers], s=6, alpha=0.4)
    scatter.axhline(0, color="black", linewidth=1)
    scatter.set(xscale="log", xlabel="predicted price", ylabel="log(actual) − log(predicted)", title="Residuals")
    _price_ticks(scatter.xaxis, [predicted.min(), predicted.max()])
    histogram.hist(residuals[~outliers], bins=60)
    histogram.set(xlabel="log residual", ylabel="sales", title="Residual distribution")
    return _save(figure, path)


def _importances(path: Path, importances: pd.Series) -> Path:
    figure, axes = plt.subplots(figsize=(7, 5))
    ordered = importances.iloc[::-1]
    axes.barh([str(name) for name in ordered.index], ordered.to_numpy())
    axes.set(xlabel="increase in RMSE of log price when shuffled", title="Permutation importance (holdout)")
    return _save(figure, path)


def _price_ticks(axis: matplotlib.axis.Axis, limits: list[float]) -> None:
    """Dollar labels at 1-2-5 steps within the data's range, and at most about eight of them."""
    low, high = min(limits), max(limits)
    ticks = [step for step in _PRICE_STEPS if low <= step <= high]
    while len(ticks) > 8:
        ticks = ticks[::2]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(_DOLLARS)
    axis.set_minor_formatter(NullFormatter())


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
