"""The model: an equal-weight blend of a robust linear model and gradient-boosted trees, fitted on log price.

Each part suits the other's weak spot: the linear part (one-hot categories, arcsinh-compressed numbers, the
engineered columns of `engineering.py`) extrapolates gently; the trees catch interactions and thresholds. The
linear part is a Huber regression: a foreclosure sold at a quarter of its value pulls its fit far less than in
a ridge, which is where most of the gain over the earlier ridge blend comes from. `benchmarks/quality.py`
prints the candidates on the same folds. Only scikit-learn types and NumPy functions are used, with explicit
column lists, so that skops can load the model with a short, reviewed allowlist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, VotingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import HuberRegressor, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from .engineering import Derived, derived_columns, derived_step, quality_columns, quality_scale
from .features import infer_kinds, model_columns

MISSING_CATEGORY = "__missing__"


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters; the defaults are the shipped configuration (tuned by cross-validation on Ames)."""

    #: "huber" (robust to the few sales far below their value) or "ridge" (the blend of earlier versions).
    linear: str = "huber"
    ridge_alpha: float = 30.0
    huber_alpha: float = 3.0
    huber_epsilon: float = 1.2
    huber_max_iter: int = 2000
    one_hot_min_frequency: int = 5
    hgb_max_iter: int = 800
    hgb_learning_rate: float = 0.06
    hgb_max_leaf_nodes: int = 8
    hgb_max_features: float = 0.2
    hgb_l2_regularization: float = 1.0
    hgb_min_samples_leaf: int = 10
    hgb_max_categories: int = 250
    #: The engineered columns of `engineering.py` (made only where a table has their inputs).
    engineered: bool = True
    #: Features whose rise never lowers the price, all else equal (enforced in the trees; ridge is linear in
    #: a monotone transform of them). Ignored when a table has no such column.
    increasing: tuple[str, ...] = (
        "Gr Liv Area",
        "Overall Qual",
        "Total Bsmt SF",
        *("Wood Deck SF", "Open Porch SF", "Enclosed Porch", "3Ssn Porch", "Screen Porch"),
    )
    seed: int = 0

    def as_table(self) -> dict[str, float | int]:
        linear = (
            {"linear model": "Huber", "huber alpha": self.huber_alpha, "huber epsilon": self.huber_epsilon}
            if self.linear == "huber"
            else {"linear model": "ridge", "ridge alpha": self.ridge_alpha}
        )
        return linear | {
            "one-hot min frequency": self.one_hot_min_frequency,
            "boosting iterations": self.hgb_max_iter,
            "learning rate": self.hgb_learning_rate,
            "max leaf nodes": self.hgb_max_leaf_nodes,
            "max features per split": self.hgb_max_features,
            "L2 regularization": self.hgb_l2_regularization,
            "min rows per leaf": self.hgb_min_samples_leaf,
            "engineered features": "yes" if self.engineered else "no",
            "random state": self.seed,
        }


#: For smoke tests and quick looks: the same model with far fewer boosting and Huber iterations (about 20× faster).
QUICK_CONFIG = ModelConfig(hgb_max_iter=100, hgb_learning_rate=0.2, huber_max_iter=100)


def pipeline_for_table(features: pd.DataFrame, config: ModelConfig) -> TransformedTargetRegressor:
    """The pipeline for this table's columns (its numbers, its categories and the quality-coded ones), so that
    training and every benchmark build the same model from the same table."""
    numeric, categorical = model_columns(infer_kinds(features))
    return build_pipeline(numeric, categorical, config, quality=quality_columns(features, categorical))


def build_pipeline(
    numeric: list[str], categorical: list[str], config: ModelConfig, *, quality: Sequence[str] = ()
) -> TransformedTargetRegressor:
    """A raw DataFrame of features in, the price in dollars out (the blend is averaged in log space).

    `quality`: categorical columns coded on the Po…Ex scale (`engineering.quality_columns`), which the linear
    part also reads as an ordinal number.
    """
    derived = derived_columns(numeric) if config.engineered else []
    scales = list(quality) if config.engineered else []
    blend = VotingRegressor(
        [
            ("linear", _linear(numeric, categorical, derived, scales, config)),
            ("trees", _trees(numeric, categorical, derived, config)),
        ]
    )
    return TransformedTargetRegressor(regressor=blend, func=np.log, inverse_func=np.exp)


def _compressed(first: tuple[str, object]) -> Pipeline:
    """Then arcsinh (log-like for large values, defined for negatives) and standard scaling."""
    return Pipeline([first, ("compress", FunctionTransformer(np.arcsinh)), ("scale", StandardScaler())])


def _linear(
    numeric: list[str], categorical: list[str], derived: list[Derived], scales: list[str], config: ModelConfig
) -> Pipeline:
    categories = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", OneHotEncoder(handle_unknown="ignore", min_frequency=config.one_hot_min_frequency)),
        ]
    )
    entries: list[tuple[str, object, list[str]]] = [
        (
            "numbers",
            _compressed(("impute", SimpleImputer(strategy="median"))),
            numeric,
        ),
        ("categories", categories, categorical),
    ]
    for column in (column for column in derived if column.linear):
        steps = derived_step(column).steps
        entries.append(
            (
                column.name,
                Pipeline([*steps, ("compress", FunctionTransformer(np.arcsinh)), ("scale", StandardScaler())]),
                list(column.inputs),
            )
        )
    if scales:
        entries.append(
            ("quality scales", Pipeline([("rank", quality_scale(scales)), ("scale", StandardScaler())]), scales)
        )
    # Always a sparse design (as the one-hot columns make it): the product is then a row's own sum, the same
    # whatever batch the row comes in.
    columns = ColumnTransformer(entries, sparse_threshold=1.0)
    if config.linear == "huber":
        estimator: object = HuberRegressor(
            alpha=config.huber_alpha, epsilon=config.huber_epsilon, max_iter=config.huber_max_iter
        )
    else:
        estimator = Ridge(alpha=config.ridge_alpha)
    return Pipeline([("columns", columns), ("linear", estimator)])


def _trees(numeric: list[str], categorical: list[str], derived: list[Derived], config: ModelConfig) -> Pipeline:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=config.hgb_max_categories,
    )
    entries: list[tuple[str, object, list[str]]] = [
        ("categories", encoder, categorical),
        ("numbers", "passthrough", numeric),
    ]
    entries += [(column.name, derived_step(column), list(column.inputs)) for column in derived]
    columns = ColumnTransformer(entries)
    increasing = [1 if name in config.increasing else 0 for name in numeric]
    increasing += [1 if column.increasing and _all_increasing(column, config) else 0 for column in derived]
    trees = HistGradientBoostingRegressor(
        max_iter=config.hgb_max_iter,
        learning_rate=config.hgb_learning_rate,
        max_leaf_nodes=config.hgb_max_leaf_nodes,
        max_features=config.hgb_max_features,
        l2_regularization=config.hgb_l2_regularization,
        min_samples_leaf=config.hgb_min_samples_leaf,
        categorical_features=list(range(len(categorical))) or None,
        monotonic_cst=[0] * len(categorical) + increasing,
        early_stopping=False,
        random_state=config.seed,
    )
    return Pipeline([("columns", columns), ("trees", trees)])


def _all_increasing(column: Derived, config: ModelConfig) -> bool:
    """A sum or product of non-negative inputs rises with each: constrain it where an input is constrained."""
    return any(name in config.increasing for name in column.inputs)
