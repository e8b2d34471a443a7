"""Engineered columns: a ColumnTransformer entry that imputes a few numbers and reduces them to one per row.

Training writes each one as `Pipeline([FunctionTransformer(check_array) (as float64), SimpleImputer,
FunctionTransformer(np.sum | np.diff | np.prod)])` over named numeric columns (further steps, such as the linear
part's arcsinh and scaler, follow it). The engine computes each distinct one once per request, from the same fitted
fill values with the same NumPy function, and appends it to the numbers array; from there on the parts read it like
any other numeric column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_array

from ..errors import UnsupportedModelError

#: The reductions the engine computes, each with the only keyword arguments it accepts (one column out).
REDUCTIONS: Mapping[Any, Mapping[str, Any]] = {
    np.sum: {"axis": 1, "keepdims": True},
    np.prod: {"axis": 1, "keepdims": True},
    np.diff: {"axis": 1},
}


#: The first step: `check_array` with exactly these arguments, a no-op on the engine's float64 numbers.
AS_FLOAT = {"dtype": "float64", "ensure_all_finite": "allow-nan"}


@dataclass(frozen=True)
class Derivation:
    """One engineered column: its inputs (indices of the numbers array), their fill values, the reduction."""

    name: str
    inputs: np.ndarray
    fill: np.ndarray
    func: Any

    def compute(self, numbers: np.ndarray) -> np.ndarray:
        """(rows, 1), as the entry's imputer and reduction give it."""
        x = numbers[:, self.inputs]
        missing = np.isnan(x)
        if missing.any():
            x[missing] = np.broadcast_to(self.fill, x.shape)[missing]
        result: np.ndarray = self.func(x, **REDUCTIONS[self.func])
        return result

    def same_as(self, other: Derivation) -> bool:
        return (
            self.func is other.func
            and np.array_equal(self.inputs, other.inputs)
            and np.array_equal(self.fill, other.fill, equal_nan=True)
        )


def is_derivation(transformer: Any) -> bool:
    """Whether a ColumnTransformer entry is a cast to float, an imputer, then one reduction (an engineered column)."""
    steps = [step for _, step in transformer.steps] if isinstance(transformer, Pipeline) else []
    return (
        len(steps) >= 3
        and type(steps[0]) is FunctionTransformer
        and steps[0].func is check_array
        and type(steps[1]) is SimpleImputer
        and type(steps[2]) is FunctionTransformer
        and steps[2].func in REDUCTIONS
    )


def derivation(name: str, transformer: Pipeline, inputs: np.ndarray) -> Derivation:
    """Raises UnsupportedModelError for a cast or a reduction with other arguments, or more than one column out."""
    cast, imputer, reduction = (step for _, step in transformer.steps[:3])
    if dict(cast.kw_args or {}) != AS_FLOAT:
        raise UnsupportedModelError(f"engineered column {name!r} calls check_array with {cast.kw_args}")
    if imputer.add_indicator or not np.isnan(imputer.missing_values):
        raise UnsupportedModelError(f"engineered column {name!r} imputes something other than missing values")
    if dict(reduction.kw_args or {}) != dict(REDUCTIONS[reduction.func]):
        raise UnsupportedModelError(
            f"engineered column {name!r} calls {reduction.func.__name__} with {reduction.kw_args}"
        )
    if reduction.func is np.diff and len(inputs) != 2:
        raise UnsupportedModelError(f"engineered column {name!r} takes differences of {len(inputs)} columns")
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    if fill.shape != (len(inputs),) or not np.all(np.isfinite(fill)):
        raise UnsupportedModelError(f"engineered column {name!r} has an input with no training values")
    return Derivation(name, np.asarray(inputs, dtype=np.intp), fill, reduction.func)


def derived_steps(transformer: Pipeline) -> list[Any]:
    """The steps after the reduction (applied to the engineered column like to any number)."""
    return [step for _, step in transformer.steps[3:]]
