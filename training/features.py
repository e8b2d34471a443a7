"""Infer the input schema from the data itself, so that any table trains the same way as Ames."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from modelrepo import Feature, FeatureKind, FeatureValue, Schema, Target
from modelrepo.schema import accepted_bounds

from .errors import DataError

DEFAULT_GROUP = "Other"


def infer_kinds(features: pd.DataFrame) -> dict[str, FeatureKind]:
    """Booleans stay booleans, whole numbers are integers, other numbers numbers, everything else a category."""
    kinds: dict[str, FeatureKind] = {}
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_bool_dtype(column):
            kinds[name] = FeatureKind.BOOLEAN
        elif pd.api.types.is_numeric_dtype(column):
            values = column.dropna()
            whole = bool((values == values.round()).all())
            kinds[name] = FeatureKind.INTEGER if whole else FeatureKind.NUMBER
        else:
            kinds[name] = FeatureKind.CATEGORY
    return kinds


def identifier_columns(features: pd.DataFrame, kinds: Mapping[str, FeatureKind]) -> list[str]:
    """Text or integer columns with a distinct value on every row identify a sale; they cannot generalize."""
    if len(features) < 20:
        return []
    return [
        name
        for name, kind in kinds.items()
        if kind in (FeatureKind.CATEGORY, FeatureKind.INTEGER)
        and features[name].nunique(dropna=False) == len(features)
        and (kind is FeatureKind.CATEGORY or features[name].is_monotonic_increasing)
    ]


def model_columns(kinds: Mapping[str, FeatureKind]) -> tuple[list[str], list[str]]:
    """Split features into the pipeline's numeric and categorical column lists (booleans count as numbers)."""
    categorical = [name for name, kind in kinds.items() if kind is FeatureKind.CATEGORY]
    numeric = [name for name in kinds if name not in categorical]
    return numeric, categorical


def read_feature_docs(path: Path | None) -> dict[str, dict[str, str]]:
    """Descriptions and UI groups per column, from a JSON file of the form {"features": {name: {...}}}."""
    if path is None:
        return {}
    try:
        docs = json.loads(path.read_text(encoding="utf-8"))["features"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise DataError(
            f"Cannot read feature descriptions from {path} ({error}); fix it or omit --feature-docs."
        ) from error
    return {str(name): dict(entry) for name, entry in docs.items()}


def build_schema(
    features: pd.DataFrame,
    kinds: Mapping[str, FeatureKind],
    *,
    target: Target,
    ranks: Mapping[str, int],
    docs: Mapping[str, Mapping[str, str]],
) -> Schema:
    """The schema of the training features: kind, defaults, observed range or categories, docs and importance."""
    return Schema(
        target=target,
        features=[
            _feature(name, features[name], kind, rank=ranks.get(name, len(kinds)), doc=docs.get(name, {}))
            for name, kind in kinds.items()
        ],
    )


def _feature(name: str, column: pd.Series, kind: FeatureKind, *, rank: int, doc: Mapping[str, str]) -> Feature:
    values = column.dropna()
    minimum = maximum = accepted_minimum = accepted_maximum = None
    categories = None
    if kind in (FeatureKind.NUMBER, FeatureKind.INTEGER):
        minimum, maximum = float(values.min()), float(values.max())
        accepted_minimum, accepted_maximum = accepted_bounds(minimum, maximum, integer=kind is FeatureKind.INTEGER)
        default: FeatureValue | None = _round(float(values.median()), kind)
        generated = f"{name} (observed {_format(minimum)} to {_format(maximum)})"
    elif kind is FeatureKind.BOOLEAN:
        default = bool(values.mode().iloc[0]) if len(values) else False
        generated = f"{name} (yes or no)"
    else:
        categories = sorted(str(value) for value in values.unique())
        default = str(values.astype(str).mode().iloc[0]) if len(values) else None
        generated = f"{name} (one of {len(categories)} categories)"
    if _mostly_missing(column, values, kind):
        # No pool, no alley, no fence: an omitted field means that, not the most common value among the few
        # houses that have one (an excellent pool, from 4 of 2,930 sales).
        default = None
    return Feature(
        name=name,
        kind=kind,
        nullable=bool(column.isna().any()),
        default=default,
        minimum=minimum,
        maximum=maximum,
        accepted_minimum=accepted_minimum,
        accepted_maximum=accepted_maximum,
        categories=categories,
        description=doc.get("description", generated),
        importance_rank=rank,
        group=doc.get("group", DEFAULT_GROUP),
    )


def _mostly_missing(column: pd.Series, values: pd.Series, kind: FeatureKind) -> bool:
    """Missing is the typical value: more often than any category, or in most rows of a number."""
    missing = int(column.isna().sum())
    if len(values) == 0:
        return True
    if kind in (FeatureKind.NUMBER, FeatureKind.INTEGER):
        return missing > len(values)
    return missing >= int(values.astype(str).value_counts().max())


def _round(value: float, kind: FeatureKind) -> float | int:
    return int(math.floor(value + 0.5)) if kind is FeatureKind.INTEGER else value


def _format(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4g}"
