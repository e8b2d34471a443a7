"""Infer the input schema from the data itself, so that any table trains the same way as Ames."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

import pandas as pd

from modelrepo import Feature, FeatureKind, FeatureValue, Schema, Target
from modelrepo.schema import accepted_bounds

from .errors import DataError

DEFAULT_GROUP = "Other"


class FeatureDoc(TypedDict, total=False):
    """What the feature docs may say about one column; every key is optional."""

    title: str  # a readable name for the page ("Above-grade living area (sq ft)")
    description: str
    group: str  # the folded section of the form
    values: dict[str, str]  # readable names of coded values, by the code as text ("NAmes", or "20" for a number)


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


def read_feature_docs(path: Path | None) -> dict[str, FeatureDoc]:
    """Titles, descriptions, UI groups and value names per column, from a JSON file {"features": {name: {...}}}.

    Raises:
        DataError: the file is unreadable, or an entry is not text where text is expected.
    """
    if path is None:
        return {}
    try:
        docs = json.loads(path.read_text(encoding="utf-8"))["features"]
        entries = {str(name): dict(entry) for name, entry in docs.items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(
            f"Cannot read feature descriptions from {path} ({error}); fix it or omit --feature-docs."
        ) from error
    return {name: _feature_doc(path, name, entry) for name, entry in entries.items()}


def _feature_doc(path: Path, name: str, entry: dict[str, object]) -> FeatureDoc:
    texts = {key: entry[key] for key in ("title", "description", "group") if key in entry}
    values = entry.get("values", {})
    if not all(isinstance(text, str) for text in texts.values()) or not (
        isinstance(values, dict) and all(isinstance(label, str) for label in values.values())
    ):
        raise DataError(
            f"{path}: the entry of {name!r} must hold text: title, description and group as strings, and values "
            'as {code: name}, e.g. {"NAmes": "North Ames"}.'
        )
    doc = FeatureDoc(**texts)  # type: ignore[typeddict-item]
    if values:
        doc["values"] = {str(code): label for code, label in values.items()}
    return doc


def build_schema(
    features: pd.DataFrame,
    kinds: Mapping[str, FeatureKind],
    *,
    target: Target,
    ranks: Mapping[str, int],
    docs: Mapping[str, FeatureDoc],
) -> Schema:
    """The schema of the training features: kind, defaults, observed range or categories, docs and importance."""
    return Schema(
        target=target,
        features=[
            _feature(name, features[name], kind, rank=ranks.get(name, len(kinds)), doc=docs.get(name, {}))
            for name, kind in kinds.items()
        ],
    )


def _feature(name: str, column: pd.Series, kind: FeatureKind, *, rank: int, doc: FeatureDoc) -> Feature:
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
        title=doc.get("title"),
        labels=_labels(doc.get("values"), values, kind),
    )


def _labels(documented: Mapping[str, str] | None, values: pd.Series, kind: FeatureKind) -> dict[str, str] | None:
    """The documented names of the codes that training saw (a number's codes as text: "20"), in the data's order."""
    if not documented:
        return None
    if kind in (FeatureKind.NUMBER, FeatureKind.INTEGER):
        seen = [str(_round(float(value), kind)) for value in sorted(values.unique())]
    else:
        seen = sorted(str(value) for value in values.unique())
    labels = {code: documented[code] for code in seen if code in documented}
    return labels or None


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
