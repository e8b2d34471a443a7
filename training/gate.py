"""The promotion gate: a new version takes `production` only if it is not worse on the same rows.

Never blind: only a store that really has no production version lets a candidate in unexamined; any other
failure to read production (the Hub down, a refused token, an unreadable `metrics.json`) stops the run before
anything is published, and `--force` is the way past it.

Same rows: when production was trained on the same table (same sha256) its `metrics.json` was computed on the
same rows, out of sample for both, so the cross-validated figures are compared (in the same folds when the
recipe matches too). On another table, production's own figures describe other rows: the verified production
model is scored on the candidate's rows instead, against the candidate's out-of-fold predictions there.
Production may have trained on some of those rows, which can only flatter it: the gate then errs on the side
of keeping production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelrepo import (
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PRODUCTION_ALIAS,
    Manifest,
    ModelRepoError,
    Store,
    Version,
    load_model,
    verify_folder,
)
from modelrepo.metrics import PRIMARY_METRIC, Metrics

from .errors import GateError
from .evaluate import rmse_log

#: How much worse (absolute RMSE of log price) a new version may be and still be promoted: about the
#: fold-to-fold noise of re-running the same recipe, far below the std across folds (~0.01).
DEFAULT_TOLERANCE = 0.002


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class Production:
    version: Version
    metrics: Metrics
    manifest: Manifest


@dataclass(frozen=True)
class Candidate:
    """What the new model brings to the gate: its metrics, its table, and its out-of-fold predictions."""

    metrics: Metrics
    data_sha256: str
    features: pd.DataFrame  # the rows it was scored on (outliers left out)
    target: np.ndarray
    out_of_fold: np.ndarray


def read_production(store: Store) -> Production | None:
    """The current production version with its metrics and manifest; None only when there is none.

    Raises:
        GateError: production exists but cannot be read (store unreachable, token refused, files unreadable).
    """
    reading = "the production alias"
    try:
        version = store.alias(PRODUCTION_ALIAS)
        if version is None:
            return None
        reading = f"{METRICS_FILE} of {version.name}"
        metrics = Metrics.model_validate_json(store.read_text(version, METRICS_FILE))
        reading = f"{MANIFEST_FILE} of {version.name}"
        manifest = Manifest.model_validate_json(store.read_text(version, MANIFEST_FILE))
    except (ModelRepoError, OSError, ValueError) as error:
        cause = f"Cannot read the production version from the {store.description}"
        raise GateError(
            f"{cause}, so the gate cannot compare: {reading}: {_first_line(error)}. Nothing was published; fix that "
            "and rerun, or pass --force to promote anyway.",
            cause=cause,
        ) from error
    return Production(version, metrics, manifest)


def decide(
    candidate: Candidate, production: Production | None, store: Store, *, tolerance: float
) -> tuple[GateDecision, str]:
    """(the decision, the line that shows both figures on the same rows). Raises GateError if production's
    model cannot score the candidate's rows."""
    if production is None:
        return GateDecision(True, "no production version yet"), ""
    if production.metrics.target != candidate.metrics.target:
        reason = f"production predicts {production.metrics.target!r}, this model {candidate.metrics.target!r}"
        return GateDecision(False, f"{reason}: use --force to replace it"), ""
    if production.manifest.data.sha256 == candidate.data_sha256:
        return _on_metrics(candidate.metrics, production, tolerance=tolerance)
    return _on_candidate_rows(candidate, production, store, tolerance=tolerance)


def _on_metrics(new: Metrics, production: Production, *, tolerance: float) -> tuple[GateDecision, str]:
    same_folds = (new.cross_validation.folds, new.cross_validation.random_state) == (
        production.metrics.cross_validation.folds,
        production.metrics.cross_validation.random_state,
    )
    rows = "the same folds of the same table" if same_folds else "the same table (in other folds)"
    candidate, current = new.primary, production.metrics.primary
    figures = f"on {rows}: this model {candidate:.4f}, production {production.version.name} {current:.4f}"
    return _verdict(candidate, current, tolerance, f"CV {PRIMARY_METRIC}"), figures


def _on_candidate_rows(
    candidate: Candidate, production: Production, store: Store, *, tolerance: float
) -> tuple[GateDecision, str]:
    predicted = _production_predictions(store, production, candidate.features)
    current = rmse_log(candidate.target, predicted)
    mine = rmse_log(candidate.target, candidate.out_of_fold)
    figures = (
        f"on this model's {len(candidate.target):,} rows (another table than production's): this model "
        f"{mine:.4f} out of fold, production {production.version.name} {current:.4f} (it may have trained on some)"
    )
    return _verdict(mine, current, tolerance, PRIMARY_METRIC), figures


def _production_predictions(store: Store, production: Production, features: pd.DataFrame) -> np.ndarray:
    try:
        snapshot = store.fetch(production.version.name)
        verify_folder(snapshot.folder)
        model: Any = load_model(snapshot.folder / MODEL_FILE)
        predicted = np.asarray(model.predict(features), dtype=float)
    except (ModelRepoError, OSError, ValueError, KeyError) as error:
        cause = f"The production model {production.version.name} cannot score this model's rows"
        raise GateError(
            f"{cause} ({_first_line(error)}), so the gate cannot compare. Nothing was published; pass --force to "
            "promote anyway.",
            cause=cause,
        ) from error
    return predicted


def _verdict(candidate: float, current: float, tolerance: float, metric: str) -> GateDecision:
    limit = current + tolerance
    verdict = "≤" if candidate <= limit else ">"
    reason = f"{metric} {candidate:.4f} {verdict} {current:.4f} + {tolerance:g} tolerance, on the same rows"
    return GateDecision(candidate <= limit, reason)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
