"""The engineered columns: what each one computes, and that other tables train without them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.engineering import AMES_DERIVED, NO_QUALITY, derived_columns, derived_step, quality_columns, quality_scale


def _by_name(name: str):  # noqa: ANN202 - a Derived
    return next(column for column in AMES_DERIVED if column.name == name)


def _computed(name: str, frame: pd.DataFrame) -> np.ndarray:
    column = _by_name(name)
    return derived_step(column).fit(frame[list(column.inputs)]).transform(frame[list(column.inputs)])[:, 0]


def test_a_missing_area_counts_as_none_and_a_missing_year_as_the_median() -> None:
    frame = pd.DataFrame(
        {
            "Gr Liv Area": [1500, 1000, 1200],
            "Total Bsmt SF": [800.0, np.nan, 0.0],  # no basement recorded: the total is the living area
            "Year Built": [1990.0, np.nan, 1950.0],
            "Yr Sold": [2010, 2008, 2006],
            "Overall Qual": [7, 5, 6],
        }
    )
    assert _computed("Total area incl. basement", frame).tolist() == [2300, 1000, 1200]
    assert _computed("Age at sale", frame).tolist() == [20, 2008 - 1970, 56]  # median year built: 1970
    assert _computed("Quality × living area", frame).tolist() == [10500, 5000, 7200]


def test_whole_numbers_in_training_and_floats_in_serving_give_the_same_column() -> None:
    column = _by_name("Porch and deck area")
    ints = pd.DataFrame({name: [10, 0, 5] for name in column.inputs})
    fitted = derived_step(column).fit(ints.astype(float).assign(**{column.inputs[0]: [10.0, np.nan, 5.0]}))
    assert fitted.transform(ints)[:, 0].tolist() == [50, 0, 25]


def test_only_columns_whose_inputs_exist_are_made() -> None:
    assert derived_columns(["area", "rooms"]) == []
    made = derived_columns(["Gr Liv Area", "Total Bsmt SF", "Yr Sold"])
    assert [column.name for column in made] == ["Total area incl. basement"]


def test_quality_scales_rank_the_codes_and_put_missing_below_poor() -> None:
    frame = pd.DataFrame(
        {
            "Kitchen Qual": ["Gd", "TA", "Ex", None],
            "Neighborhood": ["A", "B", "C", "A"],
            "Fence": ["Gd", "Gd", None, None],
        }
    )
    assert quality_columns(frame, ["Kitchen Qual", "Neighborhood", "Fence"]) == ["Kitchen Qual"]  # one code: no scale
    scale = quality_scale(["Kitchen Qual"]).fit(frame[["Kitchen Qual"]])
    unseen = pd.DataFrame({"Kitchen Qual": ["Po", "Fa", "TA", "Gd", "Ex", None, "Superb"]})
    assert scale.transform(unseen)[:, 0].tolist() == [0, 1, 2, 3, 4, NO_QUALITY, NO_QUALITY]
