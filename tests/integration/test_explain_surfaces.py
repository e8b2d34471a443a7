"""Why this price on every surface: REST (`?explain=true` and `/explain`), gradio_client and MCP, one answer."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pandas as pd
import pytest
from gradio_client import Client

from modelrepo import EXAMPLES_FILE, Snapshot
from serving.mcp_client import call_for_dict
from tests.live import LiveApp

HOUSE = {"Gr Liv Area": 2400, "Overall Qual": 8, "Neighborhood": "NridgHt"}


def explained(app: LiveApp, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{app.url}/api/v1{path}", json=body, timeout=30)


def check_explanation(body: dict[str, Any]) -> None:
    contributions = body["contributions"]
    assert {"feature", "value", "log_effect", "percent", "dollars"} == set(contributions[0])
    total = body["base_log_price"] + sum(item["log_effect"] for item in contributions)
    assert abs(total - math.log(body["price"])) < 1e-9
    assert body["base_price"] + sum(item["dollars"] for item in contributions) == pytest.approx(body["price"])
    sizes = [abs(item["log_effect"]) for item in contributions]
    assert sizes == sorted(sizes, reverse=True)


def test_predict_with_explain_adds_the_effects_to_the_usual_fields(live_app: LiveApp) -> None:
    plain = explained(live_app, "/predict", HOUSE)
    response = explained(live_app, "/predict?explain=true", HOUSE)
    assert response.status_code == 200
    body = response.json()
    check_explanation(body)
    assert set(plain.json()) < set(body) and "comparables" in body
    assert body["price"] == plain.json()["price"] and body["request_id"] == response.headers["X-Request-Id"]
    living = next(item for item in body["contributions"] if item["feature"] == "Gr Liv Area")
    assert living["value"] == 2400 and living["log_effect"] > 0
    assert "base_log_price" not in plain.json()  # a plain prediction stays as it was


def test_the_explanation_comes_with_five_real_sales_from_the_same_neighbourhood_first(
    live_app: LiveApp, ames: pd.DataFrame
) -> None:
    body = explained(live_app, "/explain", HOUSE).json()
    sales = body["comparables"]
    assert len(sales) == 5
    assert {"sale_price", "sold", "distance", "features", "same_group"} <= set(sales[0])
    assert all(sale["features"]["Neighborhood"] == "NridgHt" and sale["same_group"] for sale in sales)
    assert [sale["distance"] for sale in sales] == sorted(sale["distance"] for sale in sales)
    for sale in sales:  # each one a real training sale, at its real price and month
        match = ames
        for name, value in sale["features"].items():
            match = match[match[name].isna()] if value is None else match[match[name] == value]
        assert sale["sale_price"] in set(match["SalePrice"]), sale
        year, month = sale["sold"].split("-")
        assert ((match["Yr Sold"] == int(year)) & (match["Mo Sold"] == int(month))).any()


def test_the_explain_route_gives_the_same_answer_and_its_own_request_id(live_app: LiveApp) -> None:
    first, second = explained(live_app, "/explain", HOUSE), explained(live_app, "/predict?explain=true", HOUSE)
    assert first.status_code == 200
    one, two = first.json(), second.json()
    assert one["request_id"] != two["request_id"]
    for key in ("price", "base_log_price", "contributions"):
        assert one[key] == two[key]
    check_explanation(one)
    # An explained prediction is logged like any other: its feedback is accepted.
    feedback = httpx.post(
        f"{live_app.url}/api/v1/feedback", json={"request_id": one["request_id"], "actual_price": 300000}
    )
    assert feedback.status_code == 200


def test_explain_refuses_bad_input_as_predict_does(live_app: LiveApp) -> None:
    bad = {"Gr Liv Area": -5}
    response, plain = explained(live_app, "/explain", bad), explained(live_app, "/predict", bad)
    assert response.status_code == 422 and response.json()["problems"] == plain.json()["problems"]


def test_the_openapi_schema_documents_the_explanation(live_app: LiveApp) -> None:
    spec = httpx.get(f"{live_app.url}/openapi.json").json()
    assert "/api/v1/explain" in spec["paths"]
    parameters = spec["paths"]["/api/v1/predict"]["post"].get("parameters", [])
    assert any(p["name"] == "explain" for p in parameters)
    fields = spec["components"]["schemas"]["ExplainedPrediction"]["properties"]
    assert {"base_log_price", "contributions", "comparables"} <= set(fields)


def test_gradio_client_explain_endpoint(live_app: LiveApp, production: Snapshot) -> None:
    example = json.loads((production.folder / EXAMPLES_FILE).read_text())["rows"][0]
    body = Client(live_app.url, verbose=False).predict(example, api_name="/explain")
    check_explanation(body)
    rest = explained(live_app, "/explain", example).json()
    assert body["price"] == rest["price"] and body["contributions"] == rest["contributions"]


def test_the_explain_mcp_tool(live_app: LiveApp) -> None:
    body = call_for_dict(live_app.url, "explain", {"house": HOUSE})
    check_explanation(body)
    assert body["contributions"] == explained(live_app, "/explain", HOUSE).json()["contributions"]


def test_a_model_served_through_the_pipeline_says_why_it_cannot_explain(pipeline_app: LiveApp) -> None:
    response = explained(pipeline_app, "/explain", HOUSE)
    assert response.status_code == 501
    assert "compiled engine" in response.json()["detail"]
    assert explained(pipeline_app, "/predict?explain=true", HOUSE).status_code == 501
    assert explained(pipeline_app, "/predict", HOUSE).status_code == 200
    info = httpx.get(f"{pipeline_app.url}/api/v1/model").json()
    assert info["explanations"] is False and "compiled engine" in info["explanations_unavailable"]
