"""The training table as a versioned Hub dataset (the Hub way of DVC): one commit per distinct content.

`python -m training --dataset-repo user/name` commits the table's canonical CSV (`data/train.csv`, whose sha256
is the model's data fingerprint) with a dataset card, and tags that commit `sha256-<first 16 hex digits>`. The
same table again finds its tag and reuses the commit, publishing nothing; a changed table makes a new commit.
The model's manifest records the repo and commit, and its card names the repo under `datasets:`, so the Hub
links the two.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, DatasetCard, DatasetCardData, HfApi

from modelrepo import CARD_FILE, DataFingerprint, DatasetRef, StoreAccessError
from modelrepo.hub import HubStore

from .data import AMES_CITATION, canonical_csv, read_table
from .errors import DataError

DATA_FILE = "data/train.csv"
TAG_PREFIX = "sha256-"
_TAG_DIGITS = 16


@dataclass(frozen=True)
class TableFacts:
    """What the dataset card says about the table."""

    source: str
    target: str
    descriptions: dict[str, str]  # column → meaning (from the feature docs; may be empty)
    is_ames: bool


def publish_table(
    repo_id: str,
    data: Path,
    *,
    fingerprint: DataFingerprint,
    facts: TableFacts,
    token: str | None,
    private: bool = False,
) -> tuple[DatasetRef, bool]:
    """Make sure `repo_id` holds this table; returns its commit and whether this call committed it.

    Raises:
        StoreAccessError, StoreUnavailableError: no token, a refused one, or the Hub cannot be reached.
        DataError: the file no longer has the content that was fingerprinted.
    """
    if not HubStore.token_available(token):
        raise StoreAccessError(
            f"Publishing the training table to the Hub dataset {repo_id} needs a Hugging Face token with write "
            "access: set HF_TOKEN or run `hf auth login` (or drop --dataset-repo)."
        )
    api = HfApi(token=token)
    hub = HubStore(api, repo_id)
    tag = f"{TAG_PREFIX}{fingerprint.sha256[:_TAG_DIGITS]}"
    with hub.errors(f"create the Hub dataset {repo_id}"):
        api.create_repo(repo_id, repo_type="dataset", private=private or None, exist_ok=True)
        tags = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo_id, repo_type="dataset").tags}
    if tag in tags:
        return DatasetRef(repo_id=repo_id, commit=tags[tag]), False
    content = canonical_csv(read_table(data))
    if hashlib.sha256(content).hexdigest() != fingerprint.sha256:
        raise DataError(f"{data} changed while training read it: run the training again.")
    operations = [
        CommitOperationAdd(path_in_repo=DATA_FILE, path_or_fileobj=content),
        CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=dataset_card(fingerprint, facts).encode()),
    ]
    message = f"Training table {fingerprint.sha256[:12]} ({fingerprint.rows:,} rows from {fingerprint.source})"
    with hub.errors(f"publish the training table to {repo_id}"):
        commit = api.create_commit(repo_id, operations, repo_type="dataset", commit_message=message).oid
        api.create_tag(repo_id, tag=tag, revision=commit, repo_type="dataset")
    return DatasetRef(repo_id=repo_id, commit=commit), True


def dataset_card(fingerprint: DataFingerprint, facts: TableFacts) -> str:
    data = DatasetCardData(
        pretty_name="Ames Housing (De Cock 2011)" if facts.is_ames else f"Training table: {facts.source}",
        license="other" if facts.is_ames else "unknown",
        tags=["tabular-regression", "house-prices"] if facts.is_ames else ["tabular-regression"],
        task_categories=["tabular-regression"],
        size_categories=["1K<n<10K"] if 1_000 <= fingerprint.rows < 10_000 else None,
        configs=[{"config_name": "default", "data_files": DATA_FILE}],
    )
    columns = (
        "\n".join(f"| `{name}` | {meaning} |" for name, meaning in facts.descriptions.items())
        or "| (no descriptions were given) | |"
    )
    source = (
        "The Ames Housing data: sales of residential property in Ames, Iowa, 2006–2010, compiled by Dean De Cock "
        "from the Ames City Assessor's Office and published for teaching with the article cited below. Its use "
        "is governed by that publication: cite it."
        if facts.is_ames
        else f"The table `{facts.source}` that the model was trained on; its owner sets its terms of use."
    )
    citation = f"\n## Citation\n\n```\n{AMES_CITATION}\n```\n" if facts.is_ames else ""
    body = f"""
# {data.pretty_name}

{source}

The model predicts `{facts.target}`. Every model version trained on this table records this dataset's commit
in its `manifest.json` (`dataset`), beside the table's fingerprint.

| | |
|---|---|
| file | `{DATA_FILE}` (the canonical CSV: UTF-8, `\\n` line ends, empty cells for missing values) |
| sha256 | `{fingerprint.sha256}` |
| rows × columns | {fingerprint.rows:,} × {fingerprint.columns} |
| source | `{fingerprint.source}` |

Read it with `pandas.read_csv(path, keep_default_na=False, na_values=[""])`: only an empty cell is missing
(in Ames, "None" and "NA" are real categories).

## Columns

| column | meaning |
|---|---|
{columns}
{citation}"""
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}"))
