"""The same rows give the same prices in process, through REST, through gradio_client and through MCP."""

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


def test_every_surface_gives_the_same_prices(live_app: LiveApp, production: Snapshot, rows: list[dict]) -> None:
    schema = Schema.read(production.folder)
    model = load_model(production.folder / MODEL_FILE)
    complete = [{**schema.defaults(), **row} for row in rows]
    in_process = model.predict(to_frame(complete, schema)).tolist()

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
        from tests.mcp_client import call_predict

        assert [call_predict(live_app.url, row)["price"] for row in rows] == in_process
    assert np.all(np.isfinite(in_process))
