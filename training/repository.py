"""Write one model repository folder: every file of the DESIGN contract, verified before it may be published."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import skops
from sklearn.base import RegressorMixin

from modelrepo import (
    IMAGES_DIR,
    MANIFEST_FILE,
    MODEL_FILE,
    DataFingerprint,
    DatasetRef,
    Manifest,
    Schema,
    hash_folder,
    load_model,
    save_model,
    untrusted_types,
)
from modelrepo.metrics import Metrics
from modelrepo.reference import Reference

from .errors import TrainingError, VerificationError


@dataclass(frozen=True)
class RepositoryContent:
    model: RegressorMixin
    schema: Schema
    metrics: Metrics
    reference: Reference
    fingerprint: DataFingerprint


def prepare_folder(folder: Path) -> Path:
    """Empty the output folder, refusing to delete anything that is not a previous model repository."""
    if folder.exists():
        if any(folder.iterdir()) and not (folder / MANIFEST_FILE).is_file() and not (folder / MODEL_FILE).is_file():
            raise TrainingError(
                f"Output folder {folder} is not empty and is not a model repository; choose another --output."
            )
        shutil.rmtree(folder)
    (folder / IMAGES_DIR).mkdir(parents=True)
    return folder


def write_contract_files(folder: Path, content: RepositoryContent) -> list[str]:
    """Serialize the model with skops and write schema, metrics and reference; returns the untrusted types."""
    save_model(content.model, folder / MODEL_FILE)
    content.schema.write(folder)
    content.metrics.write(folder)
    content.reference.write(folder)
    return untrusted_types(folder / MODEL_FILE)


def verify_reload(folder: Path, model: RegressorMixin, examples: pd.DataFrame) -> np.ndarray:
    """Reload `model.skops` with the allowlist and demand bit-identical predictions on the examples.

    Raises:
        VerificationError: the reloaded model predicts anything else (the file would serve a different model).
    """
    expected = model.predict(examples)
    reloaded = load_model(folder / MODEL_FILE).predict(examples)
    if not np.array_equal(expected, reloaded):
        worst = float(np.max(np.abs(expected - reloaded)))
        raise VerificationError(
            f"The reloaded model.skops differs from the trained model by up to ${worst:,.2f}; not publishing."
        )
    return np.asarray(expected)


def write_manifest(
    folder: Path,
    *,
    fingerprint: DataFingerprint,
    untrusted: list[str],
    dataset: DatasetRef | None = None,
    mlflow_run_id: str | None = None,
) -> Manifest:
    manifest = Manifest(
        created_at=datetime.now(UTC),
        code_commit=_code_commit(),
        library_versions=library_versions(),
        untrusted_types=untrusted,
        data=fingerprint,
        files=hash_folder(folder),
        dataset=dataset,
        mlflow_run_id=mlflow_run_id,
    )
    manifest.write(folder)
    return manifest


def library_versions() -> dict[str, str]:
    """What this process trains and checks the model with: the manifest records it, the card pins it."""
    return {
        "python": _python_version(),
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def _python_version() -> str:
    import platform

    return platform.python_version()


def _code_commit() -> str | None:
    """The project's git commit, so a version can be traced to the code that trained it (None outside git)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
