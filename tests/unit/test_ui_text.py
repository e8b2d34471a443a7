"""What the page says, from the UI's pure helpers: plain names, an error in place of a price, the batch table."""

from __future__ import annotations

from typing import Any

from modelrepo import Feature, FeatureKind
from serving.batch_tab import _batch_view
from serving.errors import InputError
from serving.estimate_tab import Meaning, _choices, _estimate_result, _label
from serving.results import Band, Estimate

AREA = Feature(
    name="Gr Liv Area", kind=FeatureKind.INTEGER, nullable=False, default=1442, minimum=334, maximum=5642,
    description="Above-ground living area", importance_rank=1, group="Living space",
    title="Above-grade living area (sq ft)",
)  # fmt: skip
QUALITY = Feature(
    name="Overall Qual", kind=FeatureKind.INTEGER, nullable=False, default=6, minimum=1, maximum=10,
    description="Overall quality", importance_rank=2, group="Quality", labels={"6": "Above average", "7": "Good"},
)  # fmt: skip
ESTIMATE = Estimate(price=181_234.4, low=160_000, high=205_000, level=0.8, model_version="v1", model_commit="c" * 40,
                    request_id="a" * 32,
                    intervals=(Band(0.8, 160_000, 205_000), Band(0.95, 140_000, 231_500)))  # fmt: skip
MEANING = Meaning("In a test on 584 sales the model never saw, 82 in 100 prices fell inside a range like this.",
                  "95 in 100 in the same test")  # fmt: skip


class Predictor:
    def __init__(self, outcome: Estimate | Exception) -> None:
        self.outcome = outcome

    def predict(self, row: dict[str, Any], *, surface: str) -> Estimate:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def text(
    outcome: Estimate | Exception,
    values: tuple[Any, ...],
    sales: list[tuple[dict[str, Any], float]],
    meaning: Meaning = MEANING,
) -> str:
    predictor = Predictor(outcome)
    result, explained = _estimate_result(predictor, [AREA, QUALITY], values, sales=sales, explain=False,  # type: ignore[arg-type]
                                         meaning=meaning)  # fmt: skip
    assert explained is None
    return result


def test_labels_and_choices_read_in_plain_language_and_keep_the_codes() -> None:
    assert _label(AREA) == "Above-grade living area (sq ft) · Gr Liv Area"
    assert _label(QUALITY) == "Overall Qual"  # no title: the name alone
    assert _choices(QUALITY, [6, 7, 8]) == [("Above average (6)", 6), ("Good (7)", 7), ("8", 8)]


def test_every_failure_replaces_the_price_with_a_message() -> None:
    empty = text(ESTIMATE, (None, 7), [])
    assert (
        empty.startswith("**No estimate.**") and "Above-grade living area (sq ft) · Gr Liv Area: enter a value" in empty
    )
    assert "$" not in empty
    refused = text(InputError(["Gr Liv Area: 1e12 is outside the accepted range"]), (1500, 7), [])
    assert refused.startswith("**No estimate.**") and "outside the accepted range" in refused
    broken = text(RuntimeError("disk on fire"), (1500, 7), [])
    assert broken.startswith("**No estimate.**") and "could not price" in broken and "disk" not in broken


def test_a_sale_price_only_for_the_example_row_itself() -> None:
    sales = [({"Gr Liv Area": 1500, "Overall Qual": 7}, 190_000.0)]
    assert "Sold for **$190,000**" in text(ESTIMATE, (1500, 7), sales)
    assert "Sold for" not in text(ESTIMATE, (1501, 7), sales)
    assert "$181,234" in text(ESTIMATE, (1501, 7), sales)


def test_the_price_shows_both_ranges_and_what_they_mean() -> None:
    shown = text(ESTIMATE, (1500, 7), [])
    assert "80% range: **$160,000 – $205,000**  \nIn a test on 584 sales the model never saw, 82 in 100" in shown
    assert "95% range: $140,000 – $231,500 (95 in 100 in the same test)" in shown
    old = Estimate(price=181_234.4, low=160_000, high=205_000, level=0.8, model_version="v1", model_commit="c" * 40,
                   request_id="a" * 32)  # fmt: skip
    legacy = text(old, (1500, 7), [], Meaning("In cross-validation, 80 in 100 prices fell inside a range this wide."))
    assert "80% range: **$160,000 – $205,000**  \nIn cross-validation, 80 in 100" in legacy and "95%" not in legacy


def test_the_batch_table_shows_dollars_the_ranges_and_only_the_columns_with_something_to_say() -> None:
    rows = [
        {"row": 1, "price": 123572, "low": 110000, "high": 140000, "low_95": 98000, "high_95": 156000,
         "request_id": "r-1", "error": ""},
        {"row": 2, "price": None, "low": None, "high": None, "low_95": None, "high_95": None, "request_id": "",
         "error": "Neighborhood: 'Atlantis'"},
    ]  # fmt: skip
    view = _batch_view(rows, levels=[0.8, 0.95], ids=False)
    assert list(view.columns) == ["row", "price", "80% range", "95% range", "error"]
    assert view.iloc[0].tolist() == [1, "$123,572", "$110,000 – $140,000", "$98,000 – $156,000", ""]
    assert view.iloc[1].tolist() == [2, "", "", "", "Neighborhood: 'Atlantis'"]
    # A version trained before the 95% range: its one band, named by its level.
    assert list(_batch_view(rows[:1], levels=[0.9], ids=True).columns) == ["row", "price", "90% range", "request id"]
    assert list(_batch_view([], levels=[0.8, 0.95], ids=False).columns) == ["row", "price", "80% range", "95% range"]
