"""Batch scoring on a real Dask cluster: the same prices and messages as the app, every input kind, clear failures."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from modelrepo import LocalStore, Snapshot
from serving import ServedModel, ServingSettings, load_served_model
from serving.score import main, score
from serving.scoring import OUTPUT_COLUMNS, loaded_pins
from serving.validation import Validator
from tests.live import ROOT, LiveApp

#: Three bad values of the kinds a file holds (the cells as a CSV has them, the values as a JSON body has them).
BAD_CELLS = {"Neighborhood": "Atlantis", "Gr Liv Area": "-100", "Lot Area": "big"}
BAD_VALUES: dict[str, Any] = {"Neighborhood": "Atlantis", "Gr Liv Area": -100, "Lot Area": "big"}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """One local cluster for the module (two processes, one thread each): the tests pass its address."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def served(registry: LocalStore) -> ServedModel:
    return load_served_model(ServingSettings(registry=registry.root))


@pytest.fixture(scope="module")
def sample(ames: pd.DataFrame) -> pd.DataFrame:
    return ames.sample(200, random_state=7).reset_index(drop=True)


def run(registry: LocalStore, scheduler: str, source: Path, output: Path) -> pd.DataFrame:
    report = score(
        ServingSettings(registry=registry.root),
        input_path=str(source),
        output_path=str(output),
        scheduler=scheduler,
        show_progress=False,
    )
    frame = pd.read_parquet(output)
    assert report.rows == len(frame) and report.errors == frame["error"].notna().sum()
    return frame


def in_process_prices(served: ServedModel, csv: Path) -> np.ndarray:
    """The app's way: the uploaded CSV's rows through the validator, then the compiled engine."""
    validator = Validator.for_schema(served.schema, max_rows=10_000)
    rows = validator.rows(validator.csv_rows(csv.read_bytes()))
    assert all(isinstance(row, dict) for row in rows)
    return served.engine.engine.predict(rows)  # type: ignore[arg-type]


def test_prices_are_bit_identical_to_the_in_process_engine(
    registry: LocalStore,
    production: Snapshot,
    served: ServedModel,
    scheduler: str,
    sample: pd.DataFrame,
    tmp_path: Path,
) -> None:
    source = tmp_path / "houses.csv"
    sample.to_csv(source, index=False)
    frame = run(registry, scheduler, source, tmp_path / "scored")
    expected = in_process_prices(served, source)
    assert served.engine.name == "compiled"
    assert frame["price"].to_numpy().tolist() == expected.tolist()  # exact float equality, row for row
    # The ranges by metrics.json's rule, from the engine's spread of the parts: low = price·exp(q_low·(spread + β)).
    validator = Validator.for_schema(served.schema, max_rows=10_000)
    _, spreads = served.engine.engine.predict_with_spread(validator.rows(validator.csv_rows(source.read_bytes())))  # type: ignore[arg-type]
    assert served.metrics.intervals is not None
    calibration = served.metrics.intervals.calibration
    priced = list(zip(expected.tolist(), [spread + calibration.beta for spread in spreads.tolist()], strict=True))
    for low, high, key in (("low", "high", "80"), ("low_95", "high_95", "95")):
        q = calibration.levels[key]
        assert frame[low].tolist() == [price * math.exp(q.q_low * sigma) for price, sigma in priced]
        assert frame[high].tolist() == [price * math.exp(q.q_high * sigma) for price, sigma in priced]
    assert (frame["low_95"] < frame["low"]).all() and (frame["high_95"] > frame["high"]).all()
    assert set(frame["model_version"]) == {production.version.name}
    assert set(frame["model_commit"]) == {production.version.commit}
    assert frame["error"].isna().all()
    assert list(frame.columns) == [*sample.columns, *OUTPUT_COLUMNS]
    assert frame["PID"].tolist() == sample["PID"].astype(str).tolist()  # the input's cells, as text, in order


