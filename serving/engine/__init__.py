"""Prediction engines: the fitted pipeline itself, or the compiled engine built from it (a hundred times faster).

`choose_engine` builds the compiled engine from the loaded model and keeps it only if it reproduces the pipeline
bit for bit on the check rows (`check.py`); otherwise, or when the model holds a step it does not know, the app
serves through the pipeline and the choice says why. `PREDICTION_ENGINE` forces either one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from modelrepo import Schema, member_spread, to_frame

from ..errors import StartupError, UnsupportedModelError
from .check import CheckResult, check_exact
from .compiled import CompiledModel, compile_model
from .internals import CHECKED_SKLEARN

__all__ = [
    "CHECKED_SKLEARN",
    "CompiledModel",
    "Engine",
    "EngineChoice",
    "EngineMode",
    "PipelineEngine",
    "choose_engine",
    "compile_model",
]


class EngineMode(StrEnum):
    AUTO = "auto"  # compiled if exact, else the pipeline
    COMPILED = "compiled"  # compiled or refuse to start
    PIPELINE = "pipeline"  # never compile


class Engine(Protocol):
    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray: ...

    def predict_with_spread(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """The prices, and the spread (max − min) of the blend's members' predictions in log price."""
        ...


@dataclass(frozen=True)
class PipelineEngine:
    """`model.predict` on a DataFrame built from the rows: the reference every other engine must match."""

    model: Any
    schema: Schema

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.asarray(self.model.predict(to_frame(rows, self.schema)), dtype=np.float64)

    def predict_with_spread(self, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """`model.predict`, and the members' spread from `model.regressor_.transform` (a second pass through the
        members: the price stays `model.predict`'s own); zeros for a model that is not a VotingRegressor."""
        frame = to_frame(rows, self.schema)
        prices = np.asarray(self.model.predict(frame), dtype=np.float64)
        spread = member_spread(self.model, frame)
        return prices, np.zeros(len(prices)) if spread is None else spread


@dataclass(frozen=True)
class EngineChoice:
    engine: Engine
    name: str  # "compiled" or "pipeline"
    reason: str
    compile_seconds: float = 0.0
    check_seconds: float = 0.0


Compiler = Callable[[Any, Schema], CompiledModel]


def choose_engine(
    model: Any,
    schema: Schema,
    examples: Sequence[Mapping[str, Any]],
    *,
    mode: EngineMode = EngineMode.AUTO,
    compiler: Compiler = compile_model,
) -> EngineChoice:
    """The compiled engine when it is exact on the check rows, else the pipeline, with the reason.

    Raises:
        StartupError: `mode` is COMPILED and the compiled engine cannot be built or is not exact.
    """
    pipeline = PipelineEngine(model, schema)
    if mode is EngineMode.PIPELINE:
        return EngineChoice(pipeline, "pipeline", "forced by PREDICTION_ENGINE=pipeline")
    started = time.perf_counter()
    try:
        compiled = compiler(model, schema)
    except UnsupportedModelError as error:
        return _fallback(pipeline, mode, f"the compiled engine does not support {error}", started, started)
    compiled_at = time.perf_counter()
    result: CheckResult = check_exact(compiled, model, schema, examples)
    checked_at = time.perf_counter()
    if not result.exact:
        return _fallback(pipeline, mode, f"the compiled engine {result.summary()}", started, compiled_at, checked_at)
    return EngineChoice(compiled, "compiled", result.summary(), compiled_at - started, checked_at - compiled_at)


def _fallback(
    pipeline: PipelineEngine,
    mode: EngineMode,
    reason: str,
    started: float,
    compiled_at: float,
    checked_at: float | None = None,
) -> EngineChoice:
    if mode is EngineMode.COMPILED:
        raise StartupError(f"PREDICTION_ENGINE=compiled, but {reason}. Unset it to serve through the pipeline.")
    checked_at = compiled_at if checked_at is None else checked_at
    return EngineChoice(pipeline, "pipeline", reason, compiled_at - started, checked_at - compiled_at)
