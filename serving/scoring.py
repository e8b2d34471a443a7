"""What one partition of a batch job becomes on a worker: its rows validated and priced as the app does.

A task carries a `ModelPin` (where the model lives and the exact commit: a few strings), never the model: each
worker process loads the version once, through the app's loader (sha256 check against the manifest, the skops
allowlist, the warm-up and the compiled engine), and keeps it for every later partition of the job.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from .engine import EngineMode
from .errors import InputError, StartupError
from .loader import ServedModel, load_served_model
from .monitor import Monitor
from .predictor import Predictor
from .results import Estimate
from .settings import ServingSettings
from .validation import Row

#: Added to the input's columns in the output, in this order.
OUTPUT_COLUMNS = ("price", "low", "high", "low_95", "high_95", "model_version", "model_commit", "error")
#: Rows validated and priced together: the REST batch's default size, so each chunk takes the REST route's path.
CHUNK_ROWS = 1000
#: Rows turned into the validator's dicts at once (per column, so the fewer slices the faster), bounding memory.
SLICE_ROWS = 10 * CHUNK_ROWS


@dataclass(frozen=True)
class ModelPin:
    """Where a worker finds the model, and the one commit it must load. The Hub token is not here (it would travel
    in the task graph): workers read HF_TOKEN, or the saved login, from their own environment."""

    model_repo: str | None
    registry: str  # absolute: a worker's working directory may differ (on a remote cluster: a shared folder)
    version: str
    commit: str
    engine: str = EngineMode.AUTO.value

    def settings(self) -> ServingSettings:
        return ServingSettings(
            model_repo=self.model_repo,
            registry=Path(self.registry),
            revision=self.commit,
            hf_token=os.environ.get("HF_TOKEN") or None,
            engine=EngineMode(self.engine),
        )


class _Unmonitored(Monitor):
    """A batch job keeps no prediction log, metrics or drift window (its output file is the record), so the
    predictor's reports go nowhere; `Predictor.price_batch` calls only these two."""

    def __init__(self) -> None:  # no log folder, no Prometheus registry, no Hub mirror
        pass

    def priced(
        self, surface: str, rows: Sequence[Row], estimates: Sequence[Estimate], *, seconds: float, batch: bool
    ) -> None:
        pass

    def rejected(self, surface: str, outcome: str) -> None:
        pass


