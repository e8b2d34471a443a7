"""Operations in process: the API token on every surface, feedback, drift and metrics, and what gets logged.

The app is built in this process (no server) and driven through Starlette's TestClient; the live-server tests
cover gradio_client, MCP and the browser.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelrepo import LocalStore
from serving import ServingApp, ServingSettings, build_app
from serving.access import COOKIE_NAME
from training.profile import json_row

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def guarded(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServingApp, TestClient]]:
    logs = tmp_path_factory.mktemp("operations") / "logs"
    settings = ServingSettings.from_env(
        {
            "MODEL_REGISTRY": str(registry.root),
            "PREDICTION_LOG_DIR": str(logs),
            "API_TOKEN": TOKEN,
            "MAX_BATCH_ROWS": "5",
        }
    )
    yield from _serve(settings)


def _serve(settings: ServingSettings) -> Iterator[tuple[ServingApp, TestClient]]:
    serving = build_app(settings)
    try:
        with TestClient(serving.app) as client:
            yield serving, client
    finally:
        serving.close()


def _logged(serving: ServingApp) -> list[dict]:
    assert serving.monitor.log.flush()
    folder = serving.monitor.log.folder
    return [
        json.loads(line)
        for path in sorted(folder.glob("predictions-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _count(client: TestClient, surface: str, outcome: str) -> float:
    for line in client.get("/metrics", headers=AUTH).text.splitlines():
        if line.startswith(f'house_price_requests_total{{outcome="{outcome}",surface="{surface}"}}'):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/predict"),
        ("POST", "/api/v1/predict/batch"),
        ("POST", "/api/v1/feedback"),
        ("GET", "/api/v1/drift"),
        ("GET", "/api/v1/model"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/gradio_api/info"),
        ("POST", "/gradio_api/call/predict"),
        ("POST", "/gradio_api/mcp/"),
        ("GET", "/config"),
    ],
)
def test_every_surface_needs_the_token(guarded: tuple[ServingApp, TestClient], method: str, path: str) -> None:
    _, client = guarded
    missing = client.request(method, path, json={})
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"] and missing.headers["WWW-Authenticate"].startswith(
        "Bearer"
    )
    wrong = client.request(method, path, json={}, headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "the API token is wrong"
    assert TOKEN not in missing.text + wrong.text


def test_health_probes_stay_open_and_the_token_opens_the_rest(guarded: tuple[ServingApp, TestClient]) -> None:
    _, client = guarded
    assert client.get("/health/live").status_code == 200 and client.get("/health/ready").status_code == 200
    assert client.get("/api/v1/model", headers=AUTH).status_code == 200
    assert client.get("/gradio_api/info", headers=AUTH).status_code == 200
    assert client.get("/metrics", headers=AUTH).headers["content-type"].startswith("text/plain")


def test_a_browser_is_sent_to_sign_in_and_gets_a_cookie_not_the_token(guarded: tuple[ServingApp, TestClient]) -> None:
    _, client = guarded
    page = client.get("/?view=api", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/sign-in?next=/%3Fview%3Dapi"
    form = client.get("/sign-in")
    assert form.status_code == 200 and 'name="token"' in form.text
    refused = client.post("/sign-in", data={"token": "guess", "next": "/"}, follow_redirects=False)
    assert (
        refused.status_code == 401
        and "not the token" in refused.text
        and COOKIE_NAME not in refused.headers.get("set-cookie", "")
    )
    signed = client.post(
        "/sign-in", data={"token": TOKEN, "next": "https://elsewhere.example/"}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/"  # never redirected off the app
    cookie = signed.cookies[COOKIE_NAME]
    client.cookies.clear()  # the module's client stays a program without a session
    assert TOKEN not in cookie and "HttpOnly" in signed.headers["set-cookie"]
    browser = TestClient(client.app, cookies={COOKIE_NAME: cookie})  # no `with`: the app is already started
    assert browser.get("/", headers={"Accept": "text/html"}).status_code == 200
    assert browser.get("/gradio_api/info").status_code == 200
    tampered = TestClient(client.app, cookies={COOKIE_NAME: cookie[:-1] + "0"})
    assert tampered.get("/gradio_api/info").status_code == 401


def test_accepted_requests_are_logged_once_and_rejected_ones_not_at_all(
    guarded: tuple[ServingApp, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    serving, client = guarded
    before = {record["request_id"] for record in _logged(serving)}
    with caplog.at_level(logging.DEBUG):
        single = client.post("/api/v1/predict", json={"Gr Liv Area": 1500}, headers=AUTH)
        batch = client.post("/api/v1/predict/batch", json={"rows": [{}, {"Gr Liv Area": 2500}]}, headers=AUTH)
        rejected = [
            client.post("/api/v1/predict", json={"Gr Liv Area": "big"}, headers=AUTH),
            client.post("/api/v1/predict", json={"Pool Size": 3}, headers=AUTH),
            client.post("/api/v1/predict/batch", json={"rows": [{}] * 6}, headers=AUTH),
            client.post("/api/v1/predict", content=b"{" + b" " * 5_000_000 + b"}", headers=AUTH),
            client.post("/api/v1/predict", json={}),
        ]
    assert single.status_code == 200 and batch.status_code == 200
    assert [r.status_code for r in rejected] == [422, 422, 413, 413, 401]
    assert "Gr Liv Area" in rejected[0].json()["detail"] and "Pool Size" in rejected[1].json()["detail"]
    assert "6 rows is over the limit of 5" in rejected[2].json()["detail"]
    assert "over the limit of 4,000,000 bytes" in rejected[3].json()["detail"]
    ids = [single.json()["request_id"]] + [item["prediction"]["request_id"] for item in batch.json()["results"]]
    assert single.headers["X-Request-Id"] == ids[0] and batch.headers["X-Request-Id"] == batch.json()["request_id"]
    assert ids[1:] == [f"{batch.json()['request_id']}-1", f"{batch.json()['request_id']}-2"]
    new = [record for record in _logged(serving) if record["request_id"] not in before]
    assert sorted(record["request_id"] for record in new) == sorted(ids)
    first = next(record for record in new if record["request_id"] == ids[0])
    assert first["surface"] == "rest" and first["batch"] is False and first["price"] == single.json()["price"]
    assert first["features"]["Gr Liv Area"] == 1500 and len(first["features"]) == len(
        serving.predictor.served.schema.features
    )
    assert first["model_commit"] == serving.predictor.served.commit and first["latency_ms"] > 0
    assert set(first) == {
        "time", "request_id", "surface", "batch", "model_version", "model_commit", "features", "price", "low", "high",
        "level", "low_95", "high_95", "latency_ms",
    }  # fmt: skip
    narrow, wide = single.json()["intervals"]
    assert (first["low"], first["high"], first["level"]) == (narrow["low"], narrow["high"], narrow["level"])
    assert (first["low_95"], first["high_95"]) == (wide["low"], wide["high"])
    everything = json.dumps(new) + caplog.text
    assert TOKEN not in everything and "testclient" not in everything  # no token, no client address


def test_feedback_joins_a_prediction_and_names_what_is_wrong(guarded: tuple[ServingApp, TestClient]) -> None:
    serving, client = guarded
    request_id = client.post("/api/v1/predict", json={}, headers=AUTH).json()["request_id"]
    ok = client.post("/api/v1/feedback", json={"request_id": request_id, "actual_price": 187_500}, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["request_id"] == request_id and ok.json()["actual_price"] == 187_500
    unknown = client.post("/api/v1/feedback", json={"request_id": "no-such-id", "actual_price": 1e5}, headers=AUTH)
    assert unknown.status_code == 404 and "no prediction with request id 'no-such-id'" in unknown.json()["detail"]
    negative = client.post("/api/v1/feedback", json={"request_id": request_id, "actual_price": -5}, headers=AUTH)
    assert negative.status_code == 422 and "actual_price" in negative.json()["detail"]
    assert client.post("/api/v1/feedback", json={"request_id": request_id}, headers=AUTH).status_code == 422
    assert serving.monitor.log.flush()
    feedback = [
        json.loads(line)
        for path in serving.monitor.log.folder.glob("feedback-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [(r["request_id"], r["actual_price"]) for r in feedback] == [(request_id, 187_500.0)]


def test_metrics_count_outcomes_and_carry_the_model(guarded: tuple[ServingApp, TestClient]) -> None:
    serving, client = guarded
    ok, invalid = _count(client, "rest", "ok"), _count(client, "rest", "invalid")
    unauthorized = _count(client, "rest", "unauthorized")
    client.post("/api/v1/predict", json={}, headers=AUTH)
    client.post("/api/v1/predict", json={"Overall Qual": 7.5}, headers=AUTH)
    client.post("/api/v1/predict", json={})
    assert _count(client, "rest", "ok") == ok + 1 and _count(client, "rest", "invalid") == invalid + 1
    assert _count(client, "rest", "unauthorized") == unauthorized + 1
    text = client.get("/metrics", headers=AUTH).text
    served = serving.predictor.served
    assert f'version="{served.version}"' in text and f'commit="{served.commit}"' in text
    for name in (
        "house_price_request_seconds_bucket",
        "house_price_predicted_dollars_bucket",
        "house_price_rows_predicted_total",
    ):
        assert f"{name}{{" in text
    assert 'house_price_log_write_failures_total{destination="local"} 0.0' in text


def test_drift_endpoint_reports_the_window(guarded: tuple[ServingApp, TestClient]) -> None:
    _, client = guarded
    drift = client.get("/api/v1/drift", headers=AUTH).json()
    assert (
        drift["window_size"] == 1000
        and drift["window_rows"] >= 1
        and drift["thresholds"] == {"watch": 0.1, "drift": 0.25}
    )
    assert {item["feature"] for item in drift["features"]} >= {"Gr Liv Area", "prediction"}
    assert drift["enough_rows"] is False and {item["level"] for item in drift["features"]} == {"collecting"}


def test_gradio_bodies_are_capped_and_gradio_monitoring_page_is_off(guarded: tuple[ServingApp, TestClient]) -> None:
    _, client = guarded
    huge = client.post("/gradio_api/call/predict", content=b"[" + b" " * 5_000_000 + b"]", headers=AUTH)
    assert huge.status_code == 413 and "over the limit" in huge.json()["detail"]
    for path in ("/monitoring", "/monitoring/summary", "/gradio_api/monitoring"):
        off = client.get(path, headers=AUTH)
        assert off.status_code in (403, 404) and "dashboard" not in off.text, path


def test_an_upload_over_the_limit_is_refused(guarded: tuple[ServingApp, TestClient]) -> None:
    _, client = guarded
    big = b"Gr Liv Area\n" + b"1500\n" * 500_000  # 2.5 MB, over MAX_UPLOAD_BYTES' 2 MB
    response = client.post("/gradio_api/upload", files={"files": ("houses.csv", big, "text/csv")}, headers=AUTH)
    assert response.status_code == 413 and "2" in response.text


@pytest.fixture(scope="module")
def open_app(registry: LocalStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServingApp, TestClient]]:
    logs = tmp_path_factory.mktemp("drift") / "logs"
    yield from _serve(ServingSettings.from_env({"MODEL_REGISTRY": str(registry.root), "PREDICTION_LOG_DIR": str(logs)}))


def test_drift_through_the_api_stable_for_training_rows_then_flags_the_shifted_feature(
    open_app: tuple[ServingApp, TestClient], ames: pd.DataFrame
) -> None:
    """1,000 training rows through REST: no drift; then the same rows with 50% more living area: drift there only."""
    serving, client = open_app
    names = serving.predictor.served.schema.names
    rows = [json_row(row) for _, row in ames[names].sample(1000, random_state=11).iterrows()]

    def replay(batch: list[dict]) -> dict:
        for start in range(0, len(batch), 500):
            client.post("/api/v1/predict/batch", json={"rows": batch[start : start + 500]}).raise_for_status()
        return {item["feature"]: item for item in client.get("/api/v1/drift").json()["features"]}

    stable = replay(rows)
    assert {item["level"] for item in stable.values()} == {"stable"}, sorted(stable.values(), key=lambda i: -i["psi"])[
        :3
    ]
    shifted = replay([{**row, "Gr Liv Area": round(row["Gr Liv Area"] * 1.5)} for row in rows])
    assert shifted["Gr Liv Area"]["level"] == "drift"
    assert max(item["psi"] for name, item in shifted.items() if name not in ("Gr Liv Area", "prediction")) < 0.1
    metrics = client.get("/metrics").text
    assert (
        'house_price_drift_psi{feature="Gr Liv Area"}' in metrics and "house_price_drift_window_rows 1000.0" in metrics
    )
