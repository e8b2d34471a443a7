"""Exact or not at all: the compiled engine must give the pipeline's bits on rows that reach every kind of branch.

The rows: the model repository's examples, then rows drawn (with a fixed seed) from each column's telling values:
for numbers, missing, the training extremes and the default, far beyond the range on both sides, and every
threshold the trees split that column at and the next float above it; for categories, missing, every category
the schema or an encoder knows (infrequent ones included) and one no encoder saw. Each row is priced by the
pipeline in one batch and by the engine in one batch and one row at a time; one differing bit fails the check.
The spread of the members' predictions (which sizes the price ranges) must match the pipeline's bit for bit too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelrepo import FeatureKind, Schema, member_spread, to_frame

from .compiled import CompiledModel
from .trees import Coverage

#: Rows drawn at random besides the examples; with the shipped model they take both sides of every split.
CHECK_ROWS = 2000
#: Rows priced one at a time too, compared with the batch (the single-row path is the batch path with one row).
SINGLE_ROWS = 200
#: Rows priced one at a time by the pipeline as well (about 30 ms each): the examples.
PIPELINE_SINGLE_ROWS = 3


@dataclass(frozen=True)
class CheckResult:
    rows: int
    differing: int
    first_difference: str  # "" when exact

    @property
    def exact(self) -> bool:
        return self.differing == 0

    def summary(self) -> str:
        if not self.exact:
            return (
                f"differs from the pipeline on {self.differing:,} of {self.rows:,} check rows ({self.first_difference})"
            )
        return f"bit-identical to the pipeline on {self.rows:,} check rows"


def check_exact(
    compiled: CompiledModel, model: Any, schema: Schema, examples: Sequence[Mapping[str, Any]]
) -> CheckResult:
    rows = check_rows(compiled, schema, examples)
    frame = to_frame(rows, schema)
    expected = np.asarray(model.predict(frame), dtype=np.float64)
    prices, spread = compiled.predict_with_spread(rows)
    differs = ~_same_bits(compiled.predict(rows), expected) | ~_same_bits(prices, expected)
    expected_spread = member_spread(model, frame)  # the members' disagreement sizes each house's price range
    if expected_spread is not None:
        differs |= ~_same_bits(spread, expected_spread)
    # One row at a time: against the pipeline's own single-row answers on a few rows, and, where the answer does
    # not depend on the batch it is in (no dense matrix product, whose BLAS kernel sums a lone row in another
    # order), against the batch on many more.
    for n, row in enumerate(rows[:PIPELINE_SINGLE_ROWS]):
        alone = np.asarray(model.predict(to_frame([row], schema)), dtype=np.float64)
        differs[n] |= not _same_bits(compiled.predict([row]), alone)[0]
    if compiled.batch_invariant:
        single = np.array([compiled.predict([row])[0] for row in rows[:SINGLE_ROWS]])
        differs[: len(single)] |= ~_same_bits(single, expected[: len(single)])
    first = ""
    if differs.any():
        n = int(np.flatnonzero(differs)[0])
        first = f"first at check row {n + 1}, whose pipeline price is {expected[n]!r}"
    return CheckResult(rows=len(rows), differing=int(differs.sum()), first_difference=first)


def split_coverage(compiled: CompiledModel, rows: Sequence[Mapping[str, Any]]) -> Coverage | None:
    """Which sides of the trees' splits the rows take (None without trees): how thorough a set of check rows is."""
    trees = compiled.trees
    return trees.coverage(*compiled.layout.arrays(rows)) if trees is not None else None


def check_rows(compiled: CompiledModel, schema: Schema, examples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The examples (completed with the defaults) then the probe rows: what `check_exact` prices."""
    return [*({**schema.defaults(), **dict(example)} for example in examples), *probe_rows(compiled, schema)]


def probe_rows(
    compiled: CompiledModel, schema: Schema, *, seed: int = 0, count: int = CHECK_ROWS
) -> list[dict[str, Any]]:
    """Complete rows whose every value is one the model treats in a way of its own (see the module docstring)."""
    rng = np.random.default_rng(seed)
    choices = _telling_values(compiled, schema)
    names = list(choices)
    picked = [[choices[name][i] for i in rng.integers(len(choices[name]), size=count)] for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*picked, strict=True)]


def _telling_values(compiled: CompiledModel, schema: Schema) -> dict[str, list[Any]]:
    layout, trees = compiled.layout, compiled.trees
    thresholds: dict[int, list[float]] = {}
    if trees is not None:
        for column, threshold in zip(trees.number_columns, trees.thresholds, strict=True):
            thresholds.setdefault(int(column), []).append(float(threshold))
    choices: dict[str, list[Any]] = {name: [value] for name, value in schema.defaults().items()}
    for index, name in enumerate(layout.raw_numeric):  # engineered columns follow them, computed
        feature = schema.feature(name)
        low, high = feature.minimum or 0.0, feature.maximum or 1.0
        span = max(high - low, 1.0)
        values: list[Any] = [None, low, high, feature.default, low - span, high + 10 * span]
        for threshold in thresholds.get(index, []):
            if np.isfinite(threshold):
                values += [threshold, float(np.nextafter(threshold, np.inf))]
        if feature.kind is FeatureKind.INTEGER:
            values = [None if v is None else round(v) for v in values]
        elif feature.kind is FeatureKind.BOOLEAN:
            values = [None, True, False]
        choices[name] = values
    for column in layout.categorical:
        choices[column.name] = list(column.vocabulary)
    return choices


def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64) == np.asarray(b, dtype=np.float64).view(np.uint64)
