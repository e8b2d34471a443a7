"""The Gradio app: a page with Estimate, Batch and Model tabs, and the named API endpoints (also MCP tools).

The form is generated from the schema: the most important features first, the rest folded away by group
with their training defaults. Callbacks only translate between components and `Predictor`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from modelrepo import IMAGES_DIR

from .card_files import API_PREFIX, card_image_names
from .errors import ExplanationUnavailableError, IndexUnavailableError, InputError, TooLargeError, UnknownRequestError
from .estimate_tab import estimate_tab
from .monitoring_tab import monitoring_tab
from .predictor import Estimate, Predictor

DOWNLOAD_MAX_AGE_SECONDS = 3600

logger = logging.getLogger(__name__)

#: The page's own CSS, passed where Gradio 6 takes it (`mount_gradio_app(css=...)` or `launch(css=...)`).
PAGE_CSS = """
/* The Estimate button and the price stay in view while the folded features are open. */
#estimate-panel { position: sticky; top: 8px; align-self: flex-start; }
/* Gradio's container hides overflow, which makes it the sticky panel's scroll box: clip instead, as it did. */
.gradio-container { overflow: clip !important; }
/* The Model tab's plots: two a row at 1280 px, one on a narrow screen; a two-panel plot takes a whole row. */
#model-plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
#model-plots figure.wide { grid-column: 1 / -1; }
"""


def build_blocks(predictor: Predictor, *, card_url: str | None = None) -> gr.Blocks:
    schema = predictor.served.schema
    ordered = schema.by_importance()
    with gr.Blocks(title=f"{schema.target.name} estimator") as blocks:
        gr.Markdown(
            f"# House price estimator\nModel **{predictor.served.version}** "
            f"(commit `{predictor.served.commit[:12]}`) from the {predictor.served.public_source}."
        )
        with gr.Tab("Estimate"):
            estimate_tab(predictor, ordered)
        with gr.Tab("Batch"):
            _batch_tab(predictor)
        with gr.Tab("Model"):
            _model_tab(predictor, card_url)
        with gr.Tab("Monitoring") as monitoring:
            monitoring_tab(predictor, monitoring)
        _api_endpoints(predictor)
    return blocks


def _batch_tab(predictor: Predictor) -> None:
    limit = predictor.validator.max_rows
    level = predictor.served.metrics.interval.level
    gr.Markdown(
        f"Upload a CSV of houses with a header row using the feature names (see the Model tab). Up to **{limit:,} "
        "rows**; missing columns take their defaults. Bad rows are listed by row number and column; the good "
        "rows are still priced."
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
            return _no_estimates("Choose a CSV file first."), _batch_view([], level=level, ids=ids), None, []
        try:
            results = predictor.csv_batch(Path(path).read_bytes(), surface="ui").results
        except (InputError, TooLargeError) as error:
            return _no_estimates(str(error)), _batch_view([], level=level, ids=ids), None, []
        rows = _batch_records(results)
        # Raw numbers and every column; whole dollars stay whole beside a failed row's empty cells (not 128280.0).
        raw = pd.DataFrame(rows).astype({"price": "Int64", "low": "Int64", "high": "Int64"})
        download_path = _download_file(raw)
        errors = [str(result) for result in results if isinstance(result, InputError)]
        summary = f"Priced **{len(results) - len(errors)}** of {len(results)} rows."
        if errors:
            summary += "\n\n" + "\n".join(f"- {error}" for error in errors[:50])
        return summary, _batch_view(rows, level=level, ids=ids), str(download_path), rows

    button.click(run, inputs=[upload, show_ids], outputs=[report, table, download, records], api_visibility="private")
    show_ids.change(
        lambda rows, ids: _batch_view(rows, level=level, ids=ids),
        inputs=[records, show_ids],
        outputs=table,
        api_visibility="private",
    )


def _no_estimates(message: str) -> str:
    return f"**No estimates.** ⚠️ {message}"


def _batch_view(rows: list[dict[str, Any]], *, level: float, ids: bool) -> pd.DataFrame:
    """The table a person reads: dollars, the interval named by its level, no empty error column, ids on request."""
    band = f"{level:.0%} range"
    view = pd.DataFrame(
        {
            "row": [row["row"] for row in rows],
            "price": [_dollars(row["price"]) for row in rows],
            band: [
                f"{_dollars(row['low'])} – {_dollars(row['high'])}" if row["price"] is not None else "" for row in rows
            ],
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
            records.append(
                {"row": number, "price": None, "low": None, "high": None, "request_id": "", "error": "; ".join(short)}
            )
        else:
            records.append(
                {
                    "row": number,
                    "price": round(result.price),
                    "low": round(result.low),
                    "high": round(result.high),
                    "request_id": result.request_id,
                    "error": "",
                }
            )
    return records


def _model_tab(predictor: Predictor, card_url: str | None) -> None:
    info = predictor.info()
    metrics = info["metrics"]
    data = info["data"]
    card = card_url or f"{API_PREFIX}/model/card"
    trained = info["created_at"][:19].replace("T", " ") + " UTC"
    gr.Markdown(
        f"""### Model {info["model_version"]}
