"""`python -m training` end to end in a subprocess, as a user runs it: on a small sample, then its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from huggingface_hub import ModelCard

from modelrepo import COMPARABLES_FILE, PRODUCTION_ALIAS, REQUIRED_FILES, LocalStore, Manifest, verify_folder
from modelrepo.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]


def run_training(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "training", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def sample_csv(ames: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sample.csv"
    ames.sample(500, random_state=0).drop(columns=["Order", "PID"]).to_csv(path, index=False)
    return path


def test_cli_trains_writes_publishes_and_gates(sample_csv: Path, tmp_path: Path) -> None:
    common = ("--data", str(sample_csv), "--quick", "--folds", "2", "--registry", str(tmp_path / "registry"))
    first = run_training(*common, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "[6/6] publishing to the local registry" in first.stdout
    assert "promoted to production (no production version yet)" in first.stdout

    folder = tmp_path / "registry" / "v1"
    assert set(REQUIRED_FILES) <= {p.name for p in folder.iterdir()}
    verify_folder(folder)
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "sklearn" and card.data.eval_results
    fitted = Metrics.read(folder).training_rows
    assert len(pd.read_csv(folder / COMPARABLES_FILE)) == fitted and COMPARABLES_FILE in Manifest.read(folder).files
    assert f"wrote {COMPARABLES_FILE}: {fitted:,} training sales" in first.stdout

    # A model that cannot beat production is published but not promoted, unless forced.
    worse = ("--holdout", "0.5", "--tolerance", "-1")
    second = run_training(*common, *worse, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "NOT promoted; production unchanged" in second.stdout and "v1 (production before)" in second.stdout
    store = LocalStore(tmp_path / "registry")
    assert [v.name for v in store.versions()] == ["v1", "v2"]
    assert store.resolve(PRODUCTION_ALIAS).name == "v1"

    forced = run_training(*common, *worse, "--force", "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert "promoted to production (forced" in forced.stdout
    assert store.resolve(PRODUCTION_ALIAS).name == "v3"

    kept = run_training(*common, "--no-promote", "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert "--no-promote" in kept.stdout and store.resolve(PRODUCTION_ALIAS).name == "v3"
    assert json.loads((tmp_path / "registry" / "aliases.json").read_text()) == {PRODUCTION_ALIAS: "v3"}


def test_no_comparables_leaves_the_file_out_and_the_card_says_so(sample_csv: Path, tmp_path: Path) -> None:
    args = ("--data", str(sample_csv), "--quick", "--folds", "2", "--no-publish", "--no-comparables")
    result = run_training(*args, "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "left comparables.csv out (--no-comparables)" in result.stdout
    folder = tmp_path / "out"
    assert not (folder / COMPARABLES_FILE).exists() and COMPARABLES_FILE not in Manifest.read(folder).files
    verify_folder(folder)
    assert "trained with `--no-comparables`" in (folder / "README.md").read_text()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, (), "Data file not found"),
        ("a,b\n", ("--target", "b"), "has no data rows"),
        ("a,b\n1,2\n", ("--target", "price"), "Target column 'price' is not in the data"),
        ("a,price\n1,cheap\n", ("--target", "price"), "must be numeric"),
    ],
)
def test_cli_errors_are_one_line_with_what_to_fix(
    tmp_path: Path, content: str | None, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    result = run_training("--data", str(path), *args, "--registry", str(tmp_path / "registry"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "registry").exists()


def test_cli_help_lists_the_options() -> None:
    result = run_training("--help", cwd=ROOT)
    assert result.returncode == 0
    options = ("--data", "--target", "--keep-outliers", "--force", "--no-promote", "--repo", "--registry")
    for option in (*options, "--no-comparables"):
        assert option in result.stdout
