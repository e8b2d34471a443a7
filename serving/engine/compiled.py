"""Compile a fitted pipeline into NumPy arrays: the shipped blend, read once at startup, with no new artifact.

`model.skops` stays the one source of truth. `compile_model` walks the fitted
`TransformedTargetRegressor(VotingRegressor([ridge pipeline, trees pipeline]))` (or either part alone) and
builds a `CompiledModel` whose `predict` gives the same float64 bits as `model.predict`; any step it does not
know raises `UnsupportedModelError`, and the startup check (`engine.check`) proves the bits on real rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import VotingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from modelrepo import FeatureKind, Schema

from ..errors import UnsupportedModelError
from .derived import Derivation, derivation, is_derivation
from .inputs import InputLayout
from .internals import check_sklearn_version
from .linear import LinearPart, compile_linear, linear_columns
from .trees import TreePart, compile_trees, tree_columns

#: Target transforms the engine applies after the average (the pipeline's `inverse_func`).
INVERSE_FUNCTIONS = {np.exp, np.expm1, np.square}

Part = LinearPart | TreePart

#: Linear estimators whose `predict` is `X @ coef_ + intercept_` (scikit-learn's `LinearModel`).
LINEAR_ESTIMATORS = ("Ridge", "HuberRegressor")


@dataclass(frozen=True)
class CompiledModel:
    """Rows (validated, complete) in, prices out: the fitted parameters as arrays, nothing written per call."""

    layout: InputLayout
    parts: tuple[Part, ...]
    weights: np.ndarray | None  # the VotingRegressor's, or None for an unweighted mean
    averaged: bool  # a VotingRegressor (np.average over parts) rather than a single part
    inverse: Any  # a NumPy ufunc, or None

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        numbers, slots = self.layout.arrays(rows)
        return self.predict_arrays(numbers, slots)

    def predict_arrays(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        return self._price([part.predict(numbers, slots) for part in self.parts])

    def predict_with_spread(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """The prices of `predict` (the same bits) and the spread of the parts' predictions (max − min, before the
        inverse target function: in log price), from the same predictions; 0 for a single part."""
        numbers, slots = self.layout.arrays(rows)
        predictions = [part.predict(numbers, slots) for part in self.parts]
        members = np.asarray(predictions).T  # rows × parts, as VotingRegressor.transform gives them
        return self._price(predictions), members.max(axis=1) - members.min(axis=1)

    def _price(self, predictions: list[np.ndarray]) -> np.ndarray:
        if self.averaged:  # VotingRegressor.predict: np.average over the parts' predictions, column-wise
            blended = np.average(np.asarray(predictions).T, axis=1, weights=self.weights)
        else:
            blended = predictions[0]
        if self.inverse is None:
            return np.asarray(blended, dtype=np.float64)
        result: np.ndarray = self.inverse(np.asarray(blended).reshape(-1, 1))[:, 0]  # as FunctionTransformer does
        return result

    @property
    def batch_invariant(self) -> bool:
        """Whether a row's price is the same whatever batch it comes in (false with a dense matrix product)."""
        return all(part.sparse for part in self.parts if isinstance(part, LinearPart))

    @property
    def trees(self) -> TreePart | None:
        return next((part for part in self.parts if isinstance(part, TreePart)), None)


def compile_model(model: Any, schema: Schema) -> CompiledModel:
    """Raises UnsupportedModelError naming what the engine does not know (a step, a shape, a library version)."""
    check_sklearn_version()
    regressor, inverse = _target_transform(model)
    if type(regressor) is VotingRegressor:
        pipelines = list(regressor.estimators_)
        weights = None if regressor.weights is None else np.asarray(regressor.weights, dtype=np.float64)
        averaged = True
    else:
        pipelines, weights, averaged = [regressor], None, False
    kinds = [_part_kind(pipeline) for pipeline in pipelines]
    layout = _layout(pipelines, kinds, schema)
    parts: list[Part] = [
        compile_linear(pipeline, layout) if kind == "linear" else compile_trees(pipeline, layout)
        for pipeline, kind in zip(pipelines, kinds, strict=True)
    ]
    return CompiledModel(layout, tuple(parts), weights, averaged, inverse)


def _target_transform(model: Any) -> tuple[Any, Any]:
    if type(model) is not TransformedTargetRegressor:
        return model, None
    transformer = model.transformer_
    if model.transformer is not None or type(transformer) is not FunctionTransformer:
        raise UnsupportedModelError(f"a target transformer {model.transformer!r} (only func/inverse_func)")
    if transformer.inverse_func not in INVERSE_FUNCTIONS or transformer.inv_kw_args:
        raise UnsupportedModelError(f"the inverse target function {transformer.inverse_func!r}")
    return model.regressor_, transformer.inverse_func


def _part_kind(pipeline: Any) -> str:
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise UnsupportedModelError(f"a model part {type(pipeline).__name__} (expected a two-step Pipeline)")
    last = type(pipeline.steps[-1][1]).__name__
    if last in LINEAR_ESTIMATORS:
        return "linear"
    if last == "HistGradientBoostingRegressor":
        return "trees"
    raise UnsupportedModelError(f"the estimator {last}, which the engine does not compile")


def _layout(pipelines: list[Pipeline], kinds: list[str], schema: Schema) -> InputLayout:
    numeric: dict[str, None] = {}
    categorical: dict[str, set[str]] = {}
    for pipeline, kind in zip(pipelines, kinds, strict=True):
        names, categories = linear_columns(pipeline) if kind == "linear" else tree_columns(pipeline)
        numeric.update(dict.fromkeys(names))
        for name, known in categories.items():
            categorical.setdefault(name, set()).update(known)
    known_features = {feature.name: feature for feature in schema.features}
    for name in [*numeric, *categorical]:
        if name not in known_features:
            raise UnsupportedModelError(f"the model reads a column {name!r} that schema.json does not describe")
    for name in numeric:
        if not known_features[name].is_numeric and known_features[name].kind is not FeatureKind.BOOLEAN:
            raise UnsupportedModelError(f"the model treats {name!r} as a number; schema.json says it is not")
    for name in categorical:
        if known_features[name].kind is not FeatureKind.CATEGORY:
            raise UnsupportedModelError(f"the model treats {name!r} as a category; schema.json says it is not")
        categorical[name].update(known_features[name].categories or [])
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise UnsupportedModelError(f"columns used both as numbers and as categories: {sorted(overlap)}")
    ordered = [feature.name for feature in schema.features]
    raw = sorted(numeric, key=ordered.index)
    return InputLayout(
        schema,
        raw,
        {name: categorical[name] for name in sorted(categorical, key=ordered.index)},
        _derivations(pipelines, raw),
    )


def _derivations(pipelines: list[Pipeline], raw: list[str]) -> list[Derivation]:
    """The distinct engineered columns of every part, in the order the parts name them."""
    found: dict[str, Derivation] = {}
    for pipeline in pipelines:
        for name, transformer, selected in pipeline.steps[0][1].transformers_:
            if not is_derivation(transformer):
                continue
            if name in raw:
                raise UnsupportedModelError(f"an engineered column {name!r} named like an input column")
            column = derivation(name, transformer, np.array([raw.index(input) for input in selected], dtype=np.intp))
            if name in found and not found[name].same_as(column):
                raise UnsupportedModelError(f"the engineered column {name!r} is made two ways by two parts")
            found.setdefault(name, column)
    return list(found.values())
