"""Build `reference.json` (drift baseline) and `examples.json` (real rows) from the training data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from modelrepo import EXAMPLES_FILE, FeatureValue, Schema
from modelrepo.reference import Reference, category_profile, decile_edges, numeric_profile


def build_reference(features: pd.DataFrame, schema: Schema, predictions: np.ndarray) -> Reference:
    numeric = {}
    categorical = {}
    for feature in schema.features:
        column = features[feature.name]
        if feature.categories is not None:
            categorical[feature.name] = category_profile(column.tolist(), feature.categories)
        else:
            values = pd.to_numeric(column, errors="coerce").astype(float).to_numpy()
            numeric[feature.name] = numeric_profile(values, decile_edges(values))
    return Reference(
        rows=len(features),
        numeric=numeric,
        categorical=categorical,
        prediction=numeric_profile(predictions, decile_edges(predictions)),
    )


def json_row(row: pd.Series) -> dict[str, FeatureValue | None]:
    """A row as JSON-native values: NaN becomes null, NumPy scalars become Python ones."""
    return {str(name): _native(value) for name, value in row.items()}


def write_examples(folder: Path, rows: pd.DataFrame, *, predictions: np.ndarray, actual: np.ndarray) -> Path:
    """Real sales with the model's prices: UI examples, API docs, and a check that serving reproduces them."""
    path = folder / EXAMPLES_FILE
    document = {
        "rows": [json_row(row) for _, row in rows.iterrows()],
        "predictions": [float(value) for value in predictions],
        "actual": [float(value) for value in actual],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def _native(value: object) -> FeatureValue | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        native = value.item()
        return None if isinstance(native, float) and math.isnan(native) else native
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
