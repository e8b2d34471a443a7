"""Comparable sales: for a house being priced, the training sales most like it, from `comparables.csv`.

The rule, for a validated row and `k` (5 by default):

1. Sales in the house's group (its `Neighborhood`) come first, then the others: a house in a neighbourhood with
   fewer than `k` sales gets all of them, then the nearest others. A house whose group is missing or unknown
   (or a table without a group column) gets the nearest sales of any group.
2. Within each part, sales are ordered by a weighted L1 distance over the distance features (the most important
   numeric features, `modelrepo.ComparableColumns`), each scaled the way the model sees it: with the ridge part's
   own fitted numeric steps (median imputation, `np.arcsinh`, `StandardScaler`), and weighted by the absolute
   ridge coefficient of that column:

       distance = Σ_j |coef_j| · |z_j(house) − z_j(sale)|

   that is, how much the linear model says these differences move the log price (0.1 is about 10%). A missing
   value, in the house or in a sale, is imputed with the fitted median, as the model does.
3. Equal distances keep the file's row order (a stable sort): a training row finds itself first, at distance 0.

A model without that ridge part falls back to the file's own statistics: median imputation and standardisation
with the file's mean and standard deviation, every feature weighted 1, so the distance counts standard
deviations rather than log price (`Comparables.scaling` says which rule is in use).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelrepo import COMPARABLES_FILE, SCHEMA_FILE, ComparableColumns, Feature, FeatureKind, FeatureValue, Schema

from .errors import StartupError

Step = Callable[[np.ndarray], np.ndarray]
Scaled = Literal["model", "data"]
_FIX = "Train the version again, or train it with --no-comparables to leave the file out."


@dataclass(frozen=True)
class Comparable:
    """One training sale shown beside an estimate."""

    sale_price: float
    sold: str | None  # "YYYY-MM", or None when the table has no month and year of sale (or they are missing)
    distance: float
    features: dict[str, FeatureValue | None]  # the display features, as in the file (None where missing)
    same_group: bool  # in the house's neighbourhood: the rule puts these first

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: `sale_price`, `sold`, `distance`, `features`, and `same_group` (the display features need
        not include the group column, for a table other than Ames)."""
        return {
            "sale_price": self.sale_price,
            "sold": self.sold,
            "distance": self.distance,
            "features": dict(self.features),
            "same_group": self.same_group,
        }


@dataclass(frozen=True)
class _Scaling:
    """Distance features → the scaled values the distance compares, and each feature's weight."""

    fill: np.ndarray
    steps: tuple[Step, ...]
    weights: np.ndarray
    source: Scaled  # "model": the ridge's fitted steps and coefficients; "data": the file's own statistics

    def transform(self, values: np.ndarray) -> np.ndarray:
        scaled = np.where(np.isnan(values), self.fill, values)
        for step in self.steps:
            scaled = step(scaled)
        return np.ascontiguousarray(scaled, dtype=float)


