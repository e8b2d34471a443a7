"""The JSON REST routes of the live app, good requests and bad ones, asserting status and message."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from modelrepo import EXAMPLES_FILE, METRICS_FILE, PRODUCTION_ALIAS, LocalStore, Manifest, Snapshot, hash_folder
from modelrepo.metrics import Metrics
from serving import mcp_available
from serving.validation import shown_number
from tests.expected import expected_answers
from tests.live import LiveApp, start_app


@pytest.fixture(scope="module")
def examples(production: Snapshot) -> list[dict[str, Any]]:
    return json.loads((production.folder / EXAMPLES_FILE).read_text())["rows"]


def post(app: LiveApp, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{app.url}/api/v1{path}", json=body, timeout=30)


def test_predict_returns_price_interval_and_version(live_app: LiveApp, production: Snapshot) -> None:
    house = {"Gr Liv Area": 1500, "Overall Qual": 7}
    response = post(live_app, "/predict", house)
    assert response.status_code == 200
    body = response.json()
    assert 50_000 < body["price"] < 500_000 and body["low"] < body["price"] < body["high"]
    assert body["level"] == 0.8
    # Both ranges, by metrics.json's rule from the members' spread; the first is low, high and level as before.
    (expected,) = expected_answers(production.folder, [house])
    assert body["price"] == expected["price"] and body["intervals"] == expected["intervals"]
    narrow, wide = body["intervals"]
    assert narrow == {"level": 0.8, "low": body["low"], "high": body["high"]} and wide["level"] == 0.95
    assert wide["low"] < body["low"] and wide["high"] > body["high"]
    assert body["model_version"] == production.version.name == response.headers["X-Model-Version"]
    assert body["model_commit"] == production.version.commit == response.headers["X-Model-Commit"]


def test_recorded_example_prices_are_reproduced(live_app: LiveApp, production: Snapshot, examples: list[dict]) -> None:
    recorded = json.loads((production.folder / EXAMPLES_FILE).read_text())["predictions"]
    prices = [post(live_app, "/predict", row).json()["price"] for row in examples]
    assert prices == recorded


def test_a_missing_optional_feature_takes_its_default(live_app: LiveApp, production: Snapshot) -> None:
    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    defaults = {feature["name"]: feature["default"] for feature in info["features"]}
    assert post(live_app, "/predict", {}).json()["price"] == post(live_app, "/predict", defaults).json()["price"]


def test_batch_prices_every_row_in_order(live_app: LiveApp, examples: list[dict]) -> None:
    response = post(live_app, "/predict/batch", {"rows": examples})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["row"] for item in results] == list(range(1, len(examples) + 1))
    single = [post(live_app, "/predict", row).json() for row in examples]
    assert [item["prediction"]["price"] for item in results] == [answer["price"] for answer in single]
    assert [item["prediction"]["intervals"] for item in results] == [answer["intervals"] for answer in single]


def test_model_route_describes_version_metrics_and_schema(live_app: LiveApp, registry: LocalStore) -> None:
    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    assert info["model_version"] == "v1" and info["source"] == "local registry"  # never a server path
    assert 0 < info["metrics"]["cv_rmse_log"] < 0.2
    assert len(info["features"]) == 79 and info["features"][0]["importance_rank"] == 1
    ranges = info["intervals"]
    assert ranges["levels"] == [0.8, 0.95] and ranges["conformal"] and ranges["note"] is None
    measured = Metrics.read(registry.fetch("v1").folder).intervals
    assert measured is not None and ranges["holdout"] == measured.holdout.model_dump(mode="json")
    assert set(ranges["holdout"]["levels"]["80"]) == {"overall", "with_outliers", "by_price_quintile", "by_group"}


def test_health_routes(live_app: LiveApp) -> None:
    assert httpx.get(f"{live_app.url}/health/live").json()["status"] == "alive"
    ready = httpx.get(f"{live_app.url}/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_openapi_documents_the_generated_request_model(live_app: LiveApp) -> None:
    spec = httpx.get(f"{live_app.url}/openapi.json").json()
    assert {"/api/v1/predict", "/api/v1/predict/batch", "/api/v1/model", "/health/ready"} <= set(spec["paths"])
    house = spec["components"]["schemas"]["House"]
    assert house["additionalProperties"] is False
    assert house["properties"]["Gr Liv Area"]["type"] == "integer"
    assert "NAmes" in house["properties"]["Neighborhood"]["enum"]
    assert httpx.get(f"{live_app.url}/docs").status_code == 200
    prediction = spec["components"]["schemas"]["Prediction"]
    assert {"low", "high", "level", "intervals"} <= set(prediction["required"])
    assert prediction["properties"]["intervals"]["items"] == {"$ref": "#/components/schemas/PriceRange"}
    assert "95%" in prediction["properties"]["intervals"]["description"]
    assert set(spec["components"]["schemas"]["PriceRange"]["properties"]) == {"level", "low", "high"}


def test_a_version_without_conformal_ranges_serves_its_one_band_and_says_so(tmp_path: Path, model_folder: Path) -> None:
    """metrics.json as versions wrote it before the 95% range: it still loads, serves its fixed 80% band exactly as
    before (price · e^log_low, price · e^log_high), and the model route says there is no 95% range."""
    folder = Path(shutil.copytree(model_folder, tmp_path / "old"))
    document = json.loads((folder / METRICS_FILE).read_text())
    del document["intervals"]
    (folder / METRICS_FILE).write_text(json.dumps(document, indent=2))
    Manifest.read(folder).model_copy(update={"files": hash_folder(folder)}).write(folder)
    store = LocalStore(tmp_path / "registry")
    store.set_alias(PRODUCTION_ALIAS, store.publish(folder, message="a version from before conformal ranges"))
    app = start_app({"MODEL_REGISTRY": str(store.root)}, workdir=tmp_path)
    try:
        house = {"Gr Liv Area": 1500}
        body = post(app, "/predict", house).json()
        interval = Metrics.read(folder).interval
        low, high = body["price"] * math.exp(interval.log_low), body["price"] * math.exp(interval.log_high)
        assert (body["low"], body["high"], body["level"]) == (low, high, 0.8)
        assert body["intervals"] == [{"level": 0.8, "low": low, "high": high}]
        assert body["intervals"] == expected_answers(folder, [house])[0]["intervals"]
        batch = post(app, "/predict/batch", {"rows": [house]}).json()["results"][0]["prediction"]
        assert batch["intervals"] == body["intervals"]
        ranges = httpx.get(f"{app.url}/api/v1/model").json()["intervals"]
        assert ranges["levels"] == [0.8] and not ranges["conformal"] and "no 95% range" in ranges["note"]
        page = httpx.get(f"{app.url}/config", timeout=30).text  # the page's components, the Model tab's text among them
        assert "One fixed 80% band for every house" in page and "no 95% range" in page
    finally:
        app.stop()


BAD_REQUESTS = [
    ({"Gr Liv Area": 1500, "Pool Size": 3}, "unknown feature 'Pool Size'"),
    ({"Gr Liv Area": "big"}, "Gr Liv Area: must be a whole number"),
    ({"Lot Frontage": "wide"}, "Lot Frontage: must be a whole number"),
    ({"Overall Qual": 7.5}, "Overall Qual: must be a whole number"),
    ({"Neighborhood": "Atlantis"}, "Neighborhood: 'Atlantis' is not a category seen in training; expected one of"),
    ({"Central Air": True}, "Central Air: "),
    ({"Gr Liv Area": None}, "Gr Liv Area: may not be null"),
    ({"Lot Frontage": True}, "Lot Frontage: must be a whole number"),
    ({"Lot Frontage": 72.0, "Gr Liv Area": 1500.0}, None),
    ({"Gr Liv Area": -500}, "Gr Liv Area: -500 is outside the accepted range 0 to "),
]


@pytest.mark.parametrize(("body", "message"), BAD_REQUESTS)
def test_bad_rows_get_422_naming_the_field(live_app: LiveApp, body: dict, message: str | None) -> None:
    response = post(live_app, "/predict", body)
    if message is None:  # whole-valued floats are whole numbers
        assert response.status_code == 200
        return
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert response.json()["model_version"] == "v1"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_get_422_not_500(live_app: LiveApp, literal: str) -> None:
    content = f'{{"Lot Frontage": {literal}}}'
    response = httpx.post(
        f"{live_app.url}/api/v1/predict", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "Lot Frontage: must be a finite number" in response.json()["detail"]


def test_invalid_json_and_wrong_shapes_get_422(live_app: LiveApp) -> None:
    broken = httpx.post(
        f"{live_app.url}/api/v1/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    assert post(live_app, "/predict", [1, 2]).status_code == 422
    assert post(live_app, "/predict/batch", {"rows": []}).status_code == 422


def test_a_bad_row_in_a_batch_keeps_its_error_in_place_and_the_others_are_priced(
    live_app: LiveApp, examples: list[dict]
) -> None:
    """One rule on every surface (was: REST refused the whole batch with a 422 for one bad row)."""
    rows = [examples[0], {**examples[1], "Neighborhood": "Atlantis"}, examples[2]]
    response = post(live_app, "/predict/batch", {"rows": rows})
    assert response.status_code == 200
    first, second, third = response.json()["results"]
    assert second["row"] == 2 and second["error"].startswith("row 2: Neighborhood: 'Atlantis'")
    assert "prediction" not in second
    assert first["prediction"]["price"] > 0 and third["prediction"]["request_id"].endswith("-3")
    # The structure still has to hold: that is the whole request's problem.
    assert post(live_app, "/predict/batch", {"rows": rows, "extra": 1}).status_code == 422
    assert post(live_app, "/predict/batch", {"rows": [examples[0], 5]}).json()["results"][1]["error"].startswith(
        "row 2: expected a JSON object"
    )


def test_oversized_batches_and_bodies_are_refused(live_app: LiveApp) -> None:
    too_many = post(live_app, "/predict/batch", {"rows": [{}] * 51})
    assert too_many.status_code == 413
    assert too_many.json()["detail"] == "51 rows is over the limit of 50 rows per request; split the batch"
    huge = httpx.post(
        f"{live_app.url}/api/v1/predict/batch",
        content=b'{"rows": [' + b"{}," * 2_000_000 + b"{}]}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and "over the limit of 4,000,000 bytes" in huge.json()["detail"]


def test_the_server_keeps_serving_after_bad_requests(live_app: LiveApp) -> None:
    for body, _ in BAD_REQUESTS:
        post(live_app, "/predict", body)
    assert post(live_app, "/predict", {"Gr Liv Area": 1500}).status_code == 200
    assert Path(live_app.log).exists() and "Traceback" not in live_app.output()


def test_values_outside_the_training_range_are_priced_with_a_warning(live_app: LiveApp) -> None:
    body = post(live_app, "/predict", {"Overall Qual": 7, "Gr Liv Area": 9000}).json()
    assert body["price"] > 0
    assert body["warnings"] == [
        "Gr Liv Area: 9000 is outside the training range 334 to 5642; the estimate is an extrapolation"
    ]
    assert post(live_app, "/predict", {"Gr Liv Area": 1500}).json()["warnings"] == []


def test_a_body_that_is_not_utf8_gets_the_apis_own_422(live_app: LiveApp) -> None:
    """Regression (found by fuzzing): FastAPI's own undocumented 400 came back for such a body."""
    for path in ("/api/v1/predict", "/api/v1/predict/batch", "/api/v1/feedback"):
        response = httpx.post(f"{live_app.url}{path}", content=b"\xa6L", headers={"Content-Type": "application/json"})
        assert response.status_code == 422 and response.json()["detail"] == "the body is not valid JSON (UTF-8 encoded)"


