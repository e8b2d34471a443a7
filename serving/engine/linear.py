"""The linear part: a ColumnTransformer (imputed, compressed, scaled numbers; one-hot categories; ordinal
scales of categories; engineered columns) then a Ridge or a Huber regression (both predict `X @ coef_ + b`).

Numbers go through the fitted imputer statistics, the element-wise function and the scaler, with the same NumPy
operations scikit-learn applies. Categories need no work per request: the fitted categorical steps (missing fill,
one-hot with infrequent grouping, or an ordinal scale and its scaler) are run once on every slot, and each slot
keeps the one coefficient its column selects. The sum follows the order scikit-learn's own product takes: for a
sparse design matrix, scipy adds the row's entries one by one in column order (reproduced with a sequential
`np.add.accumulate`); for a dense one, the same `X @ coef` call on a matrix of the same layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import HuberRegressor, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from ..errors import UnsupportedModelError
from .derived import derived_steps, is_derivation
from .inputs import InputLayout

#: Element-wise functions the numeric steps may apply (each is applied as NumPy applies it in the pipeline).
ELEMENTWISE = {np.arcsinh, np.log1p, np.sqrt, np.tanh, np.expm1}

NumericStep = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class NumberBlock:
    columns: np.ndarray  # layout numeric indices, in the block's order
    fill: np.ndarray  # imputed value per column
    steps: tuple[NumericStep, ...]

    def transform(self, numbers: np.ndarray) -> np.ndarray:
        x = numbers[:, self.columns]
        missing = np.isnan(x)
        if missing.any():
            x[missing] = np.broadcast_to(self.fill, x.shape)[missing]
        for step in self.steps:
            x = step(x)
        return x


@dataclass(frozen=True)
class CategoryBlock:
    columns: np.ndarray  # layout categorical indices, in the block's order
    widths: tuple[int, ...]  # output columns of each input column
    slot_rows: np.ndarray  # (global slots, width): the fitted steps' output for each slot (zeros elsewhere)
    slot_terms: np.ndarray  # (global slots,): the one coefficient a slot selects, times its value (0.0 if none)

    @property
    def width(self) -> int:
        return sum(self.widths)

    def span(self, j: int) -> slice:
        start = sum(self.widths[:j])
        return slice(start, start + self.widths[j])


@dataclass(frozen=True)
class LinearPart:
    """The linear prediction from (numbers, slots), bit for bit as `Pipeline.predict` computes it."""

    blocks: tuple[NumberBlock | CategoryBlock, ...]
    coef: np.ndarray
    intercept: float
    sparse: bool

    def predict(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        if self.sparse:
            return self._sequential(numbers, slots)
        design = np.hstack([self._dense_block(block, numbers, slots) for block in self.blocks])
        result: np.ndarray = design @ self.coef + self.intercept
        return result

    def _sequential(self, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        terms, start = [], 0
        for block in self.blocks:
            if isinstance(block, NumberBlock):
                width = len(block.columns)
                terms.append(block.transform(numbers) * self.coef[start : start + width])
            else:
                width = block.width
                terms.append(block.slot_terms[slots[:, block.columns]])
            start += width
        row_terms = np.hstack(terms)
        return np.add.accumulate(row_terms, axis=1)[:, -1] + self.intercept

    @staticmethod
    def _dense_block(block: NumberBlock | CategoryBlock, numbers: np.ndarray, slots: np.ndarray) -> np.ndarray:
        if isinstance(block, NumberBlock):
            return block.transform(numbers)
        picked = slots[:, block.columns]
        return np.hstack([block.slot_rows[picked[:, j]][:, block.span(j)] for j in range(picked.shape[1])])


def compile_linear(pipeline: Pipeline, layout: InputLayout) -> LinearPart:
    """Raises UnsupportedModelError naming the first step it does not know."""
    columns, ridge = _two_steps(pipeline)
    blocks: list[NumberBlock | CategoryBlock] = []
    for name, transformer, selected in columns.transformers_:
        if transformer == "drop" or len(selected) == 0:
            continue
        if _is_categorical(transformer):
            blocks.append(_category_block(name, transformer, list(selected), layout))
        else:
            blocks.append(_number_block(name, transformer, list(selected), layout))
    coef = np.asarray(ridge.coef_, dtype=np.float64)
    if coef.ndim != 1:
        raise UnsupportedModelError(f"a linear model with {coef.shape[0]} targets")
    widths = sum(len(b.columns) if isinstance(b, NumberBlock) else b.width for b in blocks)
    if widths != coef.shape[0]:
        raise UnsupportedModelError(f"the ridge design has {widths} columns here but {coef.shape[0]} coefficients")
    blocks = [_with_terms(block, coef, _start(blocks, block)) for block in blocks]
    return LinearPart(tuple(blocks), coef, float(ridge.intercept_), bool(columns.sparse_output_))


def linear_columns(pipeline: Pipeline) -> tuple[list[str], dict[str, list[str]]]:
    """(numeric columns, categorical columns with their known categories) the linear part reads."""
    columns, _ = _two_steps(pipeline)
    numeric: list[str] = []
    categorical: dict[str, list[str]] = {}
    for _, transformer, selected in columns.transformers_:
        if transformer == "drop" or len(selected) == 0:
            continue
        if _is_categorical(transformer):
            encoder = next(step for step in _steps(transformer) if isinstance(step, (OneHotEncoder, OrdinalEncoder)))
            for name, known in zip(selected, encoder.categories_, strict=True):
                categorical[str(name)] = [str(value) for value in known if isinstance(value, str)]
        else:  # numbers, or the inputs of an engineered column
            numeric += [str(name) for name in selected]
    return numeric, categorical


def _two_steps(pipeline: Pipeline) -> tuple[ColumnTransformer, Ridge | HuberRegressor]:
    steps = [step for _, step in pipeline.steps]
    if len(steps) != 2 or not isinstance(steps[0], ColumnTransformer) or type(steps[1]) not in (Ridge, HuberRegressor):
        raise UnsupportedModelError(f"a linear part of shape {[type(s).__name__ for s in steps]}")
    if not all(
        isinstance(cols, list) and all(isinstance(c, str) for c in cols) for _, _, cols in steps[0].transformers_
    ):
        raise UnsupportedModelError("a ColumnTransformer that selects columns other than by a list of names")
    return steps[0], steps[1]


def _steps(transformer: Any) -> list[Any]:
    return [step for _, step in transformer.steps] if isinstance(transformer, Pipeline) else [transformer]


def _is_categorical(transformer: Any) -> bool:
    """A block of categories: one-hot, or an ordinal scale (then perhaps a scaler)."""
    return any(isinstance(step, (OneHotEncoder, OrdinalEncoder)) for step in _steps(transformer))


def _number_block(name: str, transformer: Any, selected: list[str], layout: InputLayout) -> NumberBlock:
    if is_derivation(transformer):  # the layout computes the column; its later steps are the block's
        later = tuple(_numeric_step(name, step) for step in derived_steps(transformer))
        return NumberBlock(layout.numeric_index([name]), np.zeros(1), later)
    steps = _steps(transformer)
    imputer = steps[0]
    if type(imputer) is not SimpleImputer or imputer.add_indicator or not np.isnan(imputer.missing_values):
        raise UnsupportedModelError(f"numeric block {name!r} does not start with a SimpleImputer of missing values")
    fill = np.asarray(imputer.statistics_, dtype=np.float64)
    if not np.all(np.isfinite(fill)):
        raise UnsupportedModelError(f"numeric block {name!r} has a column with no training values")
    return NumberBlock(layout.numeric_index(selected), fill, tuple(_numeric_step(name, step) for step in steps[1:]))


def _numeric_step(block: str, step: Any) -> NumericStep:
    if type(step) is FunctionTransformer and step.func in ELEMENTWISE and not step.kw_args:
        func = step.func
        return lambda x: func(x)
    if type(step) is StandardScaler:
        mean = np.asarray(step.mean_, dtype=np.float64) if step.with_mean else None
        scale = np.asarray(step.scale_, dtype=np.float64) if step.with_std else None

        def scaled(x: np.ndarray) -> np.ndarray:  # in place, as StandardScaler.transform does
            if mean is not None:
                x -= mean
            if scale is not None:
                x /= scale
            return x

        return scaled
    raise UnsupportedModelError(f"numeric block {block!r} has the step {step!r}, which the engine does not compile")


def _category_block(name: str, transformer: Any, selected: list[str], layout: InputLayout) -> CategoryBlock:
    steps = _steps(transformer)
    one_hot = [type(step) for step in steps] in ([OneHotEncoder], [SimpleImputer, OneHotEncoder])
    scale = [type(step) for step in steps] in ([OrdinalEncoder], [OrdinalEncoder, StandardScaler])
    if not (one_hot or scale):
        raise UnsupportedModelError(f"categorical block {name!r} has steps {[type(s).__name__ for s in steps]}")
    widths = [_one_hot_width(steps[-1], j) if one_hot else 1 for j in range(len(selected))]
    encoded = transformer.transform(layout.vocabulary_frame()[selected])
    encoded = encoded.toarray() if hasattr(encoded, "toarray") else np.asarray(encoded)
    columns = layout.category_index(selected)
    if sum(widths) != encoded.shape[1]:
        raise UnsupportedModelError(f"categorical block {name!r}: {encoded.shape[1]} columns, expected {sum(widths)}")
    slot_rows = np.zeros((layout.slot_count, encoded.shape[1]), dtype=np.float64)
    start = 0
    for j, width in zip(columns, widths, strict=True):
        column = layout.categorical[j]
        span = slice(start, start + width)
        slot_rows[column.offset : column.offset + len(column.vocabulary), span] = encoded[
            : len(column.vocabulary), span
        ]
        start += width
    return CategoryBlock(columns, tuple(widths), slot_rows, np.zeros(layout.slot_count))


def _one_hot_width(encoder: OneHotEncoder, j: int) -> int:
    width = len(encoder.categories_[j])
    try:
        infrequent = encoder.infrequent_categories_[j]
    except AttributeError:  # fitted without infrequent grouping
        infrequent = None
    if infrequent is not None:
        width += 1 - len(infrequent)
    if encoder.drop_idx_ is not None and encoder.drop_idx_[j] is not None:
        width -= 1
    return width


def _start(blocks: list[NumberBlock | CategoryBlock], target: NumberBlock | CategoryBlock) -> int:
    start = 0
    for block in blocks:
        if block is target:
            return start
        start += len(block.columns) if isinstance(block, NumberBlock) else block.width
    raise ValueError("block not in list")


def _with_terms(block: NumberBlock | CategoryBlock, coef: np.ndarray, start: int) -> NumberBlock | CategoryBlock:
    """A slot's term: its one non-zero output times that column's coefficient, as the sparse product adds it."""
    if isinstance(block, NumberBlock):
        return block
    rows = block.slot_rows
    nonzero = rows != 0
    if np.any(nonzero.sum(axis=1) > 1):
        raise UnsupportedModelError("a categorical encoding with more than one non-zero column per value")
    weights = coef[start : start + block.width]
    terms = np.where(nonzero.any(axis=1), (rows * weights).sum(axis=1), 0.0)
    return CategoryBlock(block.columns, block.widths, rows, terms)
