"""The Gradio app: a page with Estimate, Batch and Model tabs, and the named API endpoints (also MCP tools).

The form is generated from the schema: the most important features first, the rest folded away by group
with their training defaults. Callbacks only translate between components and `Predictor`.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from modelrepo import Feature, FeatureKind

from .card_files import API_PREFIX, card_image_names
from .errors import ExplanationUnavailableError, IndexUnavailableError, InputError, TooLargeError, UnknownRequestError
from .monitoring_tab import monitoring_tab
from .predictor import Estimate, Predictor

TOP_FEATURES = 12
MISSING_CHOICE = "(missing)"
DOWNLOAD_MAX_AGE_SECONDS = 3600


def build_blocks(predictor: Predictor, *, card_url: str | None = None) -> gr.Blocks:
    schema = predictor.served.schema
    ordered = schema.by_importance()
    with gr.Blocks(title=f"{schema.target.name} estimator") as blocks:
        gr.Markdown(
            f"# House price estimator\nModel **{predictor.served.version}** "
            f"(commit `{predictor.served.commit[:12]}`) from the {predictor.served.public_source}."
        )
        with gr.Tab("Estimate"):
            _estimate_tab(predictor, ordered)
        with gr.Tab("Batch"):
            _batch_tab(predictor)
        with gr.Tab("Model"):
            _model_tab(predictor, card_url)
        with gr.Tab("Monitoring") as monitoring:
            monitoring_tab(predictor, monitoring)
        _api_endpoints(predictor)
    return blocks


def _estimate_tab(predictor: Predictor, ordered: list[Feature]) -> list[gr.components.Component]:
    examples = predictor.served.examples
    gr.Markdown(
        f"Fill in the house. The {TOP_FEATURES} features the model relies on most come first; the others are "
        "folded below with their most common values from the training data."
    )
    with gr.Row():
        buttons = [
            gr.Button(f"Example {n}: {_example_label(example)}", size="sm", variant="secondary")
            for n, example in enumerate(examples, start=1)
        ]
    features: list[Feature] = []  # in the order of `components`
    components: list[gr.components.Component] = []
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Group():
                features += ordered[:TOP_FEATURES]
                components += [_component(feature) for feature in ordered[:TOP_FEATURES]]
            rest = ordered[TOP_FEATURES:]
            with gr.Accordion(f"More features ({len(rest)})", open=False):
                for group in sorted({feature.group for feature in rest}):
                    members = [feature for feature in rest if feature.group == group]
                    with gr.Accordion(group, open=False):
                        features += members
                        components += [_component(feature) for feature in members]
        with gr.Column(scale=2):
            button = gr.Button("Estimate price", variant="primary")
            result = gr.Markdown("Press **Estimate price** to see the estimate.", elem_id="estimate")

    def estimate(*values: Any) -> str:
        row = _row_from_components(features, values)
        try:
            return _format_estimate(predictor.predict(row, surface="ui"))
        except (InputError, TooLargeError) as error:  # shown where the price was: never a price for other values
            return "**No estimate.** " + "\n\n".join(
                f"⚠️ {problem}" for problem in getattr(error, "problems", [str(error)])
            )

    button.click(estimate, inputs=components, outputs=result, api_visibility="private")
    for number, example_button in enumerate(buttons):
        example = examples[number]
        # Fill, then estimate from the filled form: one click, and never a price for the previous values.
        example_button.click(_filler(features, example), outputs=components, api_visibility="private").then(
            estimate, inputs=components, outputs=result, api_visibility="private"
        )
    return components


def _example_label(example: dict[str, Any]) -> str:
    """A few facts a buyer recognises, for the features Ames has; the button number alone otherwise."""
    facts = [
        str(example[name]) if name != "Gr Liv Area" else f"{example[name]:,} sq ft"
        for name in ("Neighborhood", "Gr Liv Area", "Year Built")
        if example.get(name) is not None
    ]
    return " · ".join(facts)


def _filler(features: list[Feature], example: dict[str, Any]) -> Callable[[], list[Any]]:
    def fill() -> list[Any]:
        return [_display_value(feature, example.get(feature.name)) for feature in features]

    return fill


def _component(feature: Feature) -> gr.components.Component:
    info = feature.description
    if feature.minimum is not None and feature.maximum is not None:
        info += f" (training data: {_plain(feature.minimum)} to {_plain(feature.maximum)})"
    value = _display_value(feature, feature.default)
    if feature.kind is FeatureKind.CATEGORY:
        choices = list(feature.categories or []) + ([MISSING_CHOICE] if feature.nullable else [])
        return gr.Dropdown(choices=choices, value=value, label=feature.name, info=info)
    if feature.kind is FeatureKind.BOOLEAN:
        return gr.Checkbox(value=bool(value), label=feature.name, info=info)
    precision = 0 if feature.kind is FeatureKind.INTEGER else None
    low, high = feature.accepted_range or (None, None)
    if low is not None and high is not None:
        info += f"; accepted {_plain(low)} to {_plain(high)}"
    # The range is shown, not enforced by the field: the validator's message then replaces the price on the page.
    return gr.Number(value=value, label=feature.name, info=info, precision=precision)


def _plain(value: float) -> str:
    """1300 and 215245 rather than 1,300 and 2.152e+05; years stay years."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"


