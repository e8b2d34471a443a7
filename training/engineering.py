"""Engineered features from De Cock's documentation, built from scikit-learn and NumPy parts only.

Each derived column is a ColumnTransformer entry: its inputs as float64 (scikit-learn's `check_array`, so that
whole-number and nullable columns give the imputer one dtype in training and serving alike), a `SimpleImputer` (0
for an area or a count that is missing because the house has none; the median for a year), then one NumPy reduction
over the row (`np.sum`, `np.diff`, `np.prod`), so that `model.skops` still loads with `skops.io` alone and the
compiled engine can reproduce every step bit for bit. The quality codes (Po < Fa < TA < Gd < Ex) also get an
ordinal scale for the linear part. A derived column is made only when the table has its inputs as numbers, so any
other CSV trains as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
from sklearn.utils.validation import check_array

Operation = Literal["sum", "difference", "product"]

#: The quality scale of the Ames codes, worst first; a missing value (no basement, no pool) ranks below Po.
QUALITY_SCALE = ("Po", "Fa", "TA", "Gd", "Ex")
#: The code a missing or unknown quality takes on the ordinal scale (one below "Po" = 0).
NO_QUALITY = -1


@dataclass(frozen=True)
class Derived:
    """One engineered column: `operation` over `inputs` (for a difference: the second minus the first)."""

    name: str
    inputs: tuple[str, ...]
    operation: Operation
    fill: Literal["zero", "median"]
    increasing: bool = False  # never lowers the price, all else equal (true of areas and quality × area)
    #: Whether the linear part reads it too. Not the total area: arcsinh(0) = 0 makes "no basement" a cliff, and
    #: a basement coefficient fitted beside the total turned it into a lower price for a larger basement.
    linear: bool = True

    @property
    def formula(self) -> str:
        """How the card writes it: "Gr Liv Area + Total Bsmt SF", "Yr Sold − Year Built"."""
        if self.operation == "difference":
            return f"{self.inputs[1]} − {self.inputs[0]}"
        return (" + " if self.operation == "sum" else " × ").join(self.inputs)


AMES_DERIVED = (
    Derived(
        "Total area incl. basement",
        ("Gr Liv Area", "Total Bsmt SF"),
        "sum",
        "zero",
        increasing=True,
        linear=False,
    ),
    Derived(
        "Porch and deck area",
        ("Wood Deck SF", "Open Porch SF", "Enclosed Porch", "3Ssn Porch", "Screen Porch"),
        "sum",
        "zero",
        increasing=True,
    ),
    Derived("Age at sale", ("Year Built", "Yr Sold"), "difference", "median"),
    Derived("Years since remodel at sale", ("Year Remod/Add", "Yr Sold"), "difference", "median"),
    Derived("Quality × living area", ("Overall Qual", "Gr Liv Area"), "product", "median", increasing=True),
)

#: `check_array`'s arguments for "these columns as float64, missing values as NaN".
AS_FLOAT = {"dtype": "float64", "ensure_all_finite": "allow-nan"}

_REDUCTIONS = {
    "sum": (np.sum, {"axis": 1, "keepdims": True}),
    "difference": (np.diff, {"axis": 1}),
    "product": (np.prod, {"axis": 1, "keepdims": True}),
}


def derived_columns(numeric: Sequence[str], candidates: Sequence[Derived] = AMES_DERIVED) -> list[Derived]:
    """The derived columns whose inputs are all numeric columns of this table."""
    available = set(numeric)
    return [derived for derived in candidates if set(derived.inputs) <= available]


def quality_columns(features: pd.DataFrame, categorical: Sequence[str]) -> list[str]:
    """Categorical columns whose every value is a code of the quality scale (Ex, Gd, TA, Fa, Po)."""
    scale = set(QUALITY_SCALE)
    return [
        name
        for name in categorical
        if (values := set(features[name].dropna().astype(str))) and values <= scale and len(values) > 1
    ]


def derived_step(derived: Derived) -> Pipeline:
    """The inputs as floats, imputed, then reduced to one column."""
    reduction, kw_args = _REDUCTIONS[derived.operation]
    if derived.fill == "zero":
        imputer = SimpleImputer(strategy="constant", fill_value=0.0)
    else:
        imputer = SimpleImputer(strategy="median")
    as_float = FunctionTransformer(check_array, kw_args=dict(AS_FLOAT))
    combine = FunctionTransformer(reduction, kw_args=dict(kw_args))
    return Pipeline([("as_float", as_float), ("impute", imputer), ("combine", combine)])


def quality_scale(columns: Sequence[str]) -> OrdinalEncoder:
    """Po…Ex as 0…4 on every quality column; missing or unknown codes as -1 (below the scale)."""
    return OrdinalEncoder(
        categories=[list(QUALITY_SCALE)] * len(columns),
        handle_unknown="use_encoded_value",
        unknown_value=NO_QUALITY,
        encoded_missing_value=NO_QUALITY,
    )
