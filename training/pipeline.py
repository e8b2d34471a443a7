"""The model: an equal-weight blend of a ridge regression and gradient-boosted trees, fitted on log price.

Each part suits the other's weak spot: ridge on one-hot categories and arcsinh-compressed numbers extrapolates
gently; the trees catch interactions and thresholds. Measured here (5-fold CV, RMSE of log price, five
outliers removed): ridge 0.113, tuned trees 0.113, the blend 0.110. 800 trees at rate 0.06 score within
0.0005 of 2,000 at 0.03 and predict 2.5 times faster. Only scikit-learn types are used, with
explicit column lists, so that skops can load the model with a short, reviewed allowlist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, VotingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

MISSING_CATEGORY = "__missing__"


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters; the defaults are the shipped configuration (tuned by cross-validation on Ames)."""

    ridge_alpha: float = 30.0
    one_hot_min_frequency: int = 5
    hgb_max_iter: int = 800
    hgb_learning_rate: float = 0.06
    hgb_max_leaf_nodes: int = 8
    hgb_max_features: float = 0.3
    hgb_max_categories: int = 250
    #: Features whose rise never lowers the price, all else equal (enforced in the trees; ridge is linear in
    #: a monotone transform of them). Ignored when a table has no such column.
    increasing: tuple[str, ...] = ("Gr Liv Area", "Overall Qual")
    seed: int = 0

    def as_table(self) -> dict[str, float | int]:
        return {
            "ridge alpha": self.ridge_alpha,
            "one-hot min frequency": self.one_hot_min_frequency,
            "boosting iterations": self.hgb_max_iter,
            "learning rate": self.hgb_learning_rate,
            "max leaf nodes": self.hgb_max_leaf_nodes,
            "max features per split": self.hgb_max_features,
            "random state": self.seed,
        }


#: For smoke tests and quick looks: the same model with far fewer boosting iterations (about 20× faster).
QUICK_CONFIG = ModelConfig(hgb_max_iter=100, hgb_learning_rate=0.2)


def build_pipeline(numeric: list[str], categorical: list[str], config: ModelConfig) -> TransformedTargetRegressor:
    """A raw DataFrame of features in, the price in dollars out (the blend is averaged in log space)."""
    blend = VotingRegressor(
        [("ridge", _ridge(numeric, categorical, config)), ("trees", _trees(numeric, categorical, config))]
    )
    return TransformedTargetRegressor(regressor=blend, func=np.log, inverse_func=np.exp)


def _ridge(numeric: list[str], categorical: list[str], config: ModelConfig) -> Pipeline:
    numbers = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("compress", FunctionTransformer(np.arcsinh)),  # log-like for large values, defined for negatives
            ("scale", StandardScaler()),
        ]
    )
    categories = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("encode", OneHotEncoder(handle_unknown="ignore", min_frequency=config.one_hot_min_frequency)),
        ]
    )
    columns = ColumnTransformer([("numbers", numbers, numeric), ("categories", categories, categorical)])
    return Pipeline([("columns", columns), ("ridge", Ridge(alpha=config.ridge_alpha))])


def _trees(numeric: list[str], categorical: list[str], config: ModelConfig) -> Pipeline:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=config.hgb_max_categories,
    )
    columns = ColumnTransformer([("categories", encoder, categorical), ("numbers", "passthrough", numeric)])
    trees = HistGradientBoostingRegressor(
        max_iter=config.hgb_max_iter,
        learning_rate=config.hgb_learning_rate,
        max_leaf_nodes=config.hgb_max_leaf_nodes,
        max_features=config.hgb_max_features,
        categorical_features=list(range(len(categorical))) or None,
        monotonic_cst=[0] * len(categorical) + [1 if name in config.increasing else 0 for name in numeric],
        early_stopping=False,
        random_state=config.seed,
    )
    return Pipeline([("columns", columns), ("trees", trees)])
