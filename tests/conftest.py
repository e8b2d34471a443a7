"""Shared fixtures: an isolated environment per test, one quick model repository per test session, and the shipped
model trained in the background."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from modelrepo import PRODUCTION_ALIAS, LocalStore, Snapshot
from tests.hubserver import READ_TOKEN, WRITE_TOKEN, HubServer
from tests.live import LiveApp, start_app
from tests.shipped import ShippedTraining
from training import QUICK_CONFIG, TrainOptions, TrainReport, train
from training.data import AMES_CSV, NA_MARKERS

ISOLATED_VARIABLES = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_ENDPOINT",
    "MODEL_REPO",
    "MODEL_REGISTRY",
    "MODEL_REVISION",
    "API_TOKEN",
    "PREDICTION_LOG_DIR",
    "PREDICTION_LOG_REPO",
    "GRADIO_SERVER_NAME",
    "GRADIO_SERVER_PORT",
    "PREDICTION_ENGINE",
)


def _isolated(environ: dict[str, str], hf_home: Path) -> dict[str, str]:
    """`environ` without the developer's tokens and Hub settings, with its own Hub cache."""
    clean = {name: value for name, value in environ.items() if name not in ISOLATED_VARIABLES}
    return clean | {"HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's tokens or Hub cache, and none writes outside its own folder."""
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


_SHIPPED = pytest.StashKey[ShippedTraining]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start training the shipped model now if a collected test needs it (`shipped_registry`)."""
    if session.config.option.collectonly:
        return
    if any("shipped_registry" in getattr(item, "fixturenames", ()) for item in session.items):
        root = Path(tempfile.mkdtemp(prefix="shipped-model-"))
        session.config.stash[_SHIPPED] = ShippedTraining.start(root, env=_isolated(dict(os.environ), root / "hf"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    training = session.config.stash.get(_SHIPPED, None)
    if training is not None:
        training.close()


@pytest.fixture(scope="session")
def shipped_registry(request: pytest.FixtureRequest) -> Path:
    """The local registry `python -m training` (all defaults) wrote, started when collection finished."""
    training = request.config.stash.get(_SHIPPED, None)
    assert training is not None, "pytest_collection_finish starts the training for every test that needs it"
    return training.wait()


@pytest.fixture(scope="session")
def ames() -> pd.DataFrame:
    return pd.read_csv(AMES_CSV, keep_default_na=False, na_values=NA_MARKERS)


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> TrainReport:
    """One quick model on the full Ames table, published as v1 of a session registry (about 20 s)."""
    root = tmp_path_factory.mktemp("quick-model")
    options = replace(
        TrainOptions(),
        model=QUICK_CONFIG,
        quick=True,
        folds=3,
        importance_repeats=1,
        output=root / "model",
        registry=root / "registry",
    )
    return train(options, progress=lambda _: None)


@pytest.fixture(scope="session")
def model_folder(quick_report: TrainReport) -> Path:
    """The written model repository (do not modify: copy it first)."""
    return quick_report.folder


@pytest.fixture(scope="session")
def registry(quick_report: TrainReport) -> LocalStore:
    assert isinstance(quick_report.store, LocalStore)
    return quick_report.store


@pytest.fixture(scope="session")
def production(registry: LocalStore) -> Iterator[Snapshot]:
    yield registry.fetch(PRODUCTION_ALIAS)


def _session_app(
    registry: LocalStore, tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> Iterator[LiveApp]:
    """The real app serving the session's quick model from its local registry, on a free loopback port."""
    workdir = tmp_path_factory.mktemp(name)
    app = start_app(
        {"MODEL_REGISTRY": str(registry.root), "HF_HOME": str(workdir / "hf-home"), "MAX_BATCH_ROWS": "50", **env},
        workdir=workdir,
    )
    yield app
    app.stop()


@pytest.fixture(scope="session")
def live_app(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app as it starts by default (the compiled engine), batches capped at 50 rows."""
    yield from _session_app(registry, tmp_path_factory, "live-app")


@pytest.fixture(scope="session")
def pipeline_app(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app forced to serve through the fitted pipeline instead of the compiled engine."""
    yield from _session_app(registry, tmp_path_factory, "pipeline-app", PREDICTION_ENGINE="pipeline")


#: The API token of the `guarded_app` fixture.
API_TOKEN = "guarded-app-token-4f1c9a7e"


@pytest.fixture(scope="session")
def guarded_app(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The real app with API_TOKEN set: every surface but the health probes needs the token."""
    workdir = tmp_path_factory.mktemp("guarded-app")
    app = start_app(
        {"MODEL_REGISTRY": str(registry.root), "HF_HOME": str(workdir / "hf-home"), "API_TOKEN": API_TOKEN},
        workdir=workdir,
    )
    yield app
    app.stop()


@pytest.fixture
def hub() -> Iterator[HubServer]:
    """A fresh loopback Hub per test, on a free port, where alice writes and bob only reads."""
    with HubServer() as server:
        server.add_token(WRITE_TOKEN, "alice")
        server.add_token(READ_TOKEN, "bob", write=False)
        yield server
