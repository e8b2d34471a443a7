"""The same rows give the same prices in process, through REST, gradio_client and MCP, with either engine."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from gradio_client import Client

from modelrepo import EXAMPLES_FILE, MODEL_FILE, Schema, Snapshot, load_model, to_frame
from serving import mcp_available
from tests.live import LiveApp


@pytest.fixture(scope="module")
def rows(production: Snapshot, ames: pd.DataFrame) -> list[dict]:
    """The card's examples, a sparse row that leans on defaults, and a row with missing optional values."""
    examples = json.loads((production.folder / EXAMPLES_FILE).read_text())["rows"]
    return [*examples, {"Gr Liv Area": 2100, "Overall Qual": 8, "Neighborhood": "NridgHt"}, {"Lot Frontage": None}]


@pytest.fixture(params=["compiled", "pipeline"])
def app_with_engine(request: pytest.FixtureRequest) -> tuple[str, LiveApp]:
    fixture = "live_app" if request.param == "compiled" else "pipeline_app"
    return request.param, request.getfixturevalue(fixture)


def test_every_surface_gives_the_same_prices(
    app_with_engine: tuple[str, LiveApp], production: Snapshot, rows: list[dict]
) -> None:
    engine, live_app = app_with_engine
    schema = Schema.read(production.folder)
    model = load_model(production.folder / MODEL_FILE)
    complete = [{**schema.defaults(), **row} for row in rows]
    in_process = model.predict(to_frame(complete, schema)).tolist()

    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    assert info["engine"] == engine
    rest = [httpx.post(f"{live_app.url}/api/v1/predict", json=row).json()["price"] for row in rows]
    batch = [
        item["prediction"]["price"]
        for item in httpx.post(f"{live_app.url}/api/v1/predict/batch", json={"rows": rows}).json()["results"]
    ]
    client = Client(live_app.url, verbose=False)
    gradio = [client.predict(row, api_name="/predict")["price"] for row in rows]
    gradio_batch = [item["prediction"]["price"] for item in client.predict(rows, api_name="/predict_batch")]

    assert rest == in_process
    assert batch == in_process
    assert gradio == in_process
    assert gradio_batch == in_process
    if mcp_available():
        from serving.mcp_client import call_predict

        assert [call_predict(live_app.url, row)["price"] for row in rows] == in_process
    assert np.all(np.isfinite(in_process))


def test_the_app_says_which_engine_serves_and_why(live_app: LiveApp, pipeline_app: LiveApp) -> None:
    compiled = httpx.get(f"{live_app.url}/api/v1/model").json()
    assert compiled["engine"] == "compiled"
    assert compiled["engine_reason"].startswith("bit-identical to the pipeline on ")
    assert "engine    compiled: bit-identical to the pipeline" in live_app.output()
    assert 'house_price_engine_info{engine="compiled"' in httpx.get(f"{live_app.url}/metrics").text

    forced = httpx.get(f"{pipeline_app.url}/api/v1/model").json()
    assert (forced["engine"], forced["engine_reason"]) == ("pipeline", "forced by PREDICTION_ENGINE=pipeline")
    assert "engine    pipeline: forced by PREDICTION_ENGINE=pipeline" in pipeline_app.output()
    metrics = httpx.get(f"{pipeline_app.url}/metrics").text
    assert 'house_price_engine_info{engine="pipeline",reason="forced by PREDICTION_ENGINE=pipeline"} 1.0' in metrics


def test_a_batch_with_bad_rows_gets_the_same_answer_on_every_surface(live_app: LiveApp, rows: list[dict]) -> None:
    """Good rows priced, each bad row's error in its place: REST, gradio_client and MCP alike."""
    batch = [rows[0], {"Neighborhood": "Atlantis"}, rows[1], {"Gr Liv Area": 1e12}, {"Pool Size": 3}]

    def outline(results: list[dict]) -> list[tuple[int, object]]:
        return [(r["row"], r["prediction"]["price"] if r.get("prediction") else r["error"]) for r in results]

    rest = httpx.post(f"{live_app.url}/api/v1/predict/batch", json={"rows": batch})
    assert rest.status_code == 200
    expected = outline(rest.json()["results"])
    assert [type(value).__name__ for _, value in expected] == ["float", "str", "float", "str", "str"]
    assert expected[1][1].startswith("row 2: Neighborhood: 'Atlantis' is not a category")
    assert outline(Client(live_app.url, verbose=False).predict(batch, api_name="/predict_batch")) == expected
    if mcp_available():
        import ast

        from serving.mcp_client import call_tool

        result = call_tool(live_app.url, "predict_batch", {"houses": batch})
        assert not result.isError and outline(ast.literal_eval(result.content[0].text)) == expected
