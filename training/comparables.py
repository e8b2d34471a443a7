"""Write `comparables.csv`: the sales the final model was fitted on, with only the columns serving shows or compares.

Which columns is the contract's rule (`modelrepo.ComparableColumns`), so that serving reads the file with the
same rule. Integer features (and a whole-dollar target) are written without a decimal point, missing values as
empty cells, `\\n` line ends: the same data gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelrepo import COMPARABLES_FILE, ComparableColumns, FeatureKind, Schema


@dataclass(frozen=True)
class ComparablesWritten:
    """What the card and the progress line say about the file."""

    rows: int
    columns: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return COMPARABLES_FILE


def write_comparables(
    folder: Path, features: pd.DataFrame, target: pd.Series, *, fitted: np.ndarray, schema: Schema
) -> ComparablesWritten:
    """Write the rows of `features` selected by the boolean mask `fitted` (the final model's training rows)."""
    columns = ComparableColumns.for_schema(schema)
    table = pd.DataFrame({name: _typed(features[name], schema.feature(name).kind) for name in columns.features}).loc[
        fitted
    ]
    prices = target.loc[fitted]
    whole = bool((prices == prices.round()).all())
    table[columns.target] = prices.astype("Int64") if whole else prices.astype(float)
    text = table.to_csv(index=False, lineterminator="\n", na_rep="")
    (folder / COMPARABLES_FILE).write_bytes(text.encode("utf-8"))
    return ComparablesWritten(rows=len(table), columns=tuple(columns.all))


def _typed(column: pd.Series, kind: FeatureKind) -> pd.Series:
    if kind is FeatureKind.INTEGER:
        return pd.to_numeric(column).round().astype("Int64")
    if kind is FeatureKind.NUMBER:
        return pd.to_numeric(column).astype(float)
    if kind is FeatureKind.BOOLEAN:
        return column.astype("boolean")
    return column
