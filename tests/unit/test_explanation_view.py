"""The Estimate tab's "why": a sentence and a waterfall from the base price to the price, drawn from the effects."""

from __future__ import annotations

import math
import re

from serving.explanation import Contribution, Explanation
from serving.explanation_view import comparables_table, effects_chart, effects_sentence


def explanation(effects: list[tuple[str, float]], base: float = 150_000.0) -> Explanation:
    running, contributions = base, []
    for name, effect in effects:
        after = running * math.exp(effect)
        contributions.append(Contribution(name, 1, effect, math.expm1(effect) * 100, after - running))
        running = after
    return Explanation(math.log(base), contributions)


def title(name: str) -> str:
    return {"Gr Liv Area": "Above-grade living area"}.get(name, name)


def shown(name: str, value: object) -> str:
    return "2,400" if name == "Gr Liv Area" else str(value)


def test_the_sentence_names_the_largest_effects_in_percent() -> None:
    text = effects_sentence(explanation([("Gr Liv Area", 0.166), ("Overall Qual", -0.094)]), title=title, shown=shown)
    assert text == "Above-grade living area of 2,400 adds about 18%; Overall Qual of 1 lowers the price by about 9%."
    assert effects_sentence(explanation([]), title=title, shown=shown) == ""


def test_the_chart_walks_from_the_base_to_the_price_with_the_small_effects_in_one_bar() -> None:
    effects = [(f"f{n}", 0.05 * (-1) ** n / (n + 1)) for n in range(14)]
    chart = effects_chart(explanation(effects), title=title, shown=shown, effects=10)
    labels = re.findall(r"<title>([^<:]*):", chart)
    assert labels[0] == "Average house in the training data" and labels[-1] == "This house"
    assert labels[11] == "4 other features" and len(labels) == 13
    price = 150_000 * math.exp(sum(effect for _, effect in effects))
    assert f"${price:,.0f}</text>" in chart and chart.count('fill="#c62828"') == 5  # the odd ones lower it


def test_the_sales_table_shows_money_and_readable_names() -> None:
    sale = {"sale_price": 181500.0, "sold": "2008-05", "distance": 0.0421, "features": {"Gr Liv Area": 2400}}
    table = comparables_table([sale], title=title, shown=shown)
    assert table.iloc[0].tolist() == ["$181,500", "2008-05", "2,400", "0.042"]
    assert list(table.columns) == ["sold for", "sold", "Above-grade living area", "distance"]