def test_the_schema_publishes_never_negative_as_minimum_zero(live_app: LiveApp) -> None:
    """Regression (found by fuzzing): integer bounds were published as pydantic's `ge`, which JSON Schema ignores."""
    house = httpx.get(f"{live_app.url}/openapi.json").json()["components"]["schemas"]["House"]["properties"]
    assert house["Lot Area"]["minimum"] == 0 and house["Lot Area"]["type"] == "integer"
    assert house["Gr Liv Area"]["minimum"] == 0


@pytest.mark.parametrize("value", [1e308, 1e12, 10**30])
def test_absurd_numbers_are_refused_on_every_surface_naming_the_accepted_range(live_app: LiveApp, value: float) -> None:
    """Regression: `Gr Liv Area: 1e308` was priced at about $2e61 and `1e12` at $5.6 million, with status 200."""
    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    area = next(f for f in info["features"] if f["name"] == "Gr Liv Area")
    low, high = area["accepted_minimum"], area["accepted_maximum"]
    assert low == 0 and area["maximum"] < high < 3 * area["maximum"]
    expected = f"Gr Liv Area: {shown_number(value)} is outside the accepted range 0 to {shown_number(high)}"

    rest = post(live_app, "/predict", {"Gr Liv Area": value})
    assert rest.status_code == 422 and expected in rest.json()["detail"]
    batch = post(live_app, "/predict/batch", {"rows": [{"Gr Liv Area": value}]})
    assert batch.status_code == 200 and batch.json()["results"][0]["error"].startswith("row 1: " + expected)
    client = Client(live_app.url, verbose=False)
    with pytest.raises(AppError, match=re.escape(expected)):
        client.predict({"Gr Liv Area": value}, api_name="/predict")
    (row,) = client.predict([{"Gr Liv Area": value}], api_name="/predict_batch")
    assert expected in row["error"]
    if mcp_available():
        from serving.mcp_client import call_tool

        result = call_tool(live_app.url, "predict", {"house": {"Gr Liv Area": value}})
        assert result.isError and expected in result.content[0].text


