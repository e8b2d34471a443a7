"""The same rows give the same prices in process, through REST, gradio_client and MCP, with either engine."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from gradio_client import Client

from modelrepo import EXAMPLES_FILE, Snapshot
from serving import mcp_available
from tests.expected import expected_answers
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
    """Prices and both ranges, bit for bit, on every surface with either engine, as computed here from the files."""
    engine, live_app = app_with_engine
    expected = expected_answers(production.folder, rows)
    in_process = [answer["price"] for answer in expected]

    def answers(results: list[dict]) -> list[dict]:
        return [{"price": result["price"], "intervals": result["intervals"]} for result in results]

    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    assert info["engine"] == engine
    rest = [httpx.post(f"{live_app.url}/api/v1/predict", json=row).json() for row in rows]
    batch = [
        item["prediction"]
        for item in httpx.post(f"{live_app.url}/api/v1/predict/batch", json={"rows": rows}).json()["results"]
    ]
    client = Client(live_app.url, verbose=False)
    gradio = [client.predict(row, api_name="/predict") for row in rows]
    gradio_batch = [item["prediction"] for item in client.predict(rows, api_name="/predict_batch")]

    assert answers(rest) == expected
    assert answers(batch) == expected
    assert answers(gradio) == expected
    assert answers(gradio_batch) == expected
    if mcp_available():
        from serving.mcp_client import call_predict

        assert answers([call_predict(live_app.url, row) for row in rows]) == expected
    assert np.all(np.isfinite(in_process))
    assert all(len(answer["intervals"]) == 2 for answer in expected)


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
