"""Build the model's input DataFrame from JSON-like rows, typed by the schema.

The pipeline needs each column's type to match training whatever the values: a category column with every
value missing must still be a string column (not float NaN), and numbers must be floats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .schema import FeatureKind, FeatureValue, Schema


def to_frame(rows: Sequence[Mapping[str, FeatureValue | None]], schema: Schema) -> pd.DataFrame:
    """One row per mapping, columns in schema order; absent keys and None become missing values."""
    columns: dict[str, pd.Series] = {}
    for feature in schema.features:
        values = [row.get(feature.name) for row in rows]
        if feature.kind is FeatureKind.CATEGORY:
            columns[feature.name] = pd.Series(values, dtype="str")
        else:
            columns[feature.name] = pd.Series(
                [np.nan if value is None else float(value) for value in values], dtype="float64"
            )
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))
