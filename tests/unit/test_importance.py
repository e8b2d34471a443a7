"""The batched permutation importance gives scikit-learn's numbers: the same shuffles, the same rises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from sklearn.metrics import make_scorer

from training import QUICK_CONFIG
from training.data import split_target
from training.evaluate import importance_ranks, rmse_log
from training.importance import permutation_importance
from training.pipeline import pipeline_for_table

#: Numbers, categories, quality codes and the inputs of two engineered columns: every kind of step is shuffled.
COLUMNS = [
    *("Gr Liv Area", "Total Bsmt SF", "Overall Qual", "Year Built", "Yr Sold", "Lot Area", "Garage Cars"),
    *("Neighborhood", "Kitchen Qual", "Exter Qual", "Central Air", "Sale Condition"),
]
Fitted = tuple[object, pd.DataFrame, pd.Series]


@pytest.fixture(scope="module")
def fitted(ames: pd.DataFrame) -> Fitted:
    rows = ames.sample(500, random_state=3)[[*COLUMNS, "SalePrice"]]
    table = split_target(rows, target="SalePrice", drop=(), source="t")
    features, target = table.features, table.target
    model = pipeline_for_table(features, QUICK_CONFIG).fit(features.iloc[:400], target.iloc[:400])
    return model, features.iloc[400:], target.iloc[400:]


@pytest.fixture(scope="module")
def scikit_learns(fitted: Fitted) -> np.ndarray:
    model, features, target = fitted
    scorer = make_scorer(rmse_log, greater_is_better=False)
    result = sklearn_permutation_importance(model, features, target, scoring=scorer, n_repeats=3, random_state=7)
    return np.asarray(result.importances_mean)


@pytest.mark.parametrize("batch_rows", [1, 250, 10_000])
def test_same_rises_as_scikit_learn_whatever_the_batch(
    fitted: Fitted, scikit_learns: np.ndarray, batch_rows: int
) -> None:
    model, features, target = fitted
    ours = permutation_importance(model, features, target, error=rmse_log, repeats=3, seed=7, batch_rows=batch_rows)
    assert list(ours.index) == list(features.columns)
    np.testing.assert_allclose(ours.to_numpy(), scikit_learns, rtol=1e-9, atol=1e-12)
    assert (ours.abs() > 0).sum() > 8  # the shuffles do move the predictions


def test_ranks_put_living_area_and_quality_near_the_top(fitted: Fitted) -> None:
    model, features, target = fitted
    ranks = importance_ranks(model, features, target, repeats=2, seed=0)
    assert ranks.is_monotonic_decreasing
    assert {"Gr Liv Area", "Overall Qual"} <= set(ranks.index[:5])
