"""The Gradio page in a real browser: an example priced as REST prices it, a CSV batch with a bad row, errors."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from modelrepo import EXAMPLES_FILE, Snapshot
from tests.live import LiveApp

pytestmark = pytest.mark.browser

WAIT = 30_000  # ms: a cold first prediction on a busy 2-core runner stays well under this
PRICE = re.compile(r"\$([\d,]+)")


@pytest.fixture(scope="module")
def examples(production: Snapshot) -> list[dict[str, Any]]:
    """The served model's own example rows (examples.json of the production version)."""
    return json.loads((production.folder / EXAMPLES_FILE).read_text(encoding="utf-8"))["rows"]


def rest_prices(app: LiveApp, rows: list[dict[str, Any]]) -> list[float]:
    response = httpx.post(f"{app.url}/api/v1/predict/batch", json={"rows": rows}, timeout=30)
    response.raise_for_status()
    return [item["prediction"]["price"] for item in response.json()["results"]]


def dollars(text: str) -> int:
    """The first "$123,456" in a text, as a whole number of dollars."""
    match = PRICE.search(text)
    assert match, f"no dollar amount in {text!r}"
    return int(match.group(1).replace(",", ""))


def table_rows(page: Page, selector: str) -> tuple[list[str], list[list[str]]]:
    """Header and body cells of a gr.Dataframe (a virtualised ARIA grid, not an HTML table body)."""
    grid = page.locator(selector).get_by_role("grid")
    header = [cell.inner_text().strip() for cell in grid.get_by_role("columnheader").all()]
    body = []
    for row in grid.get_by_role("row").all():
        cells = row.get_by_role("gridcell").all()
        if cells:
            body.append([cell.inner_text().strip() for cell in cells])
    return header, body


def test_example_1_is_priced_as_the_rest_route_prices_it(
    page: Page, live_app: LiveApp, examples: list[dict[str, Any]], tmp_path: Path
) -> None:
    page.goto(live_app.url)
    living_area = page.get_by_label("Gr Liv Area", exact=True)
    expect(living_area).to_be_visible(timeout=WAIT)
    # One click fills the form and prices it.
    page.get_by_role("button", name=re.compile(r"^Example 1: ")).click()
    expect(living_area).to_have_value(f"{examples[0]['Gr Liv Area']:g}", timeout=WAIT)
    result = page.locator("#estimate")
    expect(result).to_contain_text("range", timeout=WAIT)
    response = httpx.post(f"{live_app.url}/api/v1/predict", json=examples[0], timeout=30)
    assert response.status_code == 200, response.text
    expected = round(response.json()["price"])
    expect(result).to_contain_text(f"${expected:,}", timeout=WAIT)
    expect(result).to_contain_text(f"model {response.json()['model_version']}")

    # Pressing the button on the filled form gives the same price.
    page.get_by_role("button", name="Estimate price", exact=True).click()
    expect(result).to_contain_text(f"${expected:,}", timeout=WAIT)
    assert dollars(result.inner_text()) == expected
    page.screenshot(path=tmp_path / "estimate-tab.png", full_page=True)


def test_a_csv_batch_prices_the_good_rows_and_names_the_bad_one(
    page: Page, live_app: LiveApp, examples: list[dict[str, Any]], tmp_path: Path
) -> None:
    rows = [dict(row) for row in examples[:3]]
    rows[1]["Neighborhood"] = "Atlantis"
    upload = tmp_path / "houses.csv"
    with upload.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)  # None is written as an empty cell: missing where the feature may be missing
    expected = rest_prices(live_app, [rows[0], rows[2]])

    page.goto(live_app.url)
    page.get_by_role("tab", name="Batch", exact=True).click()
    page.locator("input[type=file][accept='.csv']").set_input_files(upload)
    expect(page.get_by_text("houses.csv")).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Estimate prices", exact=True).click()

    report = page.locator("#batch-report")
    expect(report).to_contain_text("Priced 2 of 3 rows", timeout=WAIT)
    expect(report).to_contain_text("row 2: Neighborhood: 'Atlantis' is not a category seen in training")
    header, body = table_rows(page, "#batch-table")
    assert header == ["row", "price", "low", "high", "error"]
    assert [cells[0] for cells in body] == ["1", "2", "3"]
    assert [int(body[0][1]), int(body[2][1])] == [round(price) for price in expected]
    assert body[0][4] == body[2][4] == ""
    assert body[1][1] == "" and body[1][4] == "Neighborhood: 'Atlantis' is not a category seen in training"


def test_estimating_a_batch_without_a_file_says_what_to_do(page: Page, live_app: LiveApp) -> None:
    # The form itself offers no way to send a bad value (see the report), so the error path shown here is
    # the batch tab's: pressing the button before choosing a file.
    page.goto(live_app.url)
    page.get_by_role("tab", name="Batch", exact=True).click()
    page.get_by_role("button", name="Estimate prices", exact=True).click()
    expect(page.get_by_text("Choose a CSV file first.")).to_be_visible(timeout=WAIT)
