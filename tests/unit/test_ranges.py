"""Serving's price ranges from a version's metrics.json: the conformal ranges, or an old version's one band."""

from __future__ import annotations

import json
import math
from pathlib import Path

from modelrepo import METRICS_FILE
from modelrepo.metrics import Metrics
from serving.ranges import NO_WIDE_RANGE, Ranges
from serving.ranges_view import coverage_markdown, range_meaning, wide_meaning


def old_metrics(folder: Path) -> Metrics:
    """metrics.json as versions wrote it before conformal ranges: no `intervals`."""
    document = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
    del document["intervals"]
    return Metrics.model_validate(document)


def test_a_conformal_version_gives_an_80_and_a_95_range_sized_by_the_spread(model_folder: Path) -> None:
    metrics = Metrics.read(model_folder)
    assert metrics.intervals is not None
    ranges = Ranges.of(metrics)
    assert ranges.levels == [0.8, 0.95] and ranges.needs_spread
    calibration = metrics.intervals.calibration
    narrow, wide = ranges.bands(200_000.0, 0.03)
    q80, q95 = calibration.levels["80"], calibration.levels["95"]
    sigma = 0.03 + calibration.beta
    assert (narrow.level, narrow.low, narrow.high) == (
        0.8,
        200_000.0 * math.exp(q80.q_low * sigma),
        200_000.0 * math.exp(q80.q_high * sigma),
    )
    assert (wide.low, wide.high) == (200_000.0 * math.exp(q95.q_low * sigma), 200_000.0 * math.exp(q95.q_high * sigma))
    wider, _ = ranges.bands(200_000.0, 0.3)
    assert wider.low < narrow.low and wider.high > narrow.high
    info = ranges.info()
    assert info["conformal"] and info["note"] is None and info["levels"] == [0.8, 0.95]
    measured = metrics.intervals.holdout.levels["95"].overall.coverage
    assert info["holdout"]["levels"]["95"]["overall"]["coverage"] == measured


def test_an_old_version_serves_its_fixed_band_as_before_and_says_it_has_no_95_range(model_folder: Path) -> None:
    metrics = old_metrics(model_folder)
    ranges = Ranges.of(metrics)
    assert ranges.levels == [0.8] and not ranges.needs_spread
    (band,) = ranges.bands(200_000.0, 0.5)  # the spread is ignored
    interval = metrics.interval
    assert (band.level, band.low, band.high) == (
        interval.level,
        200_000.0 * math.exp(interval.log_low),
        200_000.0 * math.exp(interval.log_high),
    )
    assert ranges.info() == {"levels": [0.8], "conformal": False, "note": NO_WIDE_RANGE}
    assert "no 95% range" in NO_WIDE_RANGE
    assert range_meaning(ranges) == "In cross-validation, 80 in 100 prices fell inside a range this wide."
    assert wide_meaning(ranges) == ""
    assert "no 95% range" in coverage_markdown(ranges)


def test_the_words_and_tables_use_the_measured_holdout_coverage(model_folder: Path) -> None:
    metrics = Metrics.read(model_folder)
    assert metrics.intervals is not None
    holdout = metrics.intervals.holdout
    ranges = Ranges.of(metrics)
    measured = round(holdout.levels["80"].overall.coverage * 100)
    assert range_meaning(ranges) == (
        f"In a test on {holdout.rows:,} sales the model never saw, {measured} in 100 prices fell inside a range "
        "like this."
    )
    assert wide_meaning(ranges) == f"{round(holdout.levels['95'].overall.coverage * 100)} in 100 in the same test"
    tables = coverage_markdown(ranges, group_label=lambda code: f"<{code}>")
    assert "| 80% coverage | 80% width | 95% coverage | 95% width |" in tables
    overall = holdout.levels["80"].overall
    row = f"| holdout sales, outliers left out | {overall.rows:,} | {overall.coverage:.1%} | {overall.mean_width:.1%} |"
    assert row in tables
    fifth = holdout.levels["95"].by_price_quintile["5"]
    assert f"| 5: ${fifth.price_from:,.0f} – ${fifth.price_to:,.0f} |" in tables
    largest = next(iter(holdout.levels["80"].by_group))
    assert f"| <{largest}> |" in tables and "neighborhood (the 10 largest in the holdout)" in tables
