"""The promotion gate compares on the same rows and never promotes blind.

Regression: `production_metrics` caught OSError, which the stores' "unavailable" and "access" errors inherit
from, so a Hub outage, a refused token or an unreadable metrics.json read as "no production version yet" and
the candidate was promoted.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from modelrepo import METRICS_FILE, PRODUCTION_ALIAS, LocalStore
from tests.hubserver import WRITE_TOKEN, HubServer, client_env
from training import QUICK_CONFIG, TrainOptions, TrainReport, train
from training.errors import GateError

ROOT = Path(__file__).resolve().parents[2]
REPO = "alice/ames"


@pytest.fixture
def registry_copy(quick_report: TrainReport, tmp_path: Path) -> LocalStore:
    """The session's registry (production v1: the quick model on all of Ames, 3 folds), copied to change."""
    root = tmp_path / "registry"
    assert isinstance(quick_report.store, LocalStore)
    shutil.copytree(quick_report.store.root, root)
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return LocalStore(root)


def same_recipe(store: LocalStore, tmp_path: Path, **model: object) -> TrainOptions:
    """The session model's recipe (3 folds, quick), optionally with other hyperparameters."""
    return replace(
        TrainOptions(),
        model=replace(QUICK_CONFIG, **model) if model else QUICK_CONFIG,  # type: ignore[arg-type]
        quick=True,
        folds=3,
        importance_repeats=1,
        output=tmp_path / "model",
        registry=store.root,
    )


@pytest.mark.slow
def test_an_equal_candidate_passes_and_a_genuinely_worse_one_is_refused(
    registry_copy: LocalStore, tmp_path: Path
) -> None:
    lines: list[str] = []
    equal = train(same_recipe(registry_copy, tmp_path), progress=lines.append, store=registry_copy)
    assert equal.published is not None and equal.published.promoted
    assert "on the same folds of the same table: this model" in equal.published.comparison
    assert "rmse_log" in equal.published.decision.reason and "≤" in equal.published.decision.reason
    assert registry_copy.resolve(PRODUCTION_ALIAS).name == "v2"

    crippled = {"hgb_max_iter": 5, "hgb_learning_rate": 0.05, "ridge_alpha": 5000.0}
    worse = train(same_recipe(registry_copy, tmp_path, **crippled), progress=lines.append, store=registry_copy)
    assert worse.published is not None and not worse.published.promoted
    assert worse.metrics.primary > equal.metrics.primary + 0.002  # genuinely worse, beyond the tolerance
    assert f"{worse.metrics.primary:.4f} > {equal.metrics.primary:.4f} + 0.002" in worse.published.decision.reason
    assert registry_copy.resolve(PRODUCTION_ALIAS).name == "v2"  # published as v3, production unchanged
    assert [v.name for v in registry_copy.versions()] == ["v1", "v2", "v3"]


@pytest.mark.slow
def test_on_another_table_production_is_scored_on_the_candidates_rows(
    registry_copy: LocalStore, tmp_path: Path, ames: pd.DataFrame
) -> None:
    table = tmp_path / "half.csv"
    ames.sample(frac=0.5, random_state=1).to_csv(table, index=False)
    options = replace(same_recipe(registry_copy, tmp_path), data=table, folds=2)
    report = train(options, progress=lambda _: None, store=registry_copy)
    assert report.published is not None
    comparison = report.published.comparison
    assert "rows (another table than production's): this model" in comparison and "production v1" in comparison
    mine, theirs = (float(part.split()[0]) for part in comparison.split("this model ")[1].split("production v1 "))
    assert report.published.promoted is (mine <= theirs + 0.002)


def corrupt_metrics(store: LocalStore) -> None:
    path = store.root / store.resolve(PRODUCTION_ALIAS).name / METRICS_FILE
    path.chmod(0o644)
    path.write_text("{not json")


def test_unreadable_production_metrics_stop_the_run_before_anything_is_published(
    registry_copy: LocalStore, tmp_path: Path
) -> None:
    corrupt_metrics(registry_copy)
    lines: list[str] = []
    with pytest.raises(GateError, match=r"Cannot read the production version from the local registry at .*--force"):
        train(same_recipe(registry_copy, tmp_path), progress=lines.append, store=registry_copy)
    assert lines == []  # stopped before loading the data, let alone training
    assert [v.name for v in registry_copy.versions()] == ["v1"]


# --- the loopback Hub, through the CLI as a user runs it ---------------------------------------------------------


@pytest.fixture(scope="module")
def sample_csv(ames: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gate-data") / "sample.csv"
    ames.sample(400, random_state=0).to_csv(path, index=False)
    return path


def run_training(hub: HubServer, workdir: Path, csv: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--data", str(csv), "--quick", "--folds", "2", "--repo", REPO, "--output", "out", *extra]
    env = client_env(hub, workdir / "hf", token=WRITE_TOKEN) | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "training", *args], cwd=workdir, env={**os.environ, **env}, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_each_failure_to_read_production_on_the_hub_stops_the_run_with_one_line(
    hub: HubServer, sample_csv: Path, tmp_path: Path
) -> None:
    first = run_training(hub, tmp_path, sample_csv)
    assert first.returncode == 0, first.stderr
    assert hub.files(REPO) == hub.files(REPO, revision="v1")  # the model page shows what production serves

    def refused(expected: str) -> None:
        result = run_training(hub, tmp_path, sample_csv)
        assert result.returncode == 2, result.stdout
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: Cannot read the production version from the Hugging Face Hub repo alice/ames")
        assert expected in line and "Nothing was published" in line and "--force" in line
        assert "[1/6]" not in result.stdout

    hub.refuse_repo_requests(401)
    refused("(401)")
    hub.refuse_repo_requests(403)
    refused("(403")
    hub.refuse_repo_requests(None)
    hub.replace_file(REPO, METRICS_FILE, b"{not json", branch="production")
    refused("metrics.json of ")
    with_force = run_training(hub, tmp_path, sample_csv, "--force")
    assert with_force.returncode == 0, with_force.stderr
    assert "promoted to production (forced; production could not be read" in with_force.stdout
    assert hub.files(REPO, revision="production") == hub.files(REPO, revision="v2") == hub.files(REPO)
    unpromoted = run_training(hub, tmp_path, sample_csv, "--no-promote")  # a candidate production does not take
    assert unpromoted.returncode == 0, unpromoted.stderr
    assert hub.files(REPO) == hub.files(REPO, revision="v2") != hub.files(REPO, revision="v3")
