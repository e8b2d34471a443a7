"""Faults the prediction log must survive: a folder it cannot write, a Hub that goes away, and SIGTERM mid-traffic.

In every case predictions go on, the failure is counted and warned about once, and no record is lost.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml
from gradio_client import Client

from app import SHUTDOWN_GRACE_SECONDS
from modelrepo import LocalStore
from tests.hubserver import WRITE_TOKEN, HubServer, client_env
from tests.live import LiveApp, logged, start_app, wait_for_logged

LOG_REPO = "alice/house-price-log"


def _failures(app: LiveApp, destination: str) -> float:
    for line in httpx.get(f"{app.url}/metrics").text.splitlines():
        if line.startswith(f'house_price_log_write_failures_total{{destination="{destination}"}}'):
            return float(line.split()[-1])
    raise AssertionError("no log failure metric")


def _wait(condition, *, timeout: float = 30) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def _predict(app: LiveApp, count: int) -> set[str]:
    ids = set()
    for n in range(count):
        response = httpx.post(f"{app.url}/api/v1/predict", json={"Gr Liv Area": 1000 + n}, timeout=30)
        assert response.status_code == 200, response.text
        ids.add(response.json()["request_id"])
    return ids


def test_a_log_folder_that_cannot_be_written_does_not_stop_predictions(registry: LocalStore, tmp_path: Path) -> None:
    blocker = tmp_path / "volume"
    blocker.write_text("a file where the log's parent folder should be")  # unwritable even for root
    folder = blocker / "logs"
    app = start_app({"MODEL_REGISTRY": str(registry.root), "PREDICTION_LOG_DIR": str(folder)}, workdir=tmp_path)
    try:
        ids = _predict(app, 3)
        assert _wait(lambda: _failures(app, "local") >= 2)
        ids |= _predict(app, 2)  # still serving, still failing
        assert app.output().count("cannot write to") == 1  # warned once, not per request
        feedback = f"{app.url}/api/v1/feedback"
        known = httpx.post(feedback, json={"request_id": min(ids), "actual_price": 180_000})
        assert known.status_code == 200  # this run's ids are known from memory
        unsure = httpx.post(feedback, json={"request_id": "f" * 32, "actual_price": 180_000})
        assert unsure.status_code == 503 and "request index" in unsure.json()["detail"]
        blocker.unlink()  # the volume comes back
        records = wait_for_logged(folder, ids)
        assert Counter(r["request_id"] for r in records) == dict.fromkeys(ids, 1)
        assert _wait(lambda: "records caught up" in app.output())
        assert httpx.post(feedback, json={"request_id": "f" * 32, "actual_price": 180_000}).status_code == 404
    finally:
        app.stop()
    assert "all records written" in app.output()


def test_sigterm_during_traffic_loses_no_record(registry: LocalStore, tmp_path: Path) -> None:
    app = start_app({"MODEL_REGISTRY": str(registry.root)}, workdir=tmp_path)
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                try:
                    response = http.post(f"{app.url}/api/v1/predict/batch", json={"rows": [{}, {"Lot Area": 9000}]})
                except httpx.HTTPError:
                    return  # the server has closed its port
                if response.status_code == 200:
                    answered.extend(item["prediction"]["request_id"] for item in response.json()["results"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert _wait(lambda: len(answered) >= 40, timeout=60)
    app.process.send_signal(signal.SIGTERM)  # while the clients keep sending
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how the process ended.
    assert app.process.wait(timeout=30) in (0, -signal.SIGTERM)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    counts = Counter(record["request_id"] for record in logged(app.prediction_log))
    assert len(answered) >= 40 and {request_id: counts[request_id] for request_id in answered} == dict.fromkeys(
        answered, 1
    )
    assert "all records written" in app.output()


def test_sigterm_with_a_gradio_client_still_connected_stops_within_the_grace_period(
    registry: LocalStore, tmp_path: Path
) -> None:
    """Regression: a gradio_client `Client` holds a heartbeat stream open for as long as it lives, and uvicorn
    waited for every connection to close, so SIGTERM never finished: the process was killed and the log's
    shutdown never ran."""
    app = start_app({"MODEL_REGISTRY": str(registry.root)}, workdir=tmp_path)
    try:
        client = Client(app.url, verbose=False)
        request_id = client.predict({}, api_name="/predict")["request_id"]
        started = time.monotonic()
        app.process.send_signal(signal.SIGTERM)
        assert app.process.wait(timeout=SHUTDOWN_GRACE_SECONDS + 10) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < SHUTDOWN_GRACE_SECONDS + 5
    finally:
        app.stop()
    assert "all records written" in app.output()
    assert [record["request_id"] for record in logged(app.prediction_log)] == [request_id]


def test_the_hub_dataset_unreachable_then_back_receives_every_record(
    hub: HubServer, registry: LocalStore, tmp_path: Path
) -> None:
    env = client_env(hub, tmp_path / "hf-home", token=WRITE_TOKEN) | {
        "MODEL_REGISTRY": str(registry.root),
        "PREDICTION_LOG_REPO": LOG_REPO,
        "PREDICTION_LOG_PUSH_MINUTES": "0.03",  # a push every 2 s
    }
    app = start_app(env, workdir=tmp_path)

    def pushed() -> set[str]:
        try:
            files = hub.files(LOG_REPO, repo_type="dataset")
        except KeyError:
            return set()
        lines = [line for name, data in files.items() if name.startswith("predictions-") for line in data.splitlines()]
        return {json.loads(line)["request_id"] for line in lines}

    try:
        first = _predict(app, 2)
        assert _wait(lambda: first <= pushed())
        hub.set_offline(True)
        during = _predict(app, 3)  # the Hub is gone: predictions go on
        assert _wait(lambda: _failures(app, "hub") >= 1)
        assert app.output().count("cannot push to the Hub dataset") == 1
        assert not during & pushed()
        hub.set_offline(False)
        assert _wait(lambda: first | during <= pushed(), timeout=60)
        assert "pushing to the Hub dataset alice/house-price-log again" in app.output()
    finally:
        hub.set_offline(False)
        app.stop()
    local = Counter(record["request_id"] for record in logged(app.prediction_log))
    assert local == dict.fromkeys(first | during, 1)
    card = hub.files(LOG_REPO, repo_type="dataset")["README.md"].decode()
    configs = yaml.safe_load(card.split("---")[1])["configs"]  # the dataset viewer's two tables
    assert {config["config_name"]: config["data_files"] for config in configs} == {
        "predictions": "predictions-*.jsonl",
        "feedback": "feedback-*.jsonl",
    }