| about this version | |
|---|---|
| commit | `{info["model_commit"]}` |
| source | {info["source"]}{" (offline: served from the local cache)" if info["offline"] else ""} |
| trained | {trained} from code `{info["code_commit"] or "unknown"}` |
| data | `{data["source"]}`, {data["rows"]:,} rows, sha256 `{data["sha256"][:16]}…` |
| CV RMSE of log price | {metrics["cv_rmse_log"]:.4f} |
| CV mean absolute % error | {metrics["cv_mape"]:.2%} |
| CV mean absolute error | ${metrics["cv_mae"]:,.0f} |
| holdout RMSE of log price | {metrics["holdout_rmse_log"]:.4f} |
| libraries | {", ".join(f"{k} {v}" for k, v in info["library_versions"].items())} |

[Read the model card]({card}) for intended use, limitations, data and evaluation."""
    )
    names = card_image_names(predictor.served.folder)
    if names:  # from the REST route that serves exactly these files: no server path in the page
        folder = predictor.served.folder / IMAGES_DIR
        figures = "".join(
            f'<figure class="{"wide" if _is_wide(folder / name) else "plot"}" style="margin:0">'
            f'<img src="{API_PREFIX}/model/images/{name}" alt="{name[:-4].replace("_", " ")}"'
            ' style="width:100%;height:auto" loading="lazy"></figure>'
            for name in names
        )
        gr.HTML(f'<div id="model-plots">{figures}</div>', label="Evaluation plots")
    frame = pd.DataFrame(
        [
            {
                "rank": f["importance_rank"],
                "feature": f["name"],
                "title": f.get("title") or "",
                "kind": f["kind"],
                "default": f["default"],
                "description": f["description"],
            }
            for f in info["features"]
        ]
    )
    gr.Dataframe(frame, label="Input features", interactive=False)


def _is_wide(png: Path) -> bool:
    """A plot of two panels side by side (wider than 1.6:1, from the PNG header) takes a whole row of the grid,
    so that its labels stay as large as the others'."""
    try:
        header = png.read_bytes()[:24]
        width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    except OSError:
        return False
    return header[:8] == b"\x89PNG\r\n\x1a\n" and height > 0 and width / height > 1.6


def _api_surface(request: gr.Request | None) -> str:
    """MCP tool calls reach these (unqueued) functions in process, with the MCP client's own request and headers."""
    headers = getattr(request, "headers", None) or {}
    return "mcp" if "mcp-session-id" in headers or "mcp-protocol-version" in headers else "gradio_api"


def _api_endpoints(predictor: Predictor) -> None:
    """Typed, named endpoints for gradio_client and MCP; the UI's own events stay private."""

    def predict(house: dict[str, Any], request: gr.Request) -> dict[str, Any]:
        """Estimate the sale price of one house in dollars.

        Args:
            house: features by name, for example {"Gr Liv Area": 1500, "Overall Qual": 7}. Omitted features take
                their training defaults; call model_info for every feature with its kind, range and categories.

        Returns:
            price, the low and high ends of the prediction interval, its level, the model version and commit, and
            the request_id to quote when reporting the actual sale price with feedback.
        """
        return _call(predictor.predict, house, surface=_api_surface(request)).as_dict()

    def explain(house: dict[str, Any], request: gr.Request) -> dict[str, Any]:
        """Estimate one house and say why: each feature's effect on the price, and what similar houses sold for.

        Args:
            house: features by name, as for predict.

        Returns:
            the fields of predict, plus base_log_price and base_price (the model's average house), contributions
            (one per feature, largest first: feature, value, log_effect, percent, dollars; base_log_price plus the
            sum of log_effect is the log of price) and comparables (training sales: sale_price, sold, distance,
            features).
        """
        return _call(predictor.explain, house, surface=_api_surface(request)).as_dict()

    def predict_batch(houses: list[dict[str, Any]], request: gr.Request) -> list[dict[str, Any]]:
        """Estimate many houses at once; a bad row gets an error message and the others are still priced.

        Args:
            houses: a list of houses, each a dict of features by name as for predict.

        Returns:
            one result per house, in order: {"row", "prediction"} or {"row", "error"}.
        """
        results = _call(predictor.predict_batch, houses, surface=_api_surface(request)).results
        return [
            {"row": n, "error": str(r)} if isinstance(r, InputError) else {"row": n, "prediction": r.as_dict()}
            for n, r in enumerate(results, start=1)
        ]

    def model_info() -> dict[str, Any]:
        """The served model's version, commit, provenance, metrics and input features (kinds, ranges, categories)."""
        return predictor.info()

    def feedback(request_id: str, actual_price: float, request: gr.Request) -> dict[str, Any]:
        """Report the price a house actually sold for, so that the model's accuracy can be tracked.

        Args:
            request_id: the request_id returned with the prediction (each row of a batch has its own).
            actual_price: the observed sale price in dollars.

        Returns:
            the recorded feedback: request_id, actual_price and time.
        """
        return _call(predictor.feedback, request_id, actual_price, surface=_api_surface(request))

    def drift() -> dict[str, Any]:
        """How recent traffic compares with the training data: PSI per feature, worst first (drift above 0.25)."""
        return predictor.monitor.drift_report().as_dict()

    # Not queued: MCP then calls them in process, with the caller's own (token-checked) request, instead of
    # through a loopback client that could not carry the API token; every call still passes the predictor's limits.
    for function in (predict, explain, predict_batch, model_info, feedback, drift):
        gr.api(function, api_name=function.__name__, queue=False)


def _call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a serving function and show its input errors as a message a person understands."""
    try:
        return function(*args, **kwargs)
    except (
        InputError,
        TooLargeError,
        UnknownRequestError,
        IndexUnavailableError,
        ExplanationUnavailableError,
    ) as error:
        raise gr.Error(str(error), print_exception=False) from None
