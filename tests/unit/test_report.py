"""The log report: days, counts and dedup, the feedback join on known numbers, degradation, drift, and the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from modelrepo import MODEL_FILE, LocalStore, Schema, load_model, to_frame
from modelrepo.metrics import Metrics
from serving.report import EXIT_DEGRADED, EXIT_NO_LOG, MIN_SALES, DayReport, build_reports, main, render
from training.profile import json_row

QUIET, SHIFTED, SMALL = "2026-11-24", "2026-11-25", "2026-11-26"
CLOSE, FAR = 1.05, math.exp(0.4)  # actual prices are the predictions × or ÷ these factors


def _record(day: str, n: int, request_id: str, row: dict, price: float, surface: str, commit: str, **extra) -> dict:
    return {
        "time": f"{day}T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000+00:00",
        "request_id": request_id,
        "surface": surface,
        "batch": False,
        "model_version": "v1",
        "model_commit": commit,
        "features": row,
        "price": price,
        "low": price * 0.9,
        "high": price * 1.1,
        "level": 0.8,
        "low_95": price * 0.8,
        "high_95": price * 1.25,
        "latency_ms": 80.0,
    } | extra


def _day(day: str, rows: list[dict], prices: list[float], commit: str) -> list[dict]:
    """700 single REST requests, two Gradio batches of 100 rows, then UI requests (as many as rows remain)."""
    records = []
    for n, (row, price) in enumerate(zip(rows, prices, strict=True)):
        if 700 <= n < 900:
            batch = f"{day}-batch{(n - 700) // 100}"
            records.append(
                _record(day, n, f"{batch}-{(n - 700) % 100 + 1}", row, price, "gradio_api", commit, batch=True)
            )
        else:
            records.append(_record(day, n, f"{day}-{n}", row, price, "rest" if n < 700 else "ui", commit))
    return records


def _feedback(records: list[dict], factor: float, day: str) -> list[dict]:
    """Half the sales came in at price × factor, half at price ÷ factor."""
    return [
        {
            "time": f"{day}T12:00:{n:02d}.000000+00:00",
            "request_id": r["request_id"],
            "actual_price": r["price"] * (factor if n % 2 else 1 / factor),
        }
        for n, r in enumerate(records)
    ]


def _write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


@pytest.fixture(scope="module")
def log_folder(model_folder: Path, registry: LocalStore, ames: pd.DataFrame, tmp_path_factory) -> Path:
    """Three days of v1 traffic: a quiet day, a day with living area × 1.5 and bad prices, and a 30-row day."""
    schema = Schema.read(model_folder)
    rows = [json_row(row) for _, row in ames[schema.names].sample(1000, random_state=7).iterrows()]
    prices = load_model(model_folder / MODEL_FILE).predict(to_frame(rows, schema)).tolist()
    commit = registry.resolve("v1").commit
    quiet = _day(QUIET, rows, prices, commit)
    for record in quiet[:10]:  # as a version with one band logs them: no 95% range
        del record["low_95"], record["high_95"]
    shifted = _day(SHIFTED, [{**row, "Gr Liv Area": round(row["Gr Liv Area"] * 1.5)} for row in rows], prices, commit)
    small = _day(SMALL, rows[:30], prices[:30], commit)
    folder = tmp_path_factory.mktemp("report") / "logs"
    _write(folder / f"predictions-{QUIET}-run1.jsonl", quiet)
    _write(folder / f"predictions-{SHIFTED}-run1.jsonl", shifted)
    (folder / f"predictions-{SHIFTED}-run1.jsonl").open("a").write('{"time": "2026-11-25T23:59:59", "requ')  # cut
    _write(
        folder / f"predictions-{SMALL}-run2.jsonl",
        small + [{**small[0], "request_id": "from-v9", "model_version": "v9", "model_commit": "f" * 64}],
    )
    _write(folder / "mirror" / f"predictions-{QUIET}-run1.jsonl", quiet[:50])  # the same records copied again
    wrong_first = [
        {**item, "actual_price": 1.0, "time": f"{QUIET}T11:00:00+00:00"} for item in _feedback(quiet[:40], CLOSE, QUIET)
    ]
    _write(folder / f"feedback-{QUIET}-run1.jsonl", wrong_first + _feedback(quiet[:40], CLOSE, QUIET))
    _write(
        folder / f"feedback-{SMALL}-run2.jsonl",
        _feedback(shifted[100:140], FAR, SMALL) + _feedback(small[:5], CLOSE, SMALL),
    )
    return folder


@pytest.fixture(scope="module")
def reports(log_folder: Path, registry: LocalStore) -> dict[tuple[str, str], DayReport]:
    built, bad = build_reports(log_folder, registry)
    assert bad == 1  # the half-written last line
    return {(item.day, item.model_version): item for item in built}


def test_days_counts_and_surfaces(reports: dict[tuple[str, str], DayReport]) -> None:
    assert list(reports) == [(QUIET, "v1"), (SHIFTED, "v1"), (SMALL, "v1"), (SMALL, "v9")]
    quiet = reports[QUIET, "v1"]
    assert quiet.rows == 1000  # the 50 copied records are counted once
    assert quiet.requests == 700 + 2 + 100  # a batch is one request
    assert quiet.surfaces == {
        "rest": {"requests": 700, "rows": 700},
        "gradio_api": {"requests": 2, "rows": 200},
        "ui": {"requests": 100, "rows": 100},
    }
    assert (
        quiet.prices["min"]
        <= quiet.prices["p10"]
        <= quiet.prices["median"]
        <= quiet.prices["p90"]
        <= quiet.prices["max"]
    )
    assert reports[SMALL, "v1"].surfaces == {"rest": {"requests": 30, "rows": 30}}


def test_feedback_join_on_known_numbers(reports: dict[tuple[str, str], DayReport], model_folder: Path) -> None:
    quiet = reports[QUIET, "v1"]
    assert quiet.sales == 40  # the later reports replaced the wrong $1 ones
    figures = {figure.name: figure for figure in quiet.figures}
    assert figures["rmse_log"].live == pytest.approx(math.log(CLOSE))
    assert figures["mape"].live == pytest.approx((0.05 / 1.05 + 0.05) / 2)
    cv = Metrics.read(model_folder).cross_validation
    assert figures["rmse_log"].cv_mean == cv.without_outliers["rmse_log"].mean
    widen = math.sqrt(Metrics.read(model_folder).training_rows / cv.folds / 40)
    expected = cv.without_outliers["mape"].mean + 2 * cv.without_outliers["mape"].std * widen
    assert figures["mape"].limit == pytest.approx(expected)


def test_the_served_ranges_are_counted_against_the_prices_that_came_back(
    reports: dict[tuple[str, str], DayReport], model_folder: Path
) -> None:
    intervals = Metrics.read(model_folder).intervals
    assert intervals is not None
    holdout = [intervals.holdout.levels[key].overall.coverage for key in ("80", "95")]
    quiet = reports[QUIET, "v1"]  # every price within 5%: inside both ranges; 10 of its sales logged no 95% range
    assert [(held.level, held.sales, held.held, held.holdout) for held in quiet.ranges] == [
        (0.8, 40, 40, holdout[0]),
        (0.95, 30, 30, holdout[1]),
    ]
    shifted = reports[SHIFTED, "v1"]  # every price 49% above or 33% below: outside both
    assert [(held.level, held.sales, held.held) for held in shifted.ranges] == [(0.8, 40, 0), (0.95, 40, 0)]
    assert reports[SMALL, "v1"].ranges == []  # 5 sales: not enough to say anything


def test_degradation_is_flagged_on_the_bad_day_only(reports: dict[tuple[str, str], DayReport]) -> None:
    shifted = reports[SHIFTED, "v1"]
    assert shifted.sales == 40  # feedback joins on the prediction's day, whenever it arrived
    assert {f.name: f.live for f in shifted.figures}["rmse_log"] == pytest.approx(0.4)
    assert shifted.degraded and all(f.degraded for f in shifted.figures)
    assert not reports[QUIET, "v1"].degraded
    small = reports[SMALL, "v1"]
    assert small.sales == 5 < MIN_SALES and small.figures == [] and not small.degraded


def test_drift_flags_the_shifted_feature_only(reports: dict[tuple[str, str], DayReport]) -> None:
    quiet, shifted = reports[QUIET, "v1"], reports[SHIFTED, "v1"]
    assert len(quiet.drift) == 5 and {item.level for item in quiet.drift} == {"stable"}
    assert shifted.drift[0].feature == "Gr Liv Area" and shifted.drift[0].level == "drift"
    assert {item.level for item in shifted.drift[1:]} == {"stable"}
    assert shifted.prediction_psi is not None and shifted.prediction_psi < 0.1  # same prices as the quiet day
    assert reports[SMALL, "v1"].drift_rows == 30 and "too few rows (30 < 100)" in "\n".join(
        render([reports[SMALL, "v1"]], source="x").splitlines()
    )


def test_an_unknown_version_is_reported_not_fatal(reports: dict[tuple[str, str], DayReport]) -> None:
    unknown = reports[SMALL, "v9"]
    assert unknown.rows == 1 and unknown.drift == [] and unknown.note and "v9" in unknown.note


def test_cli_prints_tables_and_exit_codes(log_folder: Path, registry: LocalStore, capsys) -> None:
    arguments = ["--logs", str(log_folder), "--registry", str(registry.root)]
    assert main(arguments) == 0
    out, err = capsys.readouterr()
    assert "skipped 1 unreadable" in err
    assert f"{QUIET} · v1" in out and "rest 700, gradio_api 2 (200 rows), ui 100" in out
    shifted_block = out.split(f"{SHIFTED} · v1")[1].split(f"{SMALL} · v1")[0]
    assert "Gr Liv Area" in shifted_block and "DRIFT" in shifted_block and "DEGRADED" in shifted_block
    assert f"DEGRADED: {SHIFTED} v1" in out
    quiet_block = out.split(f"{QUIET} · v1")[1].split(f"{SHIFTED} · v1")[0]
    assert "  ranges     80% held 40 of 40 sales (100.0%)   holdout " in quiet_block
    assert "             95% held 30 of 30 sales (100.0%)   holdout " in quiet_block
    assert main([*arguments, "--fail-on-degradation"]) == EXIT_DEGRADED
    assert main([*arguments, "--fail-on-degradation", "--since", SMALL]) == 0
    capsys.readouterr()
    assert main([*arguments, "--json"]) == 0
    days = json.loads(capsys.readouterr().out)["days"]
    assert [day["day"] for day in days] == [QUIET, SHIFTED, SMALL, SMALL]
    assert days[1]["degraded"] and days[1]["drift"][0]["feature"] == "Gr Liv Area"
    assert [(held["level"], held["share"]) for held in days[1]["ranges"]] == [(0.8, 0.0), (0.95, 0.0)]


def test_cli_defaults_come_from_the_environment(log_folder: Path, registry: LocalStore, capsys) -> None:
    environ = {"PREDICTION_LOG_DIR": str(log_folder), "MODEL_REGISTRY": str(registry.root)}
    assert main(["--since", SMALL], environ=environ) == 0
    assert f"{SMALL} · v1" in capsys.readouterr().out


def test_no_log_says_where_it_looked(tmp_path: Path, registry: LocalStore, capsys) -> None:
    assert main(["--logs", str(tmp_path / "nothing"), "--registry", str(registry.root)]) == EXIT_NO_LOG
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(tmp_path / "nothing") in err and "--logs" in err


def test_a_hub_dataset_is_downloaded_and_read_recursively(
    log_folder: Path, registry: LocalStore, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def download(repo_id: str, folder: Path, *, token: str | None = None) -> Path:
        assert repo_id == "alice/ames-log"
        shutil.copytree(log_folder, folder / "data" / "2026")
        return folder

    monkeypatch.setattr("modelrepo.dataset.download_dataset", download)
    assert main(["--log-repo", "alice/ames-log", "--registry", str(registry.root), "--since", SMALL]) == 0
    assert "Hub dataset alice/ames-log" in capsys.readouterr().out

    def unreachable(repo_id: str, folder: Path, *, token: str | None = None) -> Path:
        raise ConnectionError("cannot reach the Hub\nmore detail")

    monkeypatch.setattr("modelrepo.dataset.download_dataset", unreachable)
    assert main(["--log-repo", "alice/ames-log", "--registry", str(registry.root)]) == EXIT_NO_LOG
    err = capsys.readouterr().err
    assert "cannot reach the Hub" in err and "more detail" not in err


def test_revision_compares_all_traffic_with_one_version(log_folder: Path, registry: LocalStore) -> None:
    built, _ = build_reports(log_folder, registry, revision="v1", since=SMALL)
    by_version = {item.model_version: item for item in built}
    assert by_version["v1"].compared_with is None  # v1 served it: nothing to say
    unknown = by_version["v9"]
    assert unknown.note is None and unknown.compared_with and unknown.compared_with.startswith("v1 (")
    assert unknown.drift_rows == 1 and "compared with v1" in render([unknown], source="x")


def test_a_bad_day_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--since", "2026-13-01"])
    assert stopped.value.code == 2 and "expected a day as YYYY-MM-DD" in capsys.readouterr().err