@dataclass(frozen=True, eq=False)
class Comparables:
    """The training sales of one version, ready to answer `nearest` in well under a millisecond."""

    columns: ComparableColumns
    scaling: Scaled  # "model" or "data" (see the module docstring)
    _transform: _Scaling
    _scaled: np.ndarray  # (sales, distance features)
    _groups: np.ndarray  # group code per sale (-1: missing)
    _group_codes: dict[str, int]
    _prices: list[float]
    _sold: list[str | None]
    _display: dict[str, list[FeatureValue | None]]

    @classmethod
    def load(cls, folder: Path, *, schema: Schema, model: Any) -> Comparables | None:
        """Read `comparables.csv` from a verified version folder; None if the version has none.

        Raises:
            StartupError: the file does not match the schema (names the column, and the line for a bad value).
        """
        path = folder / COMPARABLES_FILE
        if not path.is_file():
            return None
        columns = ComparableColumns.for_schema(schema)
        table = _read(path, columns)
        values = {name: _column(table, schema.feature(name)) for name in columns.features}
        prices = _prices(table[columns.target], columns.target)
        distance = np.array([values[name] for name in columns.distance], dtype=float).T  # None → NaN
        distance = distance.reshape(len(table), len(columns.distance))  # also with no distance feature
        scaling = _model_scaling(model, columns.distance) or _data_scaling(distance)
        groups, codes = _group_codes(values[columns.group] if columns.group else [None] * len(table))
        return cls(
            columns=columns,
            scaling=scaling.source,
            _transform=scaling,
            _scaled=scaling.transform(distance),
            _groups=groups,
            _group_codes=codes,
            _prices=prices,
            _sold=_sold(values, columns.sold, len(table)),
            _display={name: values[name] for name in columns.display},
        )

    def __len__(self) -> int:
        return len(self._prices)

    def nearest(self, row: Mapping[str, Any], k: int = 5) -> list[Comparable]:
        """The `k` comparable sales of a validated row (every schema feature present, None where missing)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        house = np.array([[_number(row.get(name)) for name in self.columns.distance]], dtype=float)
        distance = np.abs(self._scaled - self._transform.transform(house)) @ self._transform.weights
        group = row.get(self.columns.group) if self.columns.group else None
        code = None if group is None else self._group_codes.get(str(group))
        same = self._groups == code if code is not None else np.zeros(len(self), dtype=bool)
        first = _smallest(distance, np.flatnonzero(same), k)
        rest = _smallest(distance, np.flatnonzero(~same), k - len(first))
        return [self._comparable(int(i), float(distance[i]), bool(same[i])) for i in (*first, *rest)]

    def _comparable(self, index: int, distance: float, same_group: bool) -> Comparable:
        return Comparable(
            sale_price=self._prices[index],
            sold=self._sold[index],
            distance=distance,
            features={name: values[index] for name, values in self._display.items()},
            same_group=same_group,
        )


def _smallest(distance: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """The `k` of `rows` (ascending) nearest first, equal distances in row order: a partition, then a stable sort
    of the few rows at or below the k-th distance."""
    if k <= 0 or len(rows) == 0:
        return rows[:0]
    if len(rows) > k:
        near = distance[rows]
        rows = rows[near <= np.partition(near, k - 1)[k - 1]]
    return rows[np.argsort(distance[rows], kind="stable")[:k]]


def _model_scaling(model: Any, names: Sequence[str]) -> _Scaling | None:
    """The fitted ridge's numeric steps and coefficients for `names`; None if the model has no such part."""
    try:
        ridge = model.regressor_.estimators_[0]
        columns = ridge.named_steps["columns"]
        numbers = columns.named_transformers_["numbers"]
        inputs = list(next(selected for name, _, selected in columns.transformers_ if name == "numbers"))
        coef = np.ravel(ridge.steps[-1][1].coef_)[columns.output_indices_["numbers"]]
        steps = list(numbers.named_steps.values())
    except (AttributeError, KeyError, IndexError, TypeError, StopIteration):
        return None
    if len(coef) != len(inputs) or not set(names) <= set(inputs):
        return None  # an imputer that dropped an empty column shifts the coefficients: do not guess
    index = [inputs.index(name) for name in names]
    return _fitted_steps(steps, index, np.abs(coef[index]))


def _fitted_steps(steps: Sequence[Any], index: list[int], weights: np.ndarray) -> _Scaling | None:
    """Median imputer first, then element-wise NumPy functions and a standard scaler; anything else is unknown."""
    if not steps or not isinstance(steps[0], SimpleImputer):
        return None
    fill = np.asarray(steps[0].statistics_, dtype=float)[index]
    functions: list[Step] = []
    for step in steps[1:]:
        if isinstance(step, FunctionTransformer) and isinstance(step.func, np.ufunc) and not step.kw_args:
            functions.append(step.func)
        elif isinstance(step, StandardScaler):
            mean = np.zeros(len(index)) if step.mean_ is None else np.asarray(step.mean_, dtype=float)[index]
            scale = np.ones(len(index)) if step.scale_ is None else np.asarray(step.scale_, dtype=float)[index]
            functions.append(_standardise(mean, scale))
        else:
            return None
    return _Scaling(fill=fill, steps=tuple(functions), weights=weights, source="model")


def _data_scaling(values: np.ndarray) -> _Scaling:
    with warnings.catch_warnings():  # an all-missing column has no median: it then counts for nothing
        warnings.simplefilter("ignore", RuntimeWarning)
        fill = np.nan_to_num(np.nanmedian(values, axis=0), nan=0.0) if len(values) else np.zeros(values.shape[1])
    filled = np.where(np.isnan(values), fill, values)
    scale = filled.std(axis=0)
    scale[scale == 0] = 1.0
    return _Scaling(
        fill=fill,
        steps=(_standardise(filled.mean(axis=0), scale),),
        weights=np.ones(values.shape[1]),
        source="data",
    )


