"""The named Gradio endpoints through the real `gradio_client`, and what the API page exposes."""

from __future__ import annotations

import json

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from modelrepo import EXAMPLES_FILE, Snapshot
from tests.expected import expected_answers
from tests.live import LiveApp


@pytest.fixture(scope="module")
def client(live_app: LiveApp) -> Client:
    return Client(live_app.url, verbose=False)


def test_only_the_named_endpoints_are_public(client: Client) -> None:
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {"/predict", "/explain", "/predict_batch", "/model_info", "/feedback", "/drift"}


def test_predict_one_house(client: Client, production: Snapshot, live_app: LiveApp) -> None:
    house = {"Gr Liv Area": 1500, "Overall Qual": 7}
    result = client.predict(house, api_name="/predict")
    assert result["low"] < result["price"] < result["high"]
    assert result["model_version"] == production.version.name and result["model_commit"] == production.version.commit
    # Both ranges, the same bits as REST's (JSON floats round-trip exactly).
    rest = httpx.post(f"{live_app.url}/api/v1/predict", json=house, timeout=30).json()
    assert [band["level"] for band in result["intervals"]] == [0.8, 0.95]
    assert (result["price"], result["intervals"]) == (rest["price"], rest["intervals"])
    assert result["intervals"] == expected_answers(production.folder, [house])[0]["intervals"]
    assert result["intervals"][0] == {"level": result["level"], "low": result["low"], "high": result["high"]}


def test_predict_batch_reports_bad_rows_and_prices_the_rest(client: Client, production: Snapshot) -> None:
    examples = json.loads((production.folder / EXAMPLES_FILE).read_text())
    rows = [examples["rows"][0], {"Neighborhood": "Atlantis"}, examples["rows"][1]]
    results = client.predict(rows, api_name="/predict_batch")
    assert [r["row"] for r in results] == [1, 2, 3]
    assert results[0]["prediction"]["price"] == examples["predictions"][0]
    assert len(results[0]["prediction"]["intervals"]) == 2
    assert results[1]["error"].startswith("row 1: Neighborhood: 'Atlantis' is not a category seen in training") is False
    assert results[1]["error"].startswith("row 2: Neighborhood: 'Atlantis' is not a category seen in training")
    assert results[2]["prediction"]["price"] == examples["predictions"][1]


def test_model_info(client: Client) -> None:
    info = client.predict(api_name="/model_info")
    assert info["model_version"] == "v1" and len(info["features"]) == 79


def test_bad_input_is_a_readable_error_not_a_stack_trace(client: Client) -> None:
    with pytest.raises(AppError, match=r"unknown feature 'Pool Size'"):
        client.predict({"Pool Size": 3}, api_name="/predict")
    with pytest.raises(AppError, match=r"over the limit of 50 rows"):
        client.predict([{}] * 51, api_name="/predict_batch")
    assert client.predict({}, api_name="/predict")["price"] > 0
