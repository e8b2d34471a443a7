"""The Gradio app: a page with Estimate, Batch and Model tabs, and the named API endpoints (also MCP tools).

The form is generated from the schema: the most important features first, the rest folded away by group
with their training defaults. Callbacks only translate between components and `Predictor`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from modelrepo import IMAGES_DIR

from .batch_tab import batch_tab
from .card_files import API_PREFIX, card_image_names
from .errors import ExplanationUnavailableError, IndexUnavailableError, InputError, TooLargeError, UnknownRequestError
from .estimate_tab import estimate_tab
from .monitoring_tab import monitoring_tab
from .predictor import Predictor
from .ranges_view import coverage_markdown

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
            batch_tab(predictor)
        with gr.Tab("Model"):
            _model_tab(predictor, card_url)
        with gr.Tab("Monitoring") as monitoring:
            monitoring_tab(predictor, monitoring)
        _api_endpoints(predictor)
    return blocks


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
    gr.Markdown(coverage_markdown(predictor.price_ranges, group_label=_group_label(predictor)), elem_id="coverage")
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


def _group_label(predictor: Predictor) -> Callable[[str], str]:
    """A group's (neighbourhood's) name in words with its code, as the form names it: "North Ames (NAmes)"."""
    holdout = predictor.price_ranges.intervals.holdout if predictor.price_ranges.intervals else None
    column = holdout.group_column if holdout else None
    if column is None or column not in predictor.served.schema.names:
        return str
    feature = predictor.served.schema.feature(column)

    def label(code: str) -> str:
        name = feature.value_label(code)
        return f"{name} ({code})" if name and name != code else code

    return label


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
            price; low and high, the ends of its 80% range, and level (0.8); intervals, every range as {"level",
            "low", "high"} (80% and 95%: the sale price falls inside for that share of houses); the model version
            and commit; and the request_id to quote when reporting the actual sale price with feedback.
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
