"""How `python app.py` starts: what it serves, what it prints, and what it refuses with one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modelrepo import MODEL_FILE, PRODUCTION_ALIAS, LocalStore, Manifest, hash_folder, save_model
from tests.live import LiveApp, run_app_until_exit, start_app


def double(values: np.ndarray) -> np.ndarray:
    return values * 2


def test_startup_prints_version_folder_and_urls(live_app: LiveApp, registry: LocalStore) -> None:
    output = live_app.output()
    version = registry.resolve(PRODUCTION_ALIAS)
    assert f"Serving model v1 (commit {version.commit}) from the local registry" in output
    lines = (
        "UI        http://127.0.0.1:",
        "REST docs http://127.0.0.1:",
        "/docs",
        "access    open to anyone",
        "/metrics",
    )
    for line in (*lines, "log       "):
        assert line in output
    assert "MCP       http://127.0.0.1:" in output or "MCP       off" in output


def test_no_model_anywhere_exits_with_one_line_that_says_to_train(tmp_path: Path) -> None:
    result = run_app_until_exit({"MODEL_REGISTRY": str(tmp_path / "empty")}, workdir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: No model in the local registry at {tmp_path / 'empty'}. Run `python -m training` first, "
        "or set MODEL_REPO to serve from the Hugging Face Hub."
    ]


def test_unknown_revision_is_refused(tmp_path: Path, registry: LocalStore) -> None:
    result = run_app_until_exit({"MODEL_REGISTRY": str(registry.root), "MODEL_REVISION": "v42"}, workdir=tmp_path)
    assert result.returncode == 1 and "No version 'v42'" in result.stderr and "versions: v1" in result.stderr


def test_a_tampered_file_is_refused_before_gradio_is_imported(tmp_path: Path, model_folder: Path) -> None:
    """Regression: the model was loaded after Gradio (about 3 s to import), so every refusal waited for it."""
    store = LocalStore(tmp_path / "registry")
    version = store.publish(model_folder, message="m")
    store.set_alias(PRODUCTION_ALIAS, version)
    target = store.root / "v1" / "schema.json"
    target.chmod(0o644)
    target.write_text(target.read_text().replace('"default": 5', '"default": 6', 1))
    without_gradio = "import sys; sys.modules['gradio'] = None  # importing it now raises ImportError"
    result = run_app_until_exit({"MODEL_REGISTRY": str(store.root)}, workdir=tmp_path, prelude=without_gradio)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "failed verification: schema.json has sha256" in line


def test_a_model_with_an_untrusted_type_is_refused(tmp_path: Path, model_folder: Path) -> None:
    folder = Path(shutil.copytree(model_folder, tmp_path / "repo"))
    X = pd.DataFrame({"a": [1.0, 2.0]})
    save_model(make_pipeline(FunctionTransformer(double), LinearRegression()).fit(X, [1.0, 2.0]), folder / MODEL_FILE)
    manifest = Manifest.read(folder)
    manifest.model_copy(update={"files": hash_folder(folder)}).write(folder)  # consistent hashes: trust must catch it
    store = LocalStore(tmp_path / "registry")
    store.set_alias(PRODUCTION_ALIAS, store.publish(folder, message="m"))
    result = run_app_until_exit({"MODEL_REGISTRY": str(store.root)}, workdir=tmp_path)
    assert result.returncode == 1
    assert "outside the allowlist: tests.integration.test_startup.double" in result.stderr


def test_a_pinned_version_is_served_instead_of_production(tmp_path: Path, model_folder: Path) -> None:
    store = LocalStore(tmp_path / "registry")
    first = store.publish(model_folder, message="m")
    store.set_alias(PRODUCTION_ALIAS, store.publish(model_folder, message="m"))
    app = start_app({"MODEL_REGISTRY": str(store.root), "MODEL_REVISION": "v1"}, workdir=tmp_path)
    try:
        response = httpx.post(f"{app.url}/api/v1/predict", json={})
        assert response.json()["model_version"] == "v1" == first.name
        assert response.headers["X-Model-Commit"] == first.commit
    finally:
        app.stop()


@pytest.mark.parametrize(
    ("name", "value"), [("GRADIO_SERVER_PORT", "seventy"), ("MAX_BATCH_ROWS", "0"), ("API_TOKEN", "short")]
)
def test_bad_settings_are_named(tmp_path: Path, registry: LocalStore, name: str, value: str) -> None:
    result = run_app_until_exit({"MODEL_REGISTRY": str(registry.root), name: value}, workdir=tmp_path)
    assert result.returncode == 1 and name in result.stderr and len(result.stderr.strip().splitlines()) == 1
