"""The card's pictures: predicted vs actual, residuals, and permutation importances (PNG, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # noqa: E402 - headless: the backend must be chosen before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

PREDICTED_VS_ACTUAL = "predicted_vs_actual.png"
RESIDUALS = "residuals.png"
IMPORTANCES = "importances.png"

_DOLLARS = FuncFormatter(lambda value, _: f"${value / 1000:,.0f}k")


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
    figure, axes = plt.subplots(figsize=(6, 6), dpi=100)
    axes.scatter(actual[~outliers], predicted[~outliers], s=6, alpha=0.4, label="sales")
    if outliers.any():
        axes.scatter(
            actual[outliers], predicted[outliers], s=24, marker="x", color="crimson", label="outliers (not trained on)"
        )
    limits = [min(actual.min(), predicted.min()), max(actual.max(), predicted.max())]
    axes.plot(limits, limits, color="black", linewidth=1, label="perfect")
    axes.set(xscale="log", yscale="log", xlabel="actual price", ylabel="predicted price (cross-validated)")
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(_DOLLARS)
        axis.set_minor_formatter(_DOLLARS)
    axes.tick_params(axis="x", which="minor", labelrotation=45, labelsize=7)
    axes.tick_params(axis="y", which="minor", labelsize=7)
    axes.set_title("Predicted vs actual (out-of-fold)")
    axes.legend(loc="upper left")
    return _save(figure, path)


def _residuals(path: Path, actual: np.ndarray, predicted: np.ndarray, outliers: np.ndarray) -> Path:
    residuals = np.log(actual) - np.log(predicted)
    figure, (scatter, histogram) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    scatter.scatter(predicted[~outliers], residuals[~outliers], s=6, alpha=0.4)
    scatter.axhline(0, color="black", linewidth=1)
    scatter.set(xscale="log", xlabel="predicted price", ylabel="log(actual) − log(predicted)", title="Residuals")
    scatter.xaxis.set_major_formatter(_DOLLARS)
    scatter.xaxis.set_minor_formatter(_DOLLARS)
    scatter.tick_params(axis="x", which="minor", labelrotation=45, labelsize=7)
    histogram.hist(residuals[~outliers], bins=60)
    histogram.set(xlabel="log residual", ylabel="sales", title="Residual distribution")
    return _save(figure, path)


def _importances(path: Path, importances: pd.Series) -> Path:
    figure, axes = plt.subplots(figsize=(7, 5), dpi=100)
    ordered = importances.iloc[::-1]
    axes.barh([str(name) for name in ordered.index], ordered.to_numpy())
    axes.set(xlabel="increase in RMSE of log price when shuffled", title="Permutation importance (holdout)")
    return _save(figure, path)


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