def test_parquet_input_gives_the_same_prices(
    registry: LocalStore, served: ServedModel, scheduler: str, sample: pd.DataFrame, tmp_path: Path
) -> None:
    sample.to_csv(tmp_path / "houses.csv", index=False)
    sample.to_parquet(tmp_path / "houses.parquet", index=False)
    frame = run(registry, scheduler, tmp_path / "houses.parquet", tmp_path / "scored")
    assert frame["price"].tolist() == in_process_prices(served, tmp_path / "houses.csv").tolist()
    assert frame["PID"].tolist() == sample["PID"].tolist()  # Parquet keeps its types


def rest_messages(validator: Validator, values: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """What the REST batch route answers for each bad value (it validates with this validator), without `row N: `."""
    checked = validator.rows([{**base, name: value} for name, value in values.items()])
    return [str(error).removeprefix(f"row {n}: ") for n, error in enumerate(checked, start=1)]


def bad_rows(sample: pd.DataFrame, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Good rows with one bad cell each in rows 1, 3 and 5 of the file."""
    table = sample.head(6).astype(object).copy()
    for row, (name, cell) in zip((1, 3, 5), BAD_CELLS.items(), strict=True):
        table.loc[row, name] = cell
    source = tmp_path / "bad.csv"
    table.to_csv(source, index=False)
    return source, table.iloc[0].to_dict()


def test_bad_rows_carry_the_rest_messages_and_the_job_goes_on(
    registry: LocalStore, served: ServedModel, scheduler: str, sample: pd.DataFrame, tmp_path: Path
) -> None:
    source, _ = bad_rows(sample, tmp_path)
    frame = run(registry, scheduler, source, tmp_path / "scored")
    validator = Validator.for_schema(served.schema, max_rows=100)
    base = validator.csv_rows(source.read_bytes())[0]
    assert frame["error"].iloc[[1, 3, 5]].tolist() == rest_messages(validator, BAD_VALUES, base)
    assert frame["price"].iloc[[1, 3, 5]].isna().all()
    assert frame["error"].iloc[[0, 2, 4]].isna().all() and (frame["price"].iloc[[0, 2, 4]] > 0).all()
    assert "Atlantis' is not a category seen in training" in frame["error"].iloc[1]
    assert "-100 is outside the accepted range" in frame["error"].iloc[3]


def test_bad_rows_match_the_live_app(
    registry: LocalStore, live_app: LiveApp, scheduler: str, sample: pd.DataFrame, tmp_path: Path
) -> None:
    source, _ = bad_rows(sample, tmp_path)
    frame = run(registry, scheduler, source, tmp_path / "scored")
    rows = [{"Gr Liv Area": 1500, name: value} for name, value in BAD_VALUES.items()]
    answer = httpx.post(f"{live_app.url}/api/v1/predict/batch", json={"rows": rows}, timeout=30).json()
    from_rest = [item["error"].removeprefix(f"row {item['row']}: ") for item in answer["results"]]
    assert frame["error"].iloc[[1, 3, 5]].tolist() == from_rest


def test_a_folder_of_csvs_becomes_one_parquet_dataset(
    registry: LocalStore, scheduler: str, sample: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "houses"
    folder.mkdir()
    for n in range(3):
        sample.iloc[30 * n : 30 * (n + 1)].to_csv(folder / f"houses-{n}.csv", index=False)
    (folder / "notes.txt").write_text("not data")
    frame = run(registry, scheduler, folder, tmp_path / "scored")
    assert len(frame) == 90 and list(frame.columns) == [*sample.columns, *OUTPUT_COLUMNS]
    assert frame["PID"].tolist() == sample["PID"].head(90).astype(str).tolist()
    assert sorted(path.name for path in (tmp_path / "scored").iterdir()) == [f"part-0000{n}.parquet" for n in range(3)]


def test_the_cli_scores_on_an_existing_scheduler_with_the_pinned_commit(
    registry: LocalStore,
    production: Snapshot,
    scheduler: str,
    sample: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sample.head(20).to_csv(tmp_path / "houses.csv", index=False)
    argv = ["--input", str(tmp_path / "houses.csv"), "--output", str(tmp_path / "out"), "--scheduler", scheduler]
    assert main([*argv, "--registry", str(registry.root), "--revision", production.version.name]) == 0
    out = capsys.readouterr().out
    assert "rows      20" in out and "errors    0" in out and f"commit {production.version.commit}" in out
    assert str((tmp_path / "out").resolve()) in out
    with Client(scheduler) as client:
        pins = client.run(loaded_pins)
    assert len(pins) == 2  # both workers, each with the one version it loaded, by its commit
    assert {pin.commit for loaded in pins.values() for pin in loaded} == {production.version.commit}


def one_line_failure(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


def test_an_unreadable_or_missing_input_stops_with_one_line(
    registry: LocalStore, scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"Gr Liv Area,Lot Area\n\xff\xfe\x00\x81,\x9c\n")
    model = ["--registry", str(registry.root), "--scheduler", scheduler, "--output", str(tmp_path / "out")]
    assert one_line_failure([*model, "--input", str(broken)], capsys).startswith(f"error: Cannot read {broken}: ")
    missing = tmp_path / "nowhere.csv"
    assert one_line_failure([*model, "--input", str(missing)], capsys).startswith(f"error: No input at {missing}")
    assert not (tmp_path / "out").exists()


def test_a_missing_model_or_revision_stops_with_one_line(
    registry: LocalStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "houses.csv").write_text("Gr Liv Area\n1500\n")
    files = ["--input", str(tmp_path / "houses.csv"), "--output", str(tmp_path / "out")]
    empty = one_line_failure([*files, "--registry", str(tmp_path / "empty")], capsys)
    assert "Run `python -m training` first" in empty
    unknown = one_line_failure([*files, "--registry", str(registry.root), "--revision", "v99"], capsys)
    assert unknown.startswith("error: No version 'v99' in the local registry")


def test_the_entry_point_exits_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "houses.csv").write_text("Gr Liv Area\n1500\n")
    env = {**os.environ, "MODEL_REGISTRY": str(tmp_path / "empty")}
    argv = ["--input", str(tmp_path / "houses.csv"), "--output", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-m", "serving.score", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: No model in the local registry") and done.stderr.count("\n") == 1


def test_an_unreachable_scheduler_stops_with_one_line(
    registry: LocalStore, sample: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample.head(5).to_csv(tmp_path / "houses.csv", index=False)
    argv = [
        "--input",
        str(tmp_path / "houses.csv"),
        "--output",
        str(tmp_path / "out"),
        "--registry",
        str(registry.root),
    ]
    line = one_line_failure([*argv, "--scheduler", "tcp://127.0.0.1:9", "--timeout", "1"], capsys)
    assert line.startswith("error: Cannot reach the Dask scheduler at tcp://127.0.0.1:9")


def test_an_existing_output_or_one_holding_the_input_is_refused(
    registry: LocalStore, sample: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()
    sample.head(5).to_csv(tmp_path / "data" / "houses.csv", index=False)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "part-00000.parquet").write_bytes(b"earlier output")
    argv = ["--input", str(tmp_path / "data"), "--registry", str(registry.root), "--overwrite"]
    holding = one_line_failure([*argv, "--output", str(tmp_path)], capsys)
    assert holding.startswith(f"error: The output {tmp_path} is, or holds, the input")
    taken = one_line_failure([*argv[:-1], "--output", str(tmp_path / "taken")], capsys)
    assert "already exists; choose another output, or pass --overwrite" in taken
    assert (tmp_path / "data" / "houses.csv").is_file() and (tmp_path / "taken" / "part-00000.parquet").is_file()
