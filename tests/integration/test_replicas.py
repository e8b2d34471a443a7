"""Two app processes behind nginx behave as one service: prices, feedback across replicas, drift, the report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelrepo import LocalStore
from modelrepo.reference import population_stability_index
from tests.live import ROOT, LiveApp, start_app
from tests.proxy import Proxy, start_proxy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, list[LiveApp]]]:
    """Two replicas sharing one log folder (each writes its own files; the request index is shared)."""
    workdir = tmp_path_factory.mktemp("replicas")
    logs = workdir / "logs"
    env = {"MODEL_REGISTRY": str(registry.root), "PREDICTION_LOG_DIR": str(logs), "HF_HOME": str(workdir / "hf")}
    replicas = [start_app(env, workdir=workdir) for _ in range(2)]
    proxy = start_proxy([app.url for app in replicas], folder=workdir / "nginx")
    try:
        yield proxy, replicas
    finally:
        proxy.stop()
        for app in replicas:
            app.stop()


def rest_requests(app: LiveApp) -> float:
    text = httpx.get(f"{app.url}/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "house_price_requests":
            return sum(
                s.value for s in family.samples if s.labels.get("surface") == "rest" and s.name.endswith("_total")
            )
    return 0.0


def test_both_replicas_answer_behind_one_address_with_the_same_prices(fleet: tuple[Proxy, list[LiveApp]]) -> None:
    proxy, replicas = fleet
    before = [rest_requests(app) for app in replicas]
    houses = [{"Gr Liv Area": 900 + 100 * n, "Overall Qual": 5 + n % 4} for n in range(12)]
    through_proxy = [httpx.post(f"{proxy.url}/api/v1/predict", json=house).json()["price"] for house in houses]
    for app in replicas:
        direct = [httpx.post(f"{app.url}/api/v1/predict", json=house).json()["price"] for house in houses]
        assert direct == through_proxy
    served = [rest_requests(app) - count for app, count in zip(replicas, before, strict=True)]
    assert all(count >= 12 + 3 for count in served), served  # round robin: each got some of the proxied ones


def test_feedback_is_accepted_by_a_replica_that_did_not_price_the_house(fleet: tuple[Proxy, list[LiveApp]]) -> None:
    _, (first, second) = fleet
    priced = httpx.post(f"{first.url}/api/v1/predict", json={"Gr Liv Area": 1710}).json()
    batch = httpx.post(f"{first.url}/api/v1/predict/batch", json={"rows": [{}, {"Lot Area": 9000}]}).json()
    # At once, before the first replica's writer has indexed them: the second waits for it, then accepts.
    for request_id in (priced["request_id"], batch["results"][1]["prediction"]["request_id"]):
        answer = httpx.post(f"{second.url}/api/v1/feedback", json={"request_id": request_id, "actual_price": 190000})
        assert answer.status_code == 200, answer.text
    unknown = httpx.post(f"{second.url}/api/v1/feedback", json={"request_id": "0" * 32, "actual_price": 1.0})
    assert unknown.status_code == 404 and unknown.elapsed.total_seconds() < 1.5


def test_the_fleets_drift_is_the_psi_of_the_summed_bins(fleet: tuple[Proxy, list[LiveApp]]) -> None:
    proxy, replicas = fleet
    for n in range(40):
        httpx.post(f"{proxy.url}/api/v1/predict", json={"Gr Liv Area": 2500 + n})
    rows: dict[str, np.ndarray] = {}
    shares: dict[str, list[float]] = {}
    for app in replicas:
        for family in text_string_to_metric_families(httpx.get(f"{app.url}/metrics").text):
            if family.name == "house_price_drift_window_bin_rows":
                counts = [s.value for s in family.samples if s.labels["feature"] == "Gr Liv Area"]
                rows["Gr Liv Area"] = rows.get("Gr Liv Area", np.zeros(len(counts))) + counts
            if family.name == "house_price_drift_training_share":
                shares["Gr Liv Area"] = [s.value for s in family.samples if s.labels["feature"] == "Gr Liv Area"]
    summed = rows["Gr Liv Area"]
    fleet_psi = population_stability_index(shares["Gr Liv Area"], summed / summed.sum())
    assert summed.sum() >= 40 and fleet_psi > 0.25  # every proxied house is large: the fleet drifts


def test_the_report_joins_every_replicas_log(fleet: tuple[Proxy, list[LiveApp]], registry: LocalStore) -> None:
    proxy, replicas = fleet
    ids = [httpx.post(f"{proxy.url}/api/v1/predict", json={"Gr Liv Area": 1500}).json()["request_id"] for _ in range(6)]
    for n, request_id in enumerate(ids):  # the feedback goes to the other replica than nginx's next pick, or not
        httpx.post(f"{replicas[n % 2].url}/api/v1/feedback", json={"request_id": request_id, "actual_price": 181000})
    logs = replicas[0].workdir / "logs"
    for app in replicas:  # the log is written at shutdown at the latest: stop them to read everything
        app.stop()
    files = sorted(path.name for path in logs.glob("predictions-*.jsonl"))
    assert len(files) == 2  # one file per replica, never shared
    result = subprocess.run(
        [sys.executable, "-m", "serving.report", "--logs", str(logs), "--registry", str(registry.root), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    days = json.loads(result.stdout)["days"]
    logged = [json.loads(line) for path in logs.glob("predictions-*.jsonl") for line in path.open()]
    assert sum(day["rows"] for day in days) == len(logged)
    assert {record["request_id"] for record in logged} >= set(ids)
    assert sum(day["sales"] for day in days) >= len(ids)  # each feedback met its prediction, whichever replica
