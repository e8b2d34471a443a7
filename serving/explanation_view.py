"""The Estimate tab's answer to "why this price?": a waterfall of the largest effects, a sentence, and the sales.

Pure functions from an explanation to HTML and a table, so that the page needs no plotting library and no
network: the chart is inline SVG, sized by its viewBox to the column it sits in.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from .explanation import Explanation

#: Effects drawn one by one; the rest are one bar, so that the walk still ends at the price.
CHART_EFFECTS = 10

Title = Callable[[str], str]  # a feature's readable name
Shown = Callable[[str, Any], str]  # a feature's value as a person reads it

_ROW, _LABEL, _WIDTH, _VALUE = 22, 250, 560, 80  # drawn at about its size in the Estimate column
_UP, _DOWN, _TOTAL = "#2e7d32", "#c62828", "#546e7a"


def effects_sentence(explanation: Explanation, *, title: Title, shown: Shown, count: int = 2) -> str:
    """'Above-grade living area of 2,400 adds about 18%; overall quality of Average lowers the price by about 9%.'"""
    parts = []
    for contribution in explanation.contributions[:count]:
        change = abs(contribution.percent)
        amount = f"{change:.0f}%" if change >= 1 else f"{change:.1f}%"
        verb = "adds about" if contribution.log_effect >= 0 else "lowers the price by about"
        name = title(contribution.feature)
        parts.append(f"{name} of {shown(contribution.feature, contribution.value)} {verb} {amount}")
    if not parts:
        return ""
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def effects_chart(explanation: Explanation, *, title: Title, shown: Shown, effects: int = CHART_EFFECTS) -> str:
    """A waterfall from the average house's price to this one's: one bar per large effect, in dollars."""
    top = explanation.contributions[:effects]
    rest = explanation.contributions[effects:]
    steps: list[tuple[str, float]] = [
        (f"{title(c.feature)} = {shown(c.feature, c.value)}", c.dollars) for c in top if c.dollars != 0
    ]
    if rest:
        steps.append((f"{len(rest)} other features", sum(c.dollars for c in rest)))
    base = explanation.base_price
    price = base + sum(amount for _, amount in steps)
    running, points = base, [base]
    for _, amount in steps:
        running += amount
        points.append(running)
    low, high = min(points) * 0.98, max(points) * 1.02
    scale = (_WIDTH - _LABEL - _VALUE) / (high - low)

    def x(dollars: float) -> float:
        return _LABEL + (dollars - low) * scale

    rows = [_bar("Average house in the training data", low, base, _TOTAL, f"${base:,.0f}", x, 0)]
    running = base
    for n, (label, amount) in enumerate(steps, start=1):
        colour, sign = (_UP, "+") if amount >= 0 else (_DOWN, "−")
        rows.append(_bar(label, running, running + amount, colour, f"{sign}${abs(amount):,.0f}", x, n))
        running += amount
    rows.append(_bar("This house", low, price, _TOTAL, f"${price:,.0f}", x, len(steps) + 1))
    height = _ROW * (len(steps) + 2) + 8
    return (
        f'<svg viewBox="0 0 {_WIDTH} {height}" width="100%" role="img" font-family="sans-serif" font-size="12"'
        ' aria-label="How each feature moves the price from the average house to this one">'
        f"{''.join(rows)}</svg>"
    )


def _bar(label: str, start: float, end: float, colour: str, text: str, x: Callable[[float], float], n: int) -> str:
    left, right = sorted((x(start), x(end)))
    y = 4 + n * _ROW
    return (
        f'<g class="effect"><title>{html.escape(label)}: {html.escape(text)}</title>'
        f'<text x="{_LABEL - 8}" y="{y + 15}" text-anchor="end">{html.escape(_shorten(label))}</text>'
        f'<rect x="{left:.1f}" y="{y + 3}" width="{max(right - left, 1.5):.1f}" height="{_ROW - 8}" fill="{colour}"/>'
        f'<text x="{right + 6:.1f}" y="{y + 15}">{html.escape(text)}</text></g>'
    )


def _shorten(label: str, limit: int = 38) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def comparables_table(comparables: Sequence[Mapping[str, Any]], *, title: Title, shown: Shown) -> pd.DataFrame:
    """One row per sale: price and month first, then the features an agent compares, in plain language."""
    records = []
    for sale in comparables:
        record = {"sold for": f"${sale['sale_price']:,.0f}", "sold": sale.get("sold") or ""}
        for name, value in sale["features"].items():
            record[title(name)] = shown(name, value)
        record["distance"] = f"{sale['distance']:.3f}"
        records.append(record)
    return pd.DataFrame(records)
