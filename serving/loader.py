"""Fetch a pinned version, verify it against its manifest, load it with the allowlist, and warm it up."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo import (
    COMPARABLES_FILE,
    EXAMPLES_FILE,
    MODEL_FILE,
    LocalStore,
    Manifest,
    ModelRepoError,
    Schema,
    Snapshot,
    Store,
    Version,
    load_model,
    to_frame,
    verify_folder,
)
from modelrepo.metrics import Metrics
from modelrepo.reference import Reference

from .comparables import Comparables
from .engine import CompiledModel, EngineChoice, choose_engine
from .engine.shapley import ModelAttribution, attribute_model
from .errors import StartupError, UnsupportedModelError
from .settings import ServingSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """Everything serving needs about the one version it serves."""

    snapshot: Snapshot
    store_description: str  # for the operator's console: may name a local folder
    public_source: str  # for the page and the responses: never a server path
    model: Any
    schema: Schema
    metrics: Metrics
    manifest: Manifest
    reference: Reference
    examples: list[dict[str, Any]]
    engine: EngineChoice
    #: What each example house actually sold for (examples.json's "actual"; None where training did not record it).
    example_prices: list[float | None] = field(default_factory=list)
    #: Additive explanations over the compiled engine, or None with the reason in `explanations_unavailable`.
    attribution: ModelAttribution | None = None
    explanations_unavailable: str = ""
    #: The training sales shown as comparable sales; None when the version holds no `comparables.csv`.
    comparables: Comparables | None = None
    #: Seconds per startup stage (fetch, verify and load, warm-up, compile, check), for the startup output.
    timings: dict[str, float] = field(default_factory=dict)

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
        StartupError: no model, a file that fails its hash, a type outside the allowlist, a `comparables.csv`
            that does not match the schema, or a warm-up prediction that differs from the one recorded at
            training time.
    """
    store = store or open_store(settings)
    clock = _Stopwatch()
    try:
        _require_a_version(store)
        snapshot = store.fetch(settings.revision)  # a few hundred KB: the card and plots feed the Model tab
        clock.lap("fetch")
        manifest = verify_folder(snapshot.folder, optional=[COMPARABLES_FILE])  # present, so it must be listed
        model = load_model(snapshot.folder / MODEL_FILE)
        schema = Schema.read(snapshot.folder)
        metrics = Metrics.read(snapshot.folder)
        reference = Reference.read(snapshot.folder)
        clock.lap("verify and load")
    except ModelRepoError as error:
        raise StartupError(str(error)) from error
    comparables = Comparables.load(snapshot.folder, schema=schema, model=model)
    clock.lap("comparables")
    examples = json.loads((snapshot.folder / EXAMPLES_FILE).read_text(encoding="utf-8"))
    _warm_up(model, schema, examples)
    clock.lap("warm-up")
    engine = choose_engine(model, schema, examples["rows"], mode=settings.engine)
    clock.timings.update({"compile": engine.compile_seconds, "check": engine.check_seconds})
    if engine.name == "pipeline":
        _one_openmp_thread()
    logger.info("engine: %s (%s)", engine.name, engine.reason)
    started = time.perf_counter()
    attribution, unavailable = _attribution(engine, reference)
    clock.timings["explanations"] = time.perf_counter() - started
    return ServedModel(
        snapshot=snapshot,
        store_description=store.description,
        public_source="local registry" if isinstance(store, LocalStore) else store.description,
        model=model,
        schema=schema,
        metrics=metrics,
        manifest=manifest,
        reference=reference,
        examples=examples["rows"],
        example_prices=_sale_prices(examples),
        engine=engine,
        attribution=attribution,
        explanations_unavailable=unavailable,
        comparables=comparables,
        timings=clock.timings,
    )


def pin_version(settings: ServingSettings, *, store: Store | None = None) -> Version:
    """Resolve the revision to one version and its commit, loading nothing: a batch job pins it once, then every
    worker loads exactly that commit, so that a promotion during the job cannot mix two models.

    Raises:
        StartupError: no model in the local registry, or no such revision (the app's messages).
    """
    store = store or open_store(settings)
    try:
        _require_a_version(store)
        return store.resolve(settings.revision)
    except ModelRepoError as error:
        raise StartupError(str(error)) from error


def _sale_prices(examples: dict[str, Any]) -> list[float | None]:
    """One price per example row, None for any that examples.json does not give (older versions lack "actual")."""
    actual = examples.get("actual")
    if not isinstance(actual, list) or len(actual) != len(examples["rows"]):
        return [None] * len(examples["rows"])
    return [float(price) if isinstance(price, int | float) else None for price in actual]


def _require_a_version(store: Store) -> None:
    if isinstance(store, LocalStore) and not store.versions():
        raise StartupError(
            f"No model in the {store.description}. Run `python -m training` first, "
            "or set MODEL_REPO to serve from the Hugging Face Hub."
        )


def _attribution(engine: EngineChoice, reference: Reference) -> tuple[ModelAttribution | None, str]:
    """Explanations walk the compiled engine's own trees and coefficients, so they need it to be the one serving."""
    if not isinstance(engine.engine, CompiledModel):
        why = f"explanations need the compiled engine, and this model is served through the pipeline ({engine.reason})"
        return None, why
    try:
        return attribute_model(engine.engine, reference), ""
    except UnsupportedModelError as error:
        return None, f"explanations do not support {error}"


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self._last
        self._last = now


def _one_openmp_thread() -> None:
    """The pipeline's trees use OpenMP: a single row gains nothing from threads, and under concurrent requests they
    wait on each other (measured with the pipeline engine: REST p50 118 → 79 ms with one thread)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="openmp")


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
