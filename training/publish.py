"""Publish a model repository as the next version and move `production` only when the gate said so."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelrepo import Store, Version
from modelrepo.metrics import Metrics

from .gate import GateDecision, Production


@dataclass(frozen=True)
class PublishResult:
    version: Version
    decision: GateDecision
    promoted: bool
    previous: Version | None
    previous_metrics: Metrics | None
    comparison: str = ""  # both figures on the same rows, when there was a production version to compare with


def publish(
    folder: Path,
    store: Store,
    *,
    decision: GateDecision,
    production: Production | None,
    comparison: str,
    force: bool,
    promote: bool,
    message: str,
) -> PublishResult:
    if force and not decision.promote:
        decision = GateDecision(True, f"forced ({decision.reason})")
    version = store.publish(folder, message=message)
    promoted = promote and decision.promote
    if promoted:
        store.promote(version)  # production and the default branch (the model page) together
    elif not promote:
        decision = GateDecision(False, f"--no-promote ({decision.reason})")
    previous = production.version if production else None
    return PublishResult(version, decision, promoted, previous, production.metrics if production else None, comparison)
