"""The Estimate tab: a form generated from the schema, the price, why (a chart and a sentence) and comparable sales.

The most important features come first, the rest folded away by group with their training defaults; names are
shown in plain language while the codes are what the form sends. One call to `Predictor.explain` answers the
price, the effects and the sales together; a model that cannot be explained (served through the pipeline) shows
the price alone. Every error replaces all three, so nothing on the page belongs to other values.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from modelrepo import Feature, FeatureKind, Schema

from .errors import InputError, TooLargeError
from .explanation_view import comparables_table, effects_chart, effects_sentence
from .predictor import Estimate, Predictor
from .ranges_view import range_meaning, wide_meaning
from .results import WIDE_LEVEL, ExplainedEstimate

TOP_FEATURES = 12
MISSING_CHOICE = "(missing)"


@dataclass(frozen=True)
class Meaning:
    """What the ranges mean, in words measured for this version (`ranges_view`): shown under the price."""

    narrow: str = ""
    wide: str = ""


logger = logging.getLogger(__name__)

#: What the three outputs show for no estimate: nothing that could belong to other values.
NO_CHART = ""
NO_SALES = pd.DataFrame()


def estimate_tab(predictor: Predictor, ordered: list[Feature]) -> list[gr.components.Component]:
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
            chart = gr.HTML(NO_CHART, elem_id="effects-chart", label="Why this price")
    sold = gr.Dataframe(
        NO_SALES, label="What similar houses sold for", interactive=False, elem_id="comparables", visible=False
    )
    outputs = [result, chart, sold]

    sales = _example_sales(features, examples, predictor.served.example_prices)
    meaning = Meaning(range_meaning(predictor.price_ranges), wide_meaning(predictor.price_ranges))

    def estimate(*values: Any) -> tuple[str, str, Any]:
        return _estimate_outputs(predictor, features, values, sales=sales, meaning=meaning)

    # A failure before `estimate` runs (Gradio refusing a value) must not leave the previous price either.
    button.click(estimate, inputs=components, outputs=outputs, api_visibility="private").failure(
        _failed_outputs, outputs=outputs, api_visibility="private"
    )
    for number, example_button in enumerate(buttons):
        example = examples[number]
        # Fill, then estimate from the filled form: one click, and never a price for the previous values.
        example_button.click(_filler(features, example), outputs=components, api_visibility="private").then(
            estimate, inputs=components, outputs=outputs, api_visibility="private"
        ).failure(_failed_outputs, outputs=outputs, api_visibility="private")
    return components


def _estimate_outputs(
    predictor: Predictor,
    features: list[Feature],
    values: tuple[Any, ...],
    *,
    sales: list[tuple[dict[str, Any], float]],
    meaning: Meaning,
) -> tuple[str, str, Any]:
    """The price with why and the comparable sales, or the reason there is none (and nothing else)."""
    explain = predictor.served.attribution is not None  # served through the pipeline: the price alone
    text, explained = _estimate_result(predictor, features, values, sales=sales, explain=explain, meaning=meaning)
    if explained is None:
        return text, NO_CHART, gr.Dataframe(NO_SALES, visible=False)
    schema = predictor.served.schema
    title, shown = _titles(schema), _shown(schema)
    sentence = effects_sentence(explained.explanation, title=title, shown=shown)
    chart = effects_chart(explained.explanation, title=title, shown=shown)
    table = comparables_table(explained.comparables, title=title, shown=shown)
    body = f"{text}\n\n**Why this price.** {sentence}" if sentence else text
    return body, chart, gr.Dataframe(table, visible=not table.empty)


def _failed_outputs() -> tuple[str, str, Any]:
    return _failed(), NO_CHART, gr.Dataframe(NO_SALES, visible=False)


def _titles(schema: Schema) -> Callable[[str], str]:
    """A feature's readable name for a sentence or a chart: its title, else its name."""

    def title(name: str) -> str:
        try:
            return schema.feature(name).display_name
        except KeyError:
            return name

    return title


def _shown(schema: Schema) -> Callable[[str, Any], str]:
    """A value as a person reads it: "2,400", "Good", "North Ames", "missing"."""

    def shown(name: str, value: Any) -> str:
        if value is None:
            return "missing"
        try:
            feature = schema.feature(name)
        except KeyError:
            return str(value)
        label = feature.value_label(value)
        if label:
            return label
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int | float) and not _is_year(name):
            return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        return str(value)

    return shown


def _is_year(name: str) -> bool:
    return "Yr" in name or "Year" in name


def _estimate_result(
    predictor: Predictor,
    features: list[Feature],
    values: tuple[Any, ...],
    *,
    sales: list[tuple[dict[str, Any], float]],
    explain: bool,
    meaning: Meaning = Meaning(),
) -> tuple[str, ExplainedEstimate | None]:
    """The price's text for the form's values, or why there is none (never the previous price); with `explain`,
    also the explained estimate the chart and the sales table are drawn from."""
    explained: ExplainedEstimate | None = None
    try:
        row = _row_from_components(features, values)
        if explain:
            explained = predictor.explain(row, surface="ui")
            estimate = explained.estimate
        else:
            estimate = predictor.predict(row, surface="ui")
    except (InputError, TooLargeError) as error:  # shown where the price was: never a price for other values
        return _no_estimate(getattr(error, "problems", [str(error)])), None
    except Exception:
        logger.exception("The UI could not price a house")
        problem = "The server could not price this house. Try again; if it persists, tell the operator."
        return _no_estimate([problem]), None
    # An example's actual price only while the form holds that example unchanged.
    sold = next((price for row_of_example, price in sales if row_of_example == row), None)
    return _format_estimate(estimate, sold=sold, meaning=meaning), explained


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


def _format_estimate(estimate: Estimate, *, sold: float | None = None, meaning: Meaning = Meaning()) -> str:
    text = f"## ${estimate.price:,.0f}\n"
    text += f"{estimate.level:.0%} range: **${estimate.low:,.0f} – ${estimate.high:,.0f}**  \n"
    if meaning.narrow:
        text += f"{meaning.narrow}  \n"
    for band in estimate.bands[1:]:
        held = f" ({meaning.wide})" if meaning.wide and band.level == WIDE_LEVEL else ""
        text += f"{band.level:.0%} range: ${band.low:,.0f} – ${band.high:,.0f}{held}  \n"
    if sold is not None:  # the model was trained on every sale, this one included: say so
        text += f"Sold for **${sold:,.0f}**: this example's recorded sale (one the model was trained on)  \n"
    text += (
        f"model {estimate.model_version} · commit `{estimate.model_commit[:12]}` · request id `{estimate.request_id}`"
    )
    if estimate.warnings:
        text += "\n\n" + "\n".join(f"⚠️ {warning}" for warning in estimate.warnings)
    return text
