from __future__ import annotations

import numpy as np
import pandas as pd

from training import QUICK_CONFIG, build_pipeline
from training.data import split_target
from training.features import infer_kinds, model_columns


def _sample(ames: pd.DataFrame, rows: int = 600) -> tuple[pd.DataFrame, pd.Series]:
    table = split_target(ames.sample(rows, random_state=1), target="SalePrice", drop=("Order", "PID"), source="t")
    return table.features, table.target


def test_fit_and_predict_dollars_from_the_raw_dataframe(ames: pd.DataFrame) -> None:
    features, target = _sample(ames)
    numeric, categorical = model_columns(infer_kinds(features))
    model = build_pipeline(numeric, categorical, QUICK_CONFIG).fit(features, target)
    predicted = model.predict(features.head(50))
    assert predicted.shape == (50,)
    assert np.all((predicted > 20_000) & (predicted < 1_000_000))
    assert np.sqrt(np.mean((np.log(predicted) - np.log(target.head(50))) ** 2)) < 0.2


def test_unseen_categories_and_missing_values_still_predict(ames: pd.DataFrame) -> None:
    features, target = _sample(ames)
    numeric, categorical = model_columns(infer_kinds(features))
    model = build_pipeline(numeric, categorical, QUICK_CONFIG).fit(features, target)
    odd = features.head(3).copy()
    odd["Neighborhood"] = "Atlantis"
    odd.loc[:, ["Lot Frontage", "Garage Type", "Mas Vnr Area"]] = np.nan
    assert np.isfinite(model.predict(odd)).all()


def test_same_seed_same_model(ames: pd.DataFrame) -> None:
    features, target = _sample(ames, rows=400)
    numeric, categorical = model_columns(infer_kinds(features))
    first = build_pipeline(numeric, categorical, QUICK_CONFIG).fit(features, target).predict(features)
    second = build_pipeline(numeric, categorical, QUICK_CONFIG).fit(features, target).predict(features)
    assert np.array_equal(first, second)


def test_a_made_up_table_with_booleans_trains_too() -> None:
    rng = np.random.default_rng(0)
    rows = 200
    table = pd.DataFrame(
        {
            "area": rng.uniform(40, 200, rows),
            "garden": rng.random(rows) > 0.5,
            "city": rng.choice(["north", "south", "east"], rows),
        }
    )
    price = (
        1000 * table["area"] * (1 + 0.2 * table["garden"]) * table["city"].map({"north": 1.5, "south": 1, "east": 1.2})
    )
    numeric, categorical = model_columns(infer_kinds(table))
    model = build_pipeline(numeric, categorical, QUICK_CONFIG).fit(table, price)
    assert np.sqrt(np.mean((np.log(model.predict(table)) - np.log(price)) ** 2)) < 0.15
