"""Fetch a pinned version, verify it against its manifest, load it with the allowlist, and warm it up."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo import (
    EXAMPLES_FILE,
    MODEL_FILE,
    LocalStore,
    Manifest,
    ModelRepoError,
    Schema,
    Snapshot,
    Store,
    load_model,
    to_frame,
    verify_folder,
)
from modelrepo.metrics import Metrics
from modelrepo.reference import Reference

from .errors import StartupError
from .settings import ServingSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """Everything serving needs about the one version it serves."""

    snapshot: Snapshot
    store_description: str
    model: Any
    schema: Schema
    metrics: Metrics
    manifest: Manifest
    reference: Reference
    examples: list[dict[str, Any]]

    @property
    def version(self) -> str:
        return self.snapshot.version.name

    @property
    def commit(self) -> str:
        return self.snapshot.version.commit

    @property
    def folder(self) -> Path:
        return self.snapshot.folder


def open_store(settings: ServingSettings) -> Store:
    if settings.model_repo:
        from modelrepo.hub import HubStore

        return HubStore.connect(settings.model_repo, token=settings.hf_token)
    return LocalStore(settings.registry)


def load_served_model(settings: ServingSettings, *, store: Store | None = None) -> ServedModel:
    """Resolve the revision once, then verify, load and warm up; any failure is a StartupError to print.

    Raises:
        StartupError: no model, a file that fails its hash, a type outside the allowlist, or a warm-up
            prediction that differs from the one recorded at training time.
    """
    store = store or open_store(settings)
    try:
        if isinstance(store, LocalStore) and not store.versions():
            raise StartupError(
                f"No model in the {store.description}. Run `python -m training` first, "
                "or set MODEL_REPO to serve from the Hugging Face Hub."
            )
        snapshot = store.fetch(settings.revision)  # a few hundred KB: the card and plots feed the Model tab
        manifest = verify_folder(snapshot.folder)
        model = load_model(snapshot.folder / MODEL_FILE)
        schema = Schema.read(snapshot.folder)
        metrics = Metrics.read(snapshot.folder)
        reference = Reference.read(snapshot.folder)
    except ModelRepoError as error:
        raise StartupError(str(error)) from error
    examples = json.loads((snapshot.folder / EXAMPLES_FILE).read_text(encoding="utf-8"))
    _warm_up(model, schema, examples)
    return ServedModel(
        snapshot=snapshot,
        store_description=store.description,
        model=model,
        schema=schema,
        metrics=metrics,
        manifest=manifest,
        reference=reference,
        examples=examples["rows"],
    )


def _warm_up(model: Any, schema: Schema, examples: dict[str, Any]) -> None:
    """Predict the examples and compare with training's record: a different library build shows up here."""
    predicted = model.predict(to_frame(examples["rows"], schema))
    recorded = np.asarray(examples["predictions"], dtype=float)
    if not np.allclose(predicted, recorded, rtol=1e-9, atol=0.0):
        worst = float(np.max(np.abs(predicted - recorded)))
        raise StartupError(
            f"Warm-up predictions differ from those recorded at training time by up to ${worst:,.2f}: the installed "
            "libraries do not reproduce the model. Install the versions listed in manifest.json."
        )
    logger.info("warm-up: %d example predictions reproduced", len(recorded))
