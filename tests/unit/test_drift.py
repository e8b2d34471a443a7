"""Drift: replaying training rows is stable; shifting one feature flags that feature and no other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelrepo import MODEL_FILE, Schema, load_model, to_frame
from modelrepo.reference import Reference
from serving.drift import COLLECTING, PREDICTION, DriftMonitor, level
from training.profile import json_row


@pytest.fixture(scope="module")
def replay(model_folder: Path, ames: pd.DataFrame) -> tuple[Schema, Reference, list[dict], object]:
    schema = Schema.read(model_folder)
    rows = [json_row(row) for _, row in ames[schema.names].sample(1000, random_state=7).iterrows()]
    return schema, Reference.read(model_folder), rows, load_model(model_folder / MODEL_FILE)


def _monitor(replay: tuple, rows: list[dict]) -> DriftMonitor:
    schema, reference, _, model = replay
    monitor = DriftMonitor(reference, schema, window=1000)
    monitor.observe(rows, model.predict(to_frame(rows, schema)).tolist())
    return monitor


def test_levels_follow_the_thresholds() -> None:
    assert [level(x) for x in (0.0, 0.099, 0.1, 0.25, 0.2501)] == ["stable", "stable", "watch", "watch", "drift"]


def test_replaying_training_rows_reports_no_drift(replay: tuple) -> None:
    report = _monitor(replay, replay[2]).report()
    assert report.enough and report.window_rows == 1000
    assert len(report.features) == len(replay[0].features) + 1
    worst = report.features[0]
    assert worst.psi < 0.1, f"training rows drift on {worst}"
    assert {item.level for item in report.features} == {"stable"}


def test_a_shifted_feature_is_flagged_and_only_that_one(replay: tuple) -> None:
    shifted = [{**row, "Gr Liv Area": round(row["Gr Liv Area"] * 1.5)} for row in replay[2]]
    report = _monitor(replay, shifted).report()
    by_name = {item.feature: item for item in report.features}
    assert by_name["Gr Liv Area"].level == "drift" and by_name["Gr Liv Area"].psi > 0.25
    untouched = [item for item in report.features if item.feature not in ("Gr Liv Area", PREDICTION)]
    assert max(item.psi for item in untouched) < 0.1
    assert report.features[0].feature in ("Gr Liv Area", PREDICTION)


def test_too_few_rows_are_collecting_not_drift(replay: tuple) -> None:
    report = _monitor(replay, replay[2][:20]).report()
    assert not report.enough and {item.level for item in report.features} == {COLLECTING}


def test_the_window_slides_and_the_plot_compares_shares(replay: tuple) -> None:
    schema, reference, rows, model = replay
    monitor = DriftMonitor(reference, schema, window=100)
    monitor.observe(rows[:300], [200_000.0] * 300)
    assert monitor.report().window_rows == 100
    bins = monitor.distribution("Gr Liv Area")
    assert bins[-1].label == "missing" and len(bins) == len(reference.numeric["Gr Liv Area"].edges) + 2
    assert np.isclose(sum(b.live for b in bins), 1.0) and np.isclose(sum(b.training for b in bins), 1.0)
    categories = monitor.distribution("Neighborhood")
    assert np.isclose(sum(b.live for b in categories), 1.0)


def test_a_fleets_psi_is_the_psi_of_its_replicas_summed_bin_counts(replay: tuple) -> None:
    from modelrepo.reference import population_stability_index

    rows = replay[2]
    shifted = [{**row, "Gr Liv Area": round(row["Gr Liv Area"] * 1.5)} for row in rows[:300]]
    first, second = _monitor(replay, rows[300:700]), _monitor(replay, shifted)  # one replica sees the shift
    together = _monitor(replay, rows[300:700] + shifted)
    expected = {item.feature: item.psi for item in together.report().features}
    counts = [first.bin_counts(), second.bin_counts()]
    assert set(counts[0]) == set(expected)
    for feature, bins in counts[0].items():
        summed = np.add([b.rows for b in bins], [b.rows for b in counts[1][feature]])
        assert sum(summed) == 700
        fleet = population_stability_index([b.training for b in bins], summed / summed.sum())
        assert fleet == pytest.approx(expected[feature], abs=1e-12), feature
    averaged = np.mean([{i.feature: i.psi for i in m.report().features}["Gr Liv Area"] for m in (first, second)])
    assert abs(averaged - expected["Gr Liv Area"]) > 0.05  # why replicas export counts, not their PSI