def test_a_value_a_little_outside_training_is_priced_with_the_warning(live_app: LiveApp) -> None:
    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    area = next(f for f in info["features"] if f["name"] == "Gr Liv Area")
    response = post(live_app, "/predict", {"Gr Liv Area": int(area["maximum"] * 1.2)})
    assert response.status_code == 200
    assert math.isfinite(response.json()["price"]) and response.json()["price"] > 0
    assert "is outside the training range" in response.json()["warnings"][0]


def test_the_openapi_schema_publishes_each_numbers_accepted_range(live_app: LiveApp) -> None:
    house = httpx.get(f"{live_app.url}/openapi.json").json()["components"]["schemas"]["House"]["properties"]
    info = {f["name"]: f for f in httpx.get(f"{live_app.url}/api/v1/model").json()["features"]}
    for name in ("Gr Liv Area", "Lot Area", "Year Built"):
        assert (house[name]["minimum"], house[name]["maximum"]) == (
            info[name]["accepted_minimum"],
            info[name]["accepted_maximum"],
        )


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_without_the_json_content_type_is_told_which_header_to_send(
    live_app: LiveApp, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(f"{live_app.url}/api/v1/predict", content=b'{"Gr Liv Area": 1500}', headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("send the body as JSON with the header Content-Type: application/json")
