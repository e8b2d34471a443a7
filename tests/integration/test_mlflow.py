"""MLflow tracking against real local file stores: every figure of metrics.json, the whole folder, the tags.

The expected metric names are worked out here from metrics.json itself, following the naming documented in
training/tracking.py, so that a figure added to metrics.json and forgotten by the tracking fails this test.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from modelrepo import METRICS_FILE, Manifest
from modelrepo.metrics import Metrics
from training import QUICK_CONFIG, TrainingError
from training.tracking import MlflowRun

EXPERIMENT = "ames-house-price-test"
#: metrics.json keys renamed in MLflow names (None: left out of the name).
RENAMED: dict[str, str | None] = {"cross_validation": "cv", "without_outliers": None}


@pytest.fixture(autouse=True)
def mlflow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow must not phone home from a test, and MLflow 3 opens a file store only when opted in."""
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def file_store(tmp_path: Path) -> str:
    return (tmp_path / "mlruns").as_uri()


def expected_metrics(document: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, list[tuple[int, float]]]]:
    """Every number in metrics.json as (MLflow name, [(step, value)]): numbers at step 0, lists from step 1."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from expected_metrics(value, (*path, key))
        return
    name = "_".join(part for key in path if (part := RENAMED.get(key, key)))
    if isinstance(document, list):
        yield name, [(step, float(value)) for step, value in enumerate(document, start=1)]
    elif isinstance(document, int | float) and not isinstance(document, bool):
        yield name, [(0, float(document))]


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for entry in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, entry.path) if entry.is_dir else {entry.path}
    return found


def test_a_tracked_run_holds_every_figure_the_folder_and_the_version(file_store: str, model_folder: Path) -> None:
    fingerprint = Manifest.read(model_folder).data
    params = {**asdict(QUICK_CONFIG), **fingerprint.model_dump()}

    run = MlflowRun.start(file_store, experiment=EXPERIMENT, run_name="quick")
    run.log_training(params=params, metrics=Metrics.read(model_folder), folder=model_folder)
    run.finish(version="v1", store="local registry /tmp/registry")

    client = MlflowClient(tracking_uri=file_store)
    logged = client.get_run(run.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.info.run_name == "quick"
    assert client.get_experiment(logged.info.experiment_id).name == EXPERIMENT

    expected = dict(expected_metrics(json.loads((model_folder / METRICS_FILE).read_text(encoding="utf-8"))))
    assert {"cv_rmse_log_mean", "cv_rmse_log_std", "cv_with_outliers_mape_mean", "cv_folds"} <= expected.keys()
    assert {"holdout_rmse_log", "holdout_with_outliers_r2", "interval_log_low", "training_rows"} <= expected.keys()
    assert set(logged.data.metrics) == set(expected)
    for name, history in expected.items():
        assert [(m.step, m.value) for m in client.get_metric_history(run.run_id, name)] == history, name

    assert logged.data.params == {name: str(value) for name, value in params.items()}
    assert logged.data.params["sha256"] == fingerprint.sha256

    artifacts = artifact_paths(client, run.run_id)
    files = {path.relative_to(model_folder).as_posix() for path in model_folder.rglob("*") if path.is_file()}
    assert artifacts == {f"model_repository/{path}" for path in files}
    assert "model_repository/model.skops" in artifacts
    assert any(path.startswith("model_repository/images/") and path.endswith(".png") for path in artifacts)

    assert logged.data.tags["model_version"] == "v1"
    assert logged.data.tags["model_store"] == "local registry /tmp/registry"


def test_two_runs_in_one_process_stay_in_their_own_stores(tmp_path: Path, file_store: str) -> None:
    other = (tmp_path / "other-mlruns").as_uri()
    first = MlflowRun.start(file_store, experiment=EXPERIMENT, run_name="first")
    second = MlflowRun.start(other, experiment=EXPERIMENT, run_name="second")
    second.finish(version=None, store=None, status="FAILED")
    first.finish(version="v2", store="local registry")

    for uri, run, status in ((file_store, first, "FINISHED"), (other, second, "FAILED")):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id])
        assert [found.info.run_id for found in runs] == [run.run_id]
        assert runs[0].info.status == status
    assert MlflowClient(tracking_uri=other).get_run(second.run_id).data.tags["model_version"] == "unpublished"


def test_without_mlflow_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch, file_store: str) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(TrainingError, match=r"pip install -r requirements-mlflow\.txt$"):
        MlflowRun.start(file_store, experiment=EXPERIMENT, run_name="quick")


def test_a_store_that_cannot_be_opened_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_store: str
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    with pytest.raises(TrainingError, match="MLFLOW_ALLOW_FILE_STORE=true") as refused:
        MlflowRun.start(file_store, experiment=EXPERIMENT, run_name="quick")
    assert file_store in str(refused.value) and "\n" not in str(refused.value)

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    blocked = (tmp_path / "a-file" / "mlruns").as_uri()
    with pytest.raises(TrainingError, match="cannot open the tracking store") as unwritable:
        MlflowRun.start(blocked, experiment=EXPERIMENT, run_name="quick")
    assert blocked in str(unwritable.value) and "\n" not in str(unwritable.value)


class NotMlflow(BaseHTTPRequestHandler):
    """A web server that answers, but not as MLflow: 404 to everything."""

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET = do_POST = _not_found

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_an_http_store_that_is_down_or_not_mlflow_fails_in_seconds() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(TrainingError, match=r"cannot reach the tracking server http://127\.0\.0\.1:\d+: .*refused"):
        MlflowRun.start(closed, experiment=EXPERIMENT, run_name="quick")

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(TrainingError, match="cannot open the tracking store") as answered:
            MlflowRun.start(uri, experiment=EXPERIMENT, run_name="quick")
        assert uri in str(answered.value) and "\n" not in str(answered.value)
    finally:
        server.shutdown()
        server.server_close()


def test_python_m_training_tracks_its_run_and_records_it_in_the_manifest(tmp_path: Path, ames: pd.DataFrame) -> None:
    import os
    import subprocess

    from tests.live import ROOT

    store = tmp_path / "mlruns"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_ALLOW_FILE_STORE"}  # the CLI opts in for file:
    env |= {"PYTHONPATH": str(ROOT), "MLFLOW_DISABLE_TELEMETRY": "true"}
    sample = tmp_path / "sample.csv"
    ames.sample(400, random_state=0).drop(columns=["Order", "PID"]).to_csv(sample, index=False)
    command = [sys.executable, "-m", "training", "--data", str(sample), "--quick", "--folds", "2", "--no-publish"]
    command += ["--output", str(tmp_path / "model"), "--mlflow-uri", store.as_uri()]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    run_id = Manifest.read(tmp_path / "model").mlflow_run_id
    assert run_id and f"run {run_id}" in result.stdout
    run = MlflowClient(tracking_uri=store.as_uri()).get_run(run_id)
    metrics = json.loads((tmp_path / "model" / METRICS_FILE).read_text())
    assert run.info.status == "FINISHED" and run.data.tags["model_version"] == "unpublished"
    assert run.data.metrics["cv_rmse_log_mean"] == metrics["cross_validation"]["without_outliers"]["rmse_log"]["mean"]
    history = MlflowClient(tracking_uri=store.as_uri()).get_metric_history(run_id, "cv_rmse_log_per_fold")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == (
        metrics["cross_validation"]["without_outliers"]["rmse_log"]["per_fold"]
    )
    assert run.data.params["data_sha256"] == Manifest.read(tmp_path / "model").data.sha256


def test_without_mlflow_the_flag_stops_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.live import ROOT

    hide = "import sys; sys.modules['mlflow'] = None; sys.modules['mlflow.tracking'] = None\n"
    run_cli = "from training.cli import main; raise SystemExit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", hide + run_cli, "--quick", "--no-publish", "--output", str(tmp_path / "m")]
    command += ["--mlflow-uri", (tmp_path / "mlruns").as_uri()]
    result = subprocess.run(
        command, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: MLflow tracking needs the mlflow extra: pip install -r requirements-mlflow.txt"
    ]