def _standardise(mean: np.ndarray, scale: np.ndarray) -> Step:
    return lambda values: (values - mean) / scale


# -- reading and checking the file ------------------------------------------------------------------------


def _read(path: Path, columns: ComparableColumns) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise StartupError(f"{COMPARABLES_FILE} cannot be read as CSV ({error}). {_FIX}") from error
    expected = columns.all
    missing = [name for name in expected if name not in table.columns]
    unexpected = [str(name) for name in table.columns if name not in expected]
    if missing or unexpected:
        problem = f"column {missing[0]!r} is missing" if missing else f"column {unexpected[0]!r} is not expected"
        raise StartupError(
            f"{COMPARABLES_FILE} does not match {SCHEMA_FILE}: {problem} (expected the columns "
            f"{', '.join(expected)}). {_FIX}"
        )
    if table.empty:
        raise StartupError(f"{COMPARABLES_FILE} has no rows. {_FIX}")
    return table


def _column(table: pd.DataFrame, feature: Feature) -> list[FeatureValue | None]:
    """The column typed as the schema says; a value of another kind is refused, naming its line."""
    cells = table[feature.name]
    given = cells.notna().to_numpy()
    values: list[FeatureValue | None]
    if feature.kind is FeatureKind.CATEGORY:
        values = [str(cell) if present else None for cell, present in zip(cells, given, strict=True)]
        known = set(feature.categories or ())
        bad = [i for i, value in enumerate(values) if value is not None and known and value not in known]
        expected = f"a category of {SCHEMA_FILE}"
    elif feature.kind is FeatureKind.BOOLEAN:
        flags = {"True": True, "False": False}
        values = [flags.get(str(cell)) if present else None for cell, present in zip(cells, given, strict=True)]
        bad = [i for i, value in enumerate(values) if value is None and given[i]]
        expected = "True or False"
    else:
        numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
        finite = np.isfinite(numbers)
        wrong = given & ~finite
        if feature.kind is FeatureKind.INTEGER:
            wrong |= finite & (numbers != np.round(numbers))
        bad = np.flatnonzero(wrong).tolist()
        values = [_as_kind(number, feature.kind) if ok else None for number, ok in zip(numbers, finite, strict=True)]
        expected = "a whole number" if feature.kind is FeatureKind.INTEGER else "a number"
    if bad:
        raise StartupError(
            f"{COMPARABLES_FILE} does not match {SCHEMA_FILE}: column {feature.name!r} line {bad[0] + 2} holds "
            f"{cells.iloc[bad[0]]!r}, expected {expected}. {_FIX}"  # line 1 is the header
        )
    return values


def _as_kind(number: float, kind: FeatureKind) -> FeatureValue:
    return int(number) if kind is FeatureKind.INTEGER else float(number)


def _prices(cells: pd.Series, name: str) -> list[float]:
    prices = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(prices) | (prices <= 0))
    if len(bad):
        raise StartupError(
            f"{COMPARABLES_FILE} does not match {SCHEMA_FILE}: column {name!r} line {int(bad[0]) + 2} holds "
            f"{cells.iloc[int(bad[0])]!r}, expected a positive sale price. {_FIX}"
        )
    return [float(price) for price in prices]


def _group_codes(values: Sequence[FeatureValue | None]) -> tuple[np.ndarray, dict[str, int]]:
    codes: dict[str, int] = {}
    for value in values:
        if value is not None:
            codes.setdefault(str(value), len(codes))
    groups = np.array([-1 if value is None else codes[str(value)] for value in values], dtype=np.int64)
    return groups, codes


def _sold(values: Mapping[str, list[FeatureValue | None]], sold: tuple[str, str] | None, rows: int) -> list[str | None]:
    if sold is None:
        return [None] * rows
    months, years = values[sold[0]], values[sold[1]]
    return [
        f"{int(year):04d}-{int(month):02d}" if month is not None and year is not None else None
        for month, year in zip(months, years, strict=True)
    ]


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)
