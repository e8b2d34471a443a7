"""The Batch tab: a CSV of houses in, a table of prices with their ranges out, and the raw numbers to download.

Bad rows are listed by row number and column while the good ones are still priced; every outcome replaces the
table, so an error never leaves another file's prices on the page.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from .errors import InputError, TooLargeError
from .predictor import Estimate, Predictor
from .results import WIDE_LEVEL

DOWNLOAD_MAX_AGE_SECONDS = 3600
#: The raw columns of the download that hold dollars (whole: Int64, so a failed row's cells stay empty).
DOLLAR_COLUMNS = ["price", "low", "high", "low_95", "high_95"]


def batch_tab(predictor: Predictor) -> None:
    limit = predictor.validator.max_rows
    levels = predictor.price_ranges.levels
    gr.Markdown(
        f"Upload a CSV of houses with a header row using the feature names (see the Model tab). Up to **{limit:,} "
        "rows**; missing columns take their defaults. Bad rows are listed by row number and column; the good "
        f"rows are still priced, each with its {' and '.join(f'{level:.0%}' for level in levels)} range"
        f"{'s' * (len(levels) > 1)} (the Model tab says how often such ranges held)."
    )
    upload = gr.File(label="Houses (CSV)", file_types=[".csv"], type="filepath")
    button = gr.Button("Estimate prices", variant="primary")
    report = gr.Markdown(elem_id="batch-report")
    show_ids = gr.Checkbox(label="Show request ids", value=False, elem_id="batch-show-ids")
    table = gr.Dataframe(label="Estimates", interactive=False, elem_id="batch-table")
    download = gr.File(label="Download the estimates (CSV)", interactive=False, elem_id="batch-download")
    records = gr.State([])  # the raw rows, so that the checkbox can show or hide the ids without pricing again

    def run(path: str | None, ids: bool) -> tuple[str, pd.DataFrame, str | None, list[dict[str, Any]]]:
        # Every outcome replaces the table: an error never leaves the previous file's prices on the page.
        if not path:
            return _no_estimates("Choose a CSV file first."), _batch_view([], levels=levels, ids=ids), None, []
        try:
            results = predictor.csv_batch(Path(path).read_bytes(), surface="ui").results
        except (InputError, TooLargeError) as error:
            return _no_estimates(str(error)), _batch_view([], levels=levels, ids=ids), None, []
        rows = _batch_records(results)
        # Raw numbers and every column; whole dollars stay whole beside a failed row's empty cells (not 128280.0).
        raw = pd.DataFrame(rows).astype(dict.fromkeys(DOLLAR_COLUMNS, "Int64"))
        download_path = _download_file(raw)
        errors = [str(result) for result in results if isinstance(result, InputError)]
        summary = f"Priced **{len(results) - len(errors)}** of {len(results)} rows."
        if errors:
            summary += "\n\n" + "\n".join(f"- {error}" for error in errors[:50])
        return summary, _batch_view(rows, levels=levels, ids=ids), str(download_path), rows

    button.click(run, inputs=[upload, show_ids], outputs=[report, table, download, records], api_visibility="private")
    show_ids.change(
        lambda rows, ids: _batch_view(rows, levels=levels, ids=ids),
        inputs=[records, show_ids],
        outputs=table,
        api_visibility="private",
    )


def _no_estimates(message: str) -> str:
    return f"**No estimates.** ⚠️ {message}"


def _batch_view(rows: list[dict[str, Any]], *, levels: list[float], ids: bool) -> pd.DataFrame:
    """The table a person reads: dollars, each range named by its level (80%, and 95% when the version has it),
    no empty error column, ids on request."""
    ends = {levels[0]: ("low", "high"), WIDE_LEVEL: ("low_95", "high_95")}
    ranges = {
        f"{level:.0%} range": [
            f"{_dollars(row[low])} – {_dollars(row[high])}" if row["price"] is not None else "" for row in rows
        ]
        for level in levels
        if level in ends  # the table's columns: the 80% range and the 95% one
        for low, high in [ends[level]]
    }
    view = pd.DataFrame(
        {
            "row": [row["row"] for row in rows],
            "price": [_dollars(row["price"]) for row in rows],
            **ranges,
            "request id": [row["request_id"] for row in rows],
            "error": [row["error"] for row in rows],
        }
    )
    hidden = [] if ids else ["request id"]
    if not any(row["error"] for row in rows):
        hidden.append("error")
    return view.drop(columns=hidden)


def _dollars(value: float | None) -> str:
    return "" if value is None else f"${value:,.0f}"


def _download_file(frame: pd.DataFrame) -> Path:
    """Write the estimates for download in one folder per process, removing files older than an hour
    (Gradio serves its own copy), so a long-running Space does not collect one file per click."""
    folder = Path(tempfile.gettempdir()) / f"estimates-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    now = time.time()
    for old in folder.glob("*.csv"):
        if now - old.stat().st_mtime > DOWNLOAD_MAX_AGE_SECONDS:
            old.unlink(missing_ok=True)
    path = folder / f"estimates-{uuid.uuid4().hex[:12]}.csv"
    frame.to_csv(path, index=False)
    return path


def _batch_records(results: list[Estimate | InputError]) -> list[dict[str, Any]]:
    records = []
    for number, result in enumerate(results, start=1):
        if isinstance(result, InputError):
            short = [
                problem.removeprefix(f"row {number}: ").split("; expected one of")[0] for problem in result.problems
            ]
            empty = dict.fromkeys(DOLLAR_COLUMNS)
            records.append({"row": number, **empty, "request_id": "", "error": "; ".join(short)})
        else:
            low_95, high_95 = result.wide
            records.append(
                {
                    "row": number,
                    "price": round(result.price),
                    "low": round(result.low),
                    "high": round(result.high),
                    "low_95": None if low_95 is None else round(low_95),
                    "high_95": None if high_95 is None else round(high_95),
                    "request_id": result.request_id,
                    "error": "",
                }
            )
    return records
