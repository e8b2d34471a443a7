"""What one partition of a batch job becomes on a worker: its rows validated and priced as the app does.

A task carries a `ModelPin` (where the model lives and the exact commit: a few strings), never the model: each
worker process loads the version once, through the app's loader (sha256 check against the manifest, the skops
allowlist, the warm-up and the compiled engine), and keeps it for every later partition of the job.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
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
OUTPUT_COLUMNS = ("price", "low", "high", "model_version", "model_commit", "error")
#: Rows validated and priced together: the REST batch's default size, so each chunk takes the REST route's path.
CHUNK_ROWS = 1000


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
        """The input's columns plus price, low, high, model_version, model_commit and error (a bad row's message,
        as the REST batch route gives it without the `row N: ` prefix; such a row has no price)."""
        known = [name for name in frame.columns if name in self.features]
        raws = [self._raw_row(cells) for cells in frame[known].to_dict("records")]
        prices = np.full((len(raws), 3), np.nan)
        errors: list[str | None] = [None] * len(raws)
        for start in range(0, len(raws), CHUNK_ROWS):
            chunk = raws[start : start + CHUNK_ROWS]
            results = self.predictor.price_batch(self._checked(chunk), surface="batch").results
            for n, result in enumerate(results):
                if isinstance(result, Estimate):
                    prices[start + n] = (result.price, result.low, result.high)
                else:
                    errors[start + n] = _unlabelled(result, n + 1)
        return frame.assign(
            price=prices[:, 0],
            low=prices[:, 1],
            high=prices[:, 2],
            model_version=pd.array([self.version] * len(raws), dtype="string"),
            model_commit=pd.array([self.commit] * len(raws), dtype="string"),
            error=pd.array(errors, dtype="string"),
        )

    def _raw_row(self, cells: Mapping[str, Any]) -> dict[str, Any]:
        """Text cells (all of a CSV's; a Parquet file's string columns) become values as in an uploaded CSV;
        typed cells (a Parquet file's numbers and booleans) are taken as they are, like the values of a JSON body."""
        text: dict[str, Any] = {}
        typed: dict[str, Any] = {}
        for name, value in cells.items():
            if isinstance(value, str):
                text[name] = value
            elif _is_missing(value):
                text[name] = None
            else:
                typed[name] = value
        row = self.validator.csv_cells(text)
        row.update(typed)
        return row

    def _checked(self, raws: list[dict[str, Any]]) -> list[Row | InputError]:
        """As the REST batch route: the whole chunk in one pass, and only if a row fails, each row on its own."""
        try:
            valid = self.validator.batch.validate_python({"rows": raws})["rows"]
        except ValidationError:
            pass
        else:
            return [self.validator.complete(row) for row in valid]
        checked: list[Row | InputError] = []
        for raw in raws:
            try:
                checked.append(self.validator.row(raw))
            except InputError as error:
                checked.append(error)
        return checked


def _unlabelled(error: InputError, n: int) -> str:
    """`price_batch` labels an unpriceable row with its place in the chunk, which says nothing in a job's output."""
    return "; ".join(problem.removeprefix(f"row {n}: ") for problem in error.problems)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


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
