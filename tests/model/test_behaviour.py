"""Behavioural checks of the trained model: what a buyer would find absurd must never happen."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelrepo import EXAMPLES_FILE, MODEL_FILE, Schema, load_model, to_frame


@pytest.fixture(scope="module")
def model(model_folder: Path):  # noqa: ANN201 - a fitted scikit-learn pipeline
    return load_model(model_folder / MODEL_FILE)


@pytest.fixture(scope="module")
def houses(ames: pd.DataFrame) -> pd.DataFrame:
    """A spread of real houses, not just one typical row."""
    return ames.drop(columns=["Order", "PID", "SalePrice"]).sample(60, random_state=3).reset_index(drop=True)


@pytest.mark.parametrize(
    ("feature", "steps"),
    [
        ("Gr Liv Area", [600, 900, 1200, 1500, 1800, 2200, 2600, 3000, 3500, 4000]),
        ("Overall Qual", list(range(1, 11))),
        # Through the engineered columns: the total area (above grade + basement), quality × living area and the
        # porch and deck area all rise with these.
        ("Total Bsmt SF", [0, 300, 600, 900, 1200, 1600, 2000, 2500]),
        ("Open Porch SF", [0, 50, 100, 200, 400]),
        ("Wood Deck SF", [0, 100, 200, 400, 800]),
    ],
)
def test_more_living_area_or_quality_never_lowers_the_price(
    model, houses: pd.DataFrame, feature: str, steps: list[int]
) -> None:
    grid = pd.concat([houses.assign(**{feature: step}) for step in steps], ignore_index=True)
    prices = model.predict(grid).reshape(len(steps), len(houses))
    assert np.all(np.diff(prices, axis=0) >= 0), f"a higher {feature} lowered some price"
    assert np.all(prices[-1] > prices[0]), f"{feature} should matter"


def test_a_row_with_optional_fields_missing_still_predicts(model, houses: pd.DataFrame, model_folder: Path) -> None:
    schema = Schema.read(model_folder)
    optional = [feature.name for feature in schema.features if feature.nullable]
    assert len(optional) > 10
    rows = [
        {name: value for name, value in row.items() if name not in optional}
        for row in houses.head(5).to_dict("records")
    ]
    prices = model.predict(to_frame(rows, schema))
    assert np.all(np.isfinite(prices)) and np.all(prices > 10_000)


def test_the_same_row_always_gives_the_same_price(model, houses: pd.DataFrame) -> None:
    row = houses.head(1)
    alone = [model.predict(row)[0] for _ in range(3)]
    in_batch = model.predict(pd.concat([houses, row], ignore_index=True))[-1]
    assert alone[0] == alone[1] == alone[2] == in_batch


def test_examples_reproduce_their_recorded_prices(model, model_folder: Path) -> None:
    examples = json.loads((model_folder / EXAMPLES_FILE).read_text())
    schema = Schema.read(model_folder)
    expected = np.array(examples["predictions"])
    assert np.array_equal(model.predict(to_frame(examples["rows"], schema)), expected)
    features = json.loads((model_folder / "schema.json").read_text())["features"]
    houses = pd.DataFrame(examples["rows"], columns=[f["name"] for f in features])  # as the card's snippet does
    houses = houses.astype({f["name"]: "str" if f["kind"] == "category" else "float64" for f in features})
    assert np.array_equal(model.predict(houses), expected)
