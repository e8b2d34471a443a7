"""`python -m training --dataset-repo`: the training table as a Hub dataset, one commit per distinct content."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from modelrepo import DataFingerprint, Manifest
from tests.hubserver import WRITE_TOKEN, HubServer, client_env
from tests.live import ROOT
from training.data import AMES_FEATURE_DOCS
from training.dataset_repo import DATA_FILE, TableFacts, dataset_card

DATASET = "alice/ames-data"


def train(hub: HubServer, tmp_path: Path, name: str, *extra: str) -> Path:
    """One quick training in a subprocess (the client reads HF_ENDPOINT at import); returns its model folder."""
    env = client_env(hub, tmp_path / "hf", token=WRITE_TOKEN) | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    output = tmp_path / name
    command = [sys.executable, "-m", "training", "--quick", "--folds", "2", "--registry", str(tmp_path / "registry")]
    command += ["--output", str(output), "--dataset-repo", DATASET, *extra]
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return output


def test_the_same_table_is_one_dataset_commit_and_a_changed_one_a_second(
    hub: HubServer, ames: pd.DataFrame, tmp_path: Path
) -> None:
    sample, changed_csv = tmp_path / "sample.csv", tmp_path / "changed.csv"
    table = ames.sample(500, random_state=0).drop(columns=["Order", "PID"])
    table.to_csv(sample, index=False)
    table.iloc[10:].to_csv(changed_csv, index=False)
    docs = ("--feature-docs", str(AMES_FEATURE_DOCS))
    first = train(hub, tmp_path, "first", "--data", str(sample), *docs)
    again = train(hub, tmp_path, "again", "--data", str(sample), *docs)
    changed = train(hub, tmp_path, "changed", "--data", str(changed_csv), *docs)

    commits = [Manifest.read(folder).dataset for folder in (first, again, changed)]
    assert all(ref is not None and ref.repo_id == DATASET for ref in commits)
    assert commits[0] == commits[1] and commits[2] != commits[0]
    history = hub.history(DATASET, repo_type="dataset")
    assert len(history) == 3  # the repo's initial commit, then one per distinct table

    for folder, ref in zip((first, changed), (commits[0], commits[2]), strict=True):
        assert ref is not None
        files = hub.files(DATASET, repo_type="dataset", revision=ref.commit)
        manifest = Manifest.read(folder)
        assert hashlib.sha256(files[DATA_FILE]).hexdigest() == manifest.data.sha256  # the table the model saw
        card = yaml.safe_load((folder / "README.md").read_text().split("---")[1])
        assert card["datasets"] == [DATASET]  # the Hub links the model to its data
    dataset_card = hub.files(DATASET, repo_type="dataset", revision=commits[0].commit)["README.md"].decode()
    assert commits[0].commit and Manifest.read(first).data.sha256 in dataset_card
    assert "`Gr Liv Area` | Above-ground living area" in dataset_card  # each column with its meaning


def test_the_ames_dataset_card_cites_de_cock_and_reads_the_table_as_training_does() -> None:
    fingerprint = DataFingerprint(sha256="ab" * 32, rows=2930, columns=82, source="training/data/ames.csv.gz")
    facts = TableFacts(
        source=fingerprint.source, target="SalePrice", descriptions={"Lot Area": "lot size"}, is_ames=True
    )
    card = dataset_card(fingerprint, facts)
    front = yaml.safe_load(card.split("---")[1])
    assert front["configs"] == [{"config_name": "default", "data_files": DATA_FILE}]
    assert front["size_categories"] == ["1K<n<10K"] and front["license"] == "other"
    assert "De Cock, D. (2011)" in card and "ab" * 32 in card and "| `Lot Area` | lot size |" in card
    assert 'na_values=[""]' in card
