"""Every private scikit-learn attribute the compiled engine reads, in one place, with the versions it was checked on.

The compiled engine reads fitted parameters. Most are public (`coef_`, `categories_`, `statistics_`); a few that
describe the fitted trees of `HistGradientBoostingRegressor` are not. They were read and checked, bit for bit
against `model.predict`, on the scikit-learn versions in `CHECKED_SKLEARN`; `requirements.txt` pins the same range.
On any other version the engine is not built (the app serves through the pipeline and says why), and a missing
or changed attribute raises `UnsupportedModelError` rather than a surprise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingRegressor

from ..errors import UnsupportedModelError

#: The scikit-learn releases on which every attribute below was checked (lower inclusive, upper exclusive).
CHECKED_SKLEARN = ((1, 9), (1, 10))

#: `HistGradientBoostingRegressor` internals, and what each one holds:
#: - `_predictors`: one list per boosting iteration of `TreePredictor`s; `TreePredictor.nodes` is a structured
#:   array (`value`, `count` (training rows reaching the node), `feature_idx`, `num_threshold`,
#:   `missing_go_to_left`, `left`, `right`, `is_leaf`, `is_categorical`, `bitset_idx`) and
#:   `TreePredictor.raw_left_cat_bitsets` the categories sent left, per split.
#: - `_baseline_prediction`: the constant the sum of the trees starts from, shape (1, 1) for one target.
#: - `_preprocessor`: the ColumnTransformer that re-encodes categorical columns before the trees (None when
#:   the model has no categorical features).
#: - `_bin_mapper.make_known_categories_bitsets()`: the categories each categorical feature saw in training.
#: - `_loss.link`: must be the identity link for the squared error.
PRIVATE_HGB_ATTRIBUTES = ("_predictors", "_baseline_prediction", "_preprocessor", "_bin_mapper", "_loss")
NODE_FIELDS = (
    "value",
    "count",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
    "is_categorical",
    "bitset_idx",
)


def check_sklearn_version(version: str = sklearn.__version__) -> None:
    """Raises UnsupportedModelError outside the checked range (a future release may change the internals)."""
    parts = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    (low, high) = CHECKED_SKLEARN
    if not low <= parts < high:
        raise UnsupportedModelError(
            f"scikit-learn {version} is outside the range the compiled engine was checked on "
            f"({'.'.join(map(str, low))} to before {'.'.join(map(str, high))})"
        )


def hgb_trees(model: HistGradientBoostingRegressor) -> tuple[float, list[Any]]:
    """The baseline and the fitted `TreePredictor`s in the order scikit-learn adds them."""
    _require(model, PRIVATE_HGB_ATTRIBUTES)
    if getattr(model, "n_trees_per_iteration_", None) != 1:
        raise UnsupportedModelError("gradient boosting with more than one tree per iteration")
    link = type(model._loss.link).__name__
    if link != "IdentityLink":
        raise UnsupportedModelError(f"gradient boosting with the {link} (only the squared error is compiled)")
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64)
    if baseline.shape != (1, 1):
        raise UnsupportedModelError(f"gradient boosting baseline of shape {baseline.shape}")
    trees = [iteration[0] for iteration in model._predictors]
    for tree in trees:
        missing = set(NODE_FIELDS) - set(tree.nodes.dtype.names or ())
        if missing or not hasattr(tree, "raw_left_cat_bitsets"):
            raise UnsupportedModelError(f"tree nodes without the fields {sorted(missing)} the engine reads")
    return float(baseline[0, 0]), trees


def hgb_preprocessor(model: HistGradientBoostingRegressor) -> Any:
    """HGB's own ColumnTransformer (categorical columns re-encoded, the rest checked), or None."""
    _require(model, ("_preprocessor",))
    return model._preprocessor


def hgb_known_categories(model: HistGradientBoostingRegressor) -> tuple[np.ndarray, np.ndarray]:
    """(bitsets of the categories seen in training, one row per categorical feature; feature → row map)."""
    _require(model, ("_bin_mapper",))
    known, feature_rows = model._bin_mapper.make_known_categories_bitsets()
    return np.asarray(known, dtype=np.uint32), np.asarray(feature_rows, dtype=np.intp)


def _require(model: object, names: tuple[str, ...]) -> None:
    absent = [name for name in names if not hasattr(model, name)]
    if absent:
        raise UnsupportedModelError(f"{type(model).__name__} has no {', '.join(absent)} (a different scikit-learn?)")
