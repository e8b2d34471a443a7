"""The live app records every accepted prediction exactly once, from every surface, and nothing it rejects."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from gradio_client import Client

from serving import mcp_available
from serving.mcp_client import call_predict, call_tool
from tests.live import LiveApp, logged, wait_for_logged


def test_every_surface_is_logged_once_with_its_name(live_app: LiveApp) -> None:
    client = Client(live_app.url, verbose=False)
    rest = httpx.post(f"{live_app.url}/api/v1/predict", json={"Gr Liv Area": 1200}).json()
    rest_batch = httpx.post(f"{live_app.url}/api/v1/predict/batch", json={"rows": [{}, {"Year Built": 1990}]}).json()
    gradio = client.predict({"Gr Liv Area": 1300}, api_name="/predict")
    gradio_batch = client.predict([{"Gr Liv Area": 1400}, {"Pool Size": 1}], api_name="/predict_batch")
    expected = {
        rest["request_id"]: "rest",
        **{item["prediction"]["request_id"]: "rest" for item in rest_batch["results"]},
        gradio["request_id"]: "gradio_api",
        gradio_batch[0]["prediction"]["request_id"]: "gradio_api",
    }
    assert "error" in gradio_batch[1] and "prediction" not in gradio_batch[1]  # the bad row is not priced
    if mcp_available():
        expected[call_predict(live_app.url, {"Gr Liv Area": 1500})["request_id"]] = "mcp"
    records = wait_for_logged(live_app.prediction_log, set(expected))
    counts = Counter(record["request_id"] for record in records)
    assert {request_id: counts[request_id] for request_id in expected} == dict.fromkeys(expected, 1)
    surfaces = {record["request_id"]: record["surface"] for record in records}
    assert {request_id: surfaces[request_id] for request_id in expected} == expected
    gradio_record = next(record for record in records if record["request_id"] == gradio["request_id"])
    assert gradio_record["price"] == gradio["price"] and gradio_record["features"]["Gr Liv Area"] == 1300


def test_rejected_requests_leave_no_record(live_app: LiveApp) -> None:
    client = Client(live_app.url, verbose=False)
    marker = httpx.post(f"{live_app.url}/api/v1/predict", json={}).json()["request_id"]
    before = len(wait_for_logged(live_app.prediction_log, {marker}))
    refused = [
        httpx.post(f"{live_app.url}/api/v1/predict", json={"Neighborhood": "Atlantis"}),
        httpx.post(f"{live_app.url}/api/v1/predict", content=b"not json", headers={"Content-Type": "application/json"}),
        httpx.post(f"{live_app.url}/api/v1/predict/batch", json={"rows": [{}] * 51}),
    ]
    assert [response.status_code for response in refused] == [422, 422, 413]
    assert "Atlantis" in refused[0].json()["detail"]
    for house in ({"Overall Qual": "seven"}, [1, 2]):
        with pytest.raises(Exception, match="Overall Qual|JSON object"):
            client.predict(house, api_name="/predict")
    with pytest.raises(Exception, match="51 rows is over the limit of 50"):
        client.predict([{}] * 51, api_name="/predict_batch")
    if mcp_available():
        assert call_tool(live_app.url, "predict", {"house": {"Lot Area": -1}}).isError
    after = httpx.post(f"{live_app.url}/api/v1/predict", json={}).json()["request_id"]
    records = wait_for_logged(live_app.prediction_log, {after})
    assert len(records) == before + 1 and records[-1]["request_id"] == after


def test_feedback_through_gradio_client_and_rest(live_app: LiveApp) -> None:
    client = Client(live_app.url, verbose=False)
    request_id = client.predict({}, api_name="/predict")["request_id"]
    wait_for_logged(live_app.prediction_log, {request_id})
    receipt = client.predict(request_id, 199_000, api_name="/feedback")
    assert receipt["request_id"] == request_id and receipt["actual_price"] == 199_000
    with pytest.raises(Exception, match="no prediction with request id 'made-up'"):
        client.predict("made-up", 199_000, api_name="/feedback")
    with pytest.raises(Exception, match="actual_price"):
        client.predict(request_id, -1, api_name="/feedback")
    rest = httpx.post(f"{live_app.url}/api/v1/feedback", json={"request_id": request_id, "actual_price": 201_000})
    assert rest.status_code == 200
    records = wait_for_logged(live_app.prediction_log, {request_id}, kind="feedback", times=2)
    assert [r["actual_price"] for r in records if r["request_id"] == request_id][-2:] == [199_000, 201_000]
    assert all(
        set(record) == {"time", "request_id", "actual_price"} for record in logged(live_app.prediction_log, "feedback")
    )
