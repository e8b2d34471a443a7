"""With API_TOKEN set, the live app serves gradio_client and MCP clients that send it, and no one else."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client

from serving import mcp_available
from serving.mcp_client import call_predict
from tests.conftest import API_TOKEN
from tests.live import LiveApp, wait_for_logged

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def test_startup_says_the_app_is_guarded_and_never_prints_the_token(guarded_app: LiveApp) -> None:
    assert "access    API_TOKEN required" in guarded_app.output()
    httpx.post(f"{guarded_app.url}/api/v1/predict", json={}, headers=AUTH).raise_for_status()
    httpx.post(f"{guarded_app.url}/api/v1/predict", json={}, headers={"Authorization": "Bearer wrong-token-given"})
    assert API_TOKEN not in guarded_app.output()


def test_gradio_client_passes_the_token_as_a_header(guarded_app: LiveApp) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the client fails while reading the app's config
        Client(guarded_app.url, verbose=False)
    client = Client(guarded_app.url, verbose=False, headers=AUTH)
    result = client.predict({"Gr Liv Area": 1600}, api_name="/predict")
    assert result["price"] > 0
    records = wait_for_logged(guarded_app.prediction_log, {result["request_id"]})
    assert [r["surface"] for r in records if r["request_id"] == result["request_id"]] == ["gradio_api"]


@pytest.mark.skipif(not mcp_available(), reason="the gradio[mcp] extra is not installed")
def test_mcp_clients_send_the_token_as_a_bearer_header(guarded_app: LiveApp) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the MCP client gives up on a 401 while connecting
        call_predict(guarded_app.url, {})
    result = call_predict(guarded_app.url, {"Gr Liv Area": 1700}, headers=AUTH)
    records = wait_for_logged(guarded_app.prediction_log, {result["request_id"]})
    assert [r["surface"] for r in records if r["request_id"] == result["request_id"]] == ["mcp"]
