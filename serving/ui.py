"""The Gradio app: a page with Estimate, Batch and Model tabs, and the named API endpoints (also MCP tools).

The form is generated from the schema: the most important features first, the rest folded away by group
with their training defaults. Callbacks only translate between components and `Predictor`.
"""

from __future__ import annotations

import json
import logging
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

from modelrepo import EXAMPLES_FILE, IMAGES_DIR, Feature, FeatureKind, Schema

from .card_files import API_PREFIX, card_image_names
from .errors import ExplanationUnavailableError, IndexUnavailableError, InputError, TooLargeError, UnknownRequestError
from .monitoring_tab import monitoring_tab
from .predictor import Estimate, Predictor

TOP_FEATURES = 12
MISSING_CHOICE = "(missing)"
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
    schema = predictor.served.schema
    examples = predictor.served.examples
    gr.Markdown(
        f"Fill in the house. The {TOP_FEATURES} features the model relies on most come first; the others are "
        "folded below with their most common values from the training data."
    )
    with gr.Row():
        buttons = [
            gr.Button(f"Example {n}: {_example_label(schema, example)}", size="sm", variant="secondary")
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
        with gr.Column(scale=2, elem_id="estimate-panel"):
            button = gr.Button("Estimate price", variant="primary")
            result = gr.Markdown("Press **Estimate price** to see the estimate.", elem_id="estimate")

    sales = _example_sales(features, examples, _sale_prices(predictor.served.folder, len(examples)))

    def estimate(*values: Any) -> str:
        return _estimate_text(predictor, features, values, sales=sales)

    # A failure before `estimate` runs (Gradio refusing a value) must not leave the previous price either.
    button.click(estimate, inputs=components, outputs=result, api_visibility="private").failure(
        _failed, outputs=result, api_visibility="private"
    )
    for number, example_button in enumerate(buttons):
        example = examples[number]
        # Fill, then estimate from the filled form: one click, and never a price for the previous values.
        example_button.click(_filler(features, example), outputs=components, api_visibility="private").then(
            estimate, inputs=components, outputs=result, api_visibility="private"
        ).failure(_failed, outputs=result, api_visibility="private")
    return components


def _estimate_text(
    predictor: Predictor, features: list[Feature], values: tuple[Any, ...], *, sales: list[tuple[dict[str, Any], float]]
) -> str:
    """The result for the form's values: the price, or why there is none (never the previous price)."""
    try:
        row = _row_from_components(features, values)
        estimate = predictor.predict(row, surface="ui")
    except (InputError, TooLargeError) as error:  # shown where the price was: never a price for other values
        return _no_estimate(getattr(error, "problems", [str(error)]))
    except Exception:
        logger.exception("The UI could not price a house")
        return _no_estimate(["The server could not price this house. Try again; if it persists, tell the operator."])
    # An example's actual price only while the form holds that example unchanged.
    sold = next((price for row_of_example, price in sales if row_of_example == row), None)
    return _format_estimate(estimate, sold=sold)


def _no_estimate(problems: list[str]) -> str:
    return "**No estimate.** " + "\n\n".join(f"⚠️ {problem}" for problem in problems)


def _failed() -> str:
    return _no_estimate(["The form could not be read (see the message at the top right); check the fields."])


def _example_label(schema: Schema, example: dict[str, Any]) -> str:
    """A few facts a buyer recognises, in words, for the features Ames has; the button number alone otherwise."""
    facts = []
    if example.get("Neighborhood") is not None:
        neighborhood = schema.feature("Neighborhood")
        facts.append(neighborhood.value_label(example["Neighborhood"]) or str(example["Neighborhood"]))
    if example.get("Gr Liv Area") is not None:
        facts.append(f"{example['Gr Liv Area']:,} sq ft")
    if example.get("Year Built") is not None:
        facts.append(f"built {example['Year Built']}")
    return " · ".join(facts)


def _sale_prices(folder: Path, count: int) -> list[float | None]:
    """The examples' actual sale prices, recorded by training beside the rows in examples.json ("actual")."""
    try:
        actual = json.loads((folder / EXAMPLES_FILE).read_text(encoding="utf-8")).get("actual") or []
    except (OSError, ValueError, AttributeError):
        actual = []
    if len(actual) != count:
        return [None] * count
    return [float(price) if isinstance(price, int | float) else None for price in actual]


def _example_sales(
    features: list[Feature], examples: list[dict[str, Any]], prices: list[float | None]
) -> list[tuple[dict[str, Any], float]]:
    """Each example's row as the form sends it after the example fills it, with its actual sale price."""
    sales = []
    for example, price in zip(examples, prices, strict=True):
        if price is None:
            continue
        try:
            sales.append((_row_from_components(features, tuple(_filler(features, example)())), price))
        except InputError:  # an example the form cannot hold: its price is never shown
            continue
    return sales


def _filler(features: list[Feature], example: dict[str, Any]) -> Callable[[], list[Any]]:
    def fill() -> list[Any]:
        return [_display_value(feature, example.get(feature.name)) for feature in features]

    return fill


def _component(feature: Feature) -> gr.components.Component:
    info = feature.description
    label = _label(feature)
    value = _display_value(feature, feature.default)
    if feature.kind is FeatureKind.CATEGORY:
        codes: list[Any] = list(feature.categories or [])
        return gr.Dropdown(choices=_choices(feature, codes), value=value, label=label, info=info)
    if feature.is_numeric and feature.labels:  # a number that stands for a name (a dwelling type, a rating)
        codes = sorted({_number(code) for code in feature.labels} | ({feature.default} - {None}))
        return gr.Dropdown(choices=_choices(feature, codes), value=value, label=label, info=info)
    if feature.minimum is not None and feature.maximum is not None:
        info += f" (training data: {_plain(feature.minimum)} to {_plain(feature.maximum)})"
    if feature.kind is FeatureKind.BOOLEAN:
        return gr.Checkbox(value=bool(value), label=label, info=info)
    precision = 0 if feature.kind is FeatureKind.INTEGER else None
    low, high = feature.accepted_range or (None, None)
    if low is not None and high is not None:
        info += f"; accepted {_plain(low)} to {_plain(high)}"
    # The range is shown, not enforced by the field: the validator's message then replaces the price on the page.
    return gr.Number(value=value, label=label, info=info, precision=precision)


def _label(feature: Feature) -> str:
    """The readable title with the code beside it ("Above-grade living area (sq ft) · Gr Liv Area")."""
    if not feature.title or feature.title.casefold() == feature.name.casefold():
        return feature.name
    return f"{feature.title} · {feature.name}"


def _choices(feature: Feature, codes: list[Any]) -> list[tuple[str, Any]]:
    """Names shown, codes kept as the values: "North Ames (NAmes)" sends "NAmes"."""
    missing = [(MISSING_CHOICE, MISSING_CHOICE)] if feature.nullable else []
    return [(_value_name(feature, code), code) for code in codes] + missing


def _value_name(feature: Feature, value: Any) -> str:
    name = feature.value_label(value)
    return f"{name} ({value})" if name and name != str(value) else str(value)


def _number(code: str) -> int | float:
    number = float(code)
    return int(number) if number.is_integer() else number


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
                usual = _value_name(feature, feature.default)
                empty.append(f"{_label(feature)}: enter a value (the training data's usual value is {usual})")
            continue
        if feature.kind is FeatureKind.INTEGER and isinstance(value, float) and value.is_integer():
            value = int(value)
        row[feature.name] = value
    if empty:
        raise InputError(empty)
    return row


def _format_estimate(estimate: Estimate, *, sold: float | None = None) -> str:
    text = f"## ${estimate.price:,.0f}\n"
    text += f"{estimate.level:.0%} range: **${estimate.low:,.0f} – ${estimate.high:,.0f}**  \n"
    if sold is not None:  # the model was trained on every sale, this one included: say so
        text += f"Sold for **${sold:,.0f}**: this example's recorded sale (one the model was trained on)  \n"
    text += (
        f"model {estimate.model_version} · commit `{estimate.model_commit[:12]}` · request id `{estimate.request_id}`"
    )
    if estimate.warnings:
        text += "\n\n" + "\n".join(f"⚠️ {warning}" for warning in estimate.warnings)
    return text


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
