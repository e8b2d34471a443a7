"""Publish a model repository as the next version and move `production` only when the gate passes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelrepo import METRICS_FILE, PRODUCTION_ALIAS, ContractError, Store, Version
from modelrepo.metrics import PRIMARY_METRIC, Metrics

#: How much worse (absolute RMSE of log price) a new version may be and still be promoted: about the
#: fold-to-fold noise of re-running the same recipe, far below the std across folds (~0.01).
DEFAULT_TOLERANCE = 0.002


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class PublishResult:
    version: Version
    decision: GateDecision
    promoted: bool
    previous: Version | None
    previous_metrics: Metrics | None


def gate(new: Metrics, current: Metrics | None, *, tolerance: float) -> GateDecision:
    """Not worse than production (by more than `tolerance`) on the cross-validated primary metric."""
    if current is None:
        return GateDecision(True, "no production version yet")
    if current.target != new.target:
        return GateDecision(
            False, f"production predicts {current.target!r}, this model {new.target!r}: use --force to replace it"
        )
    limit = current.primary + tolerance
    verdict = "≤" if new.primary <= limit else ">"
    reason = f"{PRIMARY_METRIC} {new.primary:.4f} {verdict} {current.primary:.4f} + {tolerance:g} tolerance"
    return GateDecision(new.primary <= limit, reason)


def production_metrics(store: Store) -> tuple[Version | None, Metrics | None]:
    """The current production version and its metrics (None when there is none, or it is unreadable)."""
    current = store.alias(PRODUCTION_ALIAS)
    if current is None:
        return None, None
    try:
        return current, Metrics.model_validate_json(store.read_text(current, METRICS_FILE))
    except (ValueError, ContractError, OSError):
        return current, None


def publish(
    folder: Path, store: Store, *, new_metrics: Metrics, force: bool, promote: bool, tolerance: float, message: str
) -> PublishResult:
    previous, previous_metrics = production_metrics(store)
    decision = gate(new_metrics, previous_metrics, tolerance=tolerance)
    if force and not decision.promote:
        decision = GateDecision(True, f"forced ({decision.reason})")
    version = store.publish(folder, message=message)
    promoted = promote and decision.promote
    if promoted:
        store.set_alias(PRODUCTION_ALIAS, version)
    elif not promote:
        decision = GateDecision(False, f"--no-promote ({decision.reason})")
    return PublishResult(version, decision, promoted, previous, previous_metrics)
