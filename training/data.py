"""Load a training table and split it into features and target, the same way for Ames and any other CSV."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelrepo import DataFingerprint

from .errors import DataError

DATA_DIR = Path(__file__).resolve().parent / "data"
AMES_CSV = DATA_DIR / "ames.csv.gz"
AMES_FEATURE_DOCS = DATA_DIR / "ames_features.json"
AMES_TARGET = "SalePrice"
AMES_ID_COLUMNS = ("Order", "PID")
AMES_CITATION = (
    "De Cock, D. (2011). Ames, Iowa: Alternative to the Boston Housing Data as an End of Semester Regression "
    "Project. Journal of Statistics Education, 19(3). https://doi.org/10.1080/10691898.2011.11889627"
)

#: Only an empty cell is missing: "None" and "NA" are real categories in Ames (e.g. `Mas Vnr Type`).
NA_MARKERS = [""]


@dataclass(frozen=True)
class TrainingTable:
    """Features and target, with the fingerprint that identifies the table they came from."""

    features: pd.DataFrame
    target: pd.Series
    fingerprint: DataFingerprint


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (plain or compressed) keeping "None" and "NA" as categories.

    Raises:
        DataError: the file is missing, unreadable or has no rows.
    """
    if not path.is_file():
        raise DataError(f"Data file not found: {path}. Pass an existing CSV with --data.")
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=NA_MARKERS)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise DataError(
            f"Cannot read {path} as CSV ({error}). Pass a comma-separated file with a header row."
        ) from error
    if table.empty:
        raise DataError(f"{path} has no data rows. Pass a CSV with a header and at least one row per sale.")
    return table


def split_target(table: pd.DataFrame, *, target: str, drop: tuple[str, ...], source: str) -> TrainingTable:
    """Separate the target, drop identifier columns and fingerprint the canonical table.

    Raises:
        DataError: the target column is missing, not numeric, or has missing or non-positive values
            (the model learns the log of the target).
    """
    if target not in table.columns:
        raise DataError(
            f"Target column {target!r} is not in the data (columns: {', '.join(map(str, table.columns[:12]))}"
            f"{', …' if len(table.columns) > 12 else ''}). Name it with --target."
        )
    values = pd.to_numeric(table[target], errors="coerce")
    if values.isna().any():
        raise DataError(
            f"Target column {target!r} must be numeric with no missing values; "
            f"{int(values.isna().sum())} of {len(values)} rows are not. Clean the data or choose another --target."
        )
    if (values <= 0).any():
        raise DataError(f"Target column {target!r} must be positive (the model predicts its logarithm).")
    features = table.drop(columns=[target, *[c for c in drop if c in table.columns]])
    if features.shape[1] == 0:
        raise DataError("No feature columns are left after removing the target and identifiers.")
    return TrainingTable(
        features=features.reset_index(drop=True),
        target=values.astype(float).rename(target).reset_index(drop=True),
        fingerprint=fingerprint(table, source=source),
    )


def canonical_csv(table: pd.DataFrame) -> bytes:
    """The table as one exact CSV text (UTF-8, `\\n` lines, empty cells for missing): what the fingerprint hashes,
    and what the Hub dataset holds, so that its file's sha256 is the model's data fingerprint."""
    return table.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


def fingerprint(table: pd.DataFrame, *, source: str) -> DataFingerprint:
    """sha256 of the table's canonical CSV form: the same data gives the same hash, whatever the file."""
    canonical = canonical_csv(table)
    return DataFingerprint(
        sha256=hashlib.sha256(canonical).hexdigest(), rows=len(table), columns=table.shape[1], source=source
    )


def outlier_mask(features: pd.DataFrame, *, column: str, above: float) -> np.ndarray:
    """Rows De Cock advises removing (living area above 4,000 sq ft); all False when the column is absent."""
    if column not in features.columns:
        return np.zeros(len(features), dtype=bool)
    return (pd.to_numeric(features[column], errors="coerce") > above).to_numpy()