def _display_value(feature: Feature, value: Any) -> Any:
    if value is None:
        return MISSING_CHOICE if feature.kind is FeatureKind.CATEGORY else None
    return value


def _row_from_components(features: list[Feature], values: tuple[Any, ...]) -> dict[str, Any]:
    """UI values into a JSON-like row: an emptied field is missing where that is allowed, and an error elsewhere."""
    row: dict[str, Any] = {}
    empty: list[str] = []
    for feature, value in zip(features, values, strict=True):
        if value is None or value == MISSING_CHOICE or (isinstance(value, float) and math.isnan(value)):
            if feature.nullable:
                row[feature.name] = None
            else:
                empty.append(f"{feature.name}: enter a value (the training data's usual value is {feature.default!r})")
            continue
        if feature.kind is FeatureKind.INTEGER and isinstance(value, float) and value.is_integer():
            value = int(value)
        row[feature.name] = value
    if empty:
        raise gr.Error("; ".join(empty), print_exception=False)
    return row


def _format_estimate(estimate: Estimate) -> str:
    text = (
        f"## ${estimate.price:,.0f}\n"
        f"{estimate.level:.0%} range: **${estimate.low:,.0f} – ${estimate.high:,.0f}**  \n"
        f"model {estimate.model_version} · commit `{estimate.model_commit[:12]}` · request id `{estimate.request_id}`"
    )
    if estimate.warnings:
        text += "\n\n" + "\n".join(f"⚠️ {warning}" for warning in estimate.warnings)
    return text


def _batch_tab(predictor: Predictor) -> None:
    limit = predictor.validator.max_rows
    gr.Markdown(
        f"Upload a CSV of houses with a header row using the feature names (see the Model tab). Up to **{limit:,} "
        "rows**; missing columns take their defaults. Bad rows are listed by row number and column; the good "
        "rows are still priced."
    )
    upload = gr.File(label="Houses (CSV)", file_types=[".csv"], type="filepath")
    button = gr.Button("Estimate prices", variant="primary")
    report = gr.Markdown(elem_id="batch-report")
    table = gr.Dataframe(label="Estimates", interactive=False, elem_id="batch-table")
    download = gr.File(label="Download the estimates (CSV)", interactive=False)

    def run(path: str | None) -> tuple[str, pd.DataFrame, str | None]:
        if not path:
            raise gr.Error("Choose a CSV file first.", print_exception=False)
        content = Path(path).read_bytes()
        results = _call(predictor.csv_batch, content, surface="ui").results
        frame = pd.DataFrame(_batch_records(results))
        download_path = _download_file(frame)
        errors = [str(result) for result in results if isinstance(result, InputError)]
        summary = f"Priced **{len(results) - len(errors)}** of {len(results)} rows."
        if errors:
            summary += "\n\n" + "\n".join(f"- {error}" for error in errors[:50])
        return summary, frame, str(download_path)

    button.click(run, inputs=upload, outputs=[report, table, download], api_visibility="private")


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
        figures = "".join(
            f'<figure style="margin:0"><img src="{API_PREFIX}/model/images/{name}" alt="{name[:-4].replace("_", " ")}"'
            ' style="width:100%;height:auto" loading="lazy"></figure>'
            for name in names
        )
        grid = "display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px"
        gr.HTML(f'<div style="{grid}">{figures}</div>', label="Evaluation plots")
    frame = pd.DataFrame(
        [
            {
                "rank": f["importance_rank"],
                "feature": f["name"],
                "kind": f["kind"],
                "default": f["default"],
                "description": f["description"],
            }
            for f in info["features"]
        ]
    )
    gr.Dataframe(frame, label="Input features", interactive=False)


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
