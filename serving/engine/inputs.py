"""Validated rows to the two arrays the compiled engine works on: numbers, and one slot per category.

Every categorical value the model can tell apart gets a slot: missing (None) first, then each known category,
then one slot for anything else (unseen). Engineered columns (`derived.py`) follow the schema's numbers in the
numbers array, computed from them. Each fitted encoder is evaluated once on those slots when the engine
is built, so a request only looks values up; the slots of all columns are numbered globally, so one gather
reads a per-slot table for every column at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from modelrepo import Schema, to_frame

from .derived import Derivation

#: Stands for every value no encoder saw: it is not a category of any column, so each encoder treats it as unknown.
UNSEEN = "\x00unseen"


@dataclass(frozen=True)
class CategoryColumn:
    name: str
    vocabulary: tuple[str | None, ...]  # slot order: None, the known categories, UNSEEN
    offset: int  # global number of this column's first slot

    @property
    def unseen_slot(self) -> int:
        return self.offset + len(self.vocabulary) - 1


class InputLayout:
    """Which columns the model reads, and how a row's values become array entries."""

    def __init__(
        self,
        schema: Schema,
        numeric: Iterable[str],
        categorical: Mapping[str, Iterable[str]],
        derived: Iterable[Derivation] = (),
    ) -> None:
        self.schema = schema
        self.raw_numeric = tuple(numeric)  # the schema's numbers the model reads
        self.derived = tuple(derived)  # then the engineered columns, computed from them
        self.numeric = (*self.raw_numeric, *(column.name for column in self.derived))
        columns, offset = [], 0
        for name, known in categorical.items():
            vocabulary = (None, *sorted(set(known)), UNSEEN)
            columns.append(CategoryColumn(name, vocabulary, offset))
            offset += len(vocabulary)
        self.categorical = tuple(columns)
        self.slot_count = offset
        self._numbers = _getter(self.raw_numeric)
        self._categories = _getter(tuple(column.name for column in self.categorical))
        self._slots = [
            {value: column.offset + n for n, value in enumerate(column.vocabulary[:-1])} for column in self.categorical
        ]
        self._unseen = [column.unseen_slot for column in self.categorical]

    def numeric_index(self, names: Sequence[str]) -> np.ndarray:
        return np.array([self.numeric.index(name) for name in names], dtype=np.intp)

    def category_index(self, names: Sequence[str]) -> np.ndarray:
        positions = {column.name: n for n, column in enumerate(self.categorical)}
        return np.array([positions[name] for name in names], dtype=np.intp)

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """(numbers, shape rows × numeric columns, NaN where missing; global slots, rows × categorical columns).

        Rows are complete (every feature present), as the validator returns them.
        """
        numbers = np.array([self._numbers(row) for row in rows], dtype=np.float64).reshape(
            len(rows), len(self.raw_numeric)
        )
        if self.derived:
            numbers = np.hstack([numbers, *(column.compute(numbers) for column in self.derived)])
        lookups, unseen, values = self._slots, self._unseen, self._categories
        slots = np.array([list(map(dict.get, lookups, values(row), unseen)) for row in rows], dtype=np.intp).reshape(
            len(rows), len(self.categorical)
        )
        return numbers, slots

    def vocabulary_frame(self) -> Any:
        """A DataFrame typed as serving types rows (`to_frame`), one row per slot (padded with missing values):
        fitted encoders are run on it once to learn what each slot becomes."""
        length = max((len(column.vocabulary) for column in self.categorical), default=1)
        rows: list[dict[str, Any]] = [{} for _ in range(length)]
        for column in self.categorical:
            for n, value in enumerate(column.vocabulary):
                rows[n][column.name] = value
        return to_frame(rows, self.schema)


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    if not names:
        return lambda row: ()
    getter = itemgetter(*names)
    return getter