class Scorer:
    """The app's validator and predictor over one loaded version, for whole DataFrames."""

    def __init__(self, served: ServedModel, *, version: str) -> None:
        self.predictor = Predictor(served, max_rows=CHUNK_ROWS, monitor=_Unmonitored())
        self.validator = self.predictor.validator
        self.features = frozenset(served.schema.names)
        self.version, self.commit = version, served.commit

    @classmethod
    def load(cls, pin: ModelPin) -> Scorer:
        """Raises StartupError if the store no longer holds the pinned commit, or the files fail their checks."""
        served = load_served_model(pin.settings())
        if served.commit != pin.commit:  # resolve() by a full sha cannot name another, but say so if it ever does
            raise StartupError(f"Asked for commit {pin.commit} of {pin.version}, the store gave {served.commit}.")
        return cls(served, version=pin.version)

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The input's columns plus price, low, high (the 80% range), low_95, high_95 (the 95% range; empty for a
        version without one), model_version, model_commit and error (a bad row's message, as the REST batch route
        gives it without the `row N: ` prefix; such a row has no price)."""
        prices = np.full((len(frame), 5), np.nan)
        errors: list[str | None] = [None] * len(frame)
        for start in range(0, len(frame), SLICE_ROWS):  # raw and checked rows take a few KB each
            checked = self.check(frame.iloc[start : start + SLICE_ROWS])
            for offset in range(0, len(checked), CHUNK_ROWS):
                chunk = checked[offset : offset + CHUNK_ROWS]
                for n, result in enumerate(self.predictor.price_batch(chunk, surface="batch").results):
                    if isinstance(result, Estimate):
                        low_95, high_95 = result.wide
                        prices[start + offset + n] = (result.price, result.low, result.high, low_95, high_95)
                    else:
                        errors[start + offset + n] = _unlabelled(result, n + 1)
        return frame.assign(
            price=prices[:, 0],
            low=prices[:, 1],
            high=prices[:, 2],
            low_95=prices[:, 3],
            high_95=prices[:, 4],
            model_version=pd.array([self.version] * len(frame), dtype="string"),
            model_commit=pd.array([self.commit] * len(frame), dtype="string"),
            error=pd.array(errors, dtype="string"),
        )

    def check(self, frame: pd.DataFrame) -> list[Row | InputError]:
        """Each row validated (the input's other columns ignored), or the InputError that refuses it."""
        raws = self.raw_rows(frame)
        return [
            row for start in range(0, len(raws), CHUNK_ROWS) for row in self._checked(raws[start : start + CHUNK_ROWS])
        ]

    def raw_rows(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The rows as the validator takes them, built column by column (5× faster than a dict of cells per row)."""
        known = [name for name in frame.columns if name in self.features]
        if not known:
            return [{} for _ in range(len(frame))]
        columns = [self._raw_column(name, frame[name]) for name in known]
        return [
            {name: value for name, value in zip(known, values, strict=True) if value is not _OMITTED}
            for values in zip(*columns, strict=True)
        ]

    def _raw_column(self, name: str, column: pd.Series) -> list[Any]:
        """Text cells (all of a CSV's; a Parquet file's strings) become values as in an uploaded CSV, through
        `Validator.csv_cells`, once per distinct cell; blank cells as a blank CSV cell (None, or left out for its
        default); typed cells (a Parquet file's numbers and booleans) are taken as they are, like JSON values."""
        blank = self.validator.csv_cells({name: None}).get(name, _OMITTED)
        read: dict[str, Any] = {}
        values: list[Any] = []
        for cell, missing in zip(column.tolist(), column.isna().tolist(), strict=True):
            if missing:
                values.append(blank)
            elif not isinstance(cell, str):
                values.append(cell)
            else:
                value = read.get(cell, _UNREAD)
                if value is _UNREAD:
                    value = read[cell] = self.validator.csv_cells({name: cell}).get(name, _OMITTED)
                values.append(value)
        return values

    def _checked(self, raws: list[dict[str, Any]]) -> list[Row | InputError]:
        """As the REST batch route: the whole chunk in one pass, and only if a row fails, each row on its own."""
        try:
            return list(self.validator.batch_rows(raws))
        except ValidationError:
            return self.validator.rows(raws, labelled=False)  # the output row is the input row: no `row N: `


def _unlabelled(error: InputError, n: int) -> str:
    """`price_batch` labels an unpriceable row with its place in the chunk, which says nothing in a job's output."""
    return "; ".join(problem.removeprefix(f"row {n}: ") for problem in error.problems)


_OMITTED, _UNREAD = object(), object()  # a cell that leaves its feature out; a cell not converted yet


_LOADED: dict[ModelPin, Scorer] = {}
_LOCK = threading.Lock()


def scorer_for(pin: ModelPin) -> Scorer:
    """The worker process's scorer for `pin`, loaded on its first partition (one load at a time per process)."""
    with _LOCK:
        scorer = _LOADED.get(pin)
        if scorer is None:
            scorer = _LOADED[pin] = Scorer.load(pin)
        return scorer


def score_partition(frame: pd.DataFrame, pin: ModelPin) -> pd.DataFrame:
    """The task each partition runs (by reference: `serving` must be importable on the workers)."""
    return scorer_for(pin).score(frame)


def loaded_pins() -> list[ModelPin]:
    """The versions this process has loaded (`client.run(loaded_pins)` shows one load per worker)."""
    return list(_LOADED)
