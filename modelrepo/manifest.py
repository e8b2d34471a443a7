"""`manifest.json`: what a version holds, how it was made, and the hashes that prove it is intact."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from .document import ContractFile, ContractModel
from .errors import IntegrityError
from .files import FORMAT_VERSION, MANIFEST_FILE

_CHUNK = 1 << 20


class FileEntry(ContractModel):
    sha256: str
    size: int


class DataFingerprint(ContractModel):
    """Identifies the training table: the sha256 of its canonical CSV form, its shape and where it came from."""

    sha256: str
    rows: int
    columns: int
    source: str


class DatasetRef(ContractModel):
    """The Hub dataset commit that holds this version's training table (`--dataset-repo`)."""

    repo_id: str
    commit: str


class Manifest(ContractFile):
    FILE_NAME = MANIFEST_FILE

    format_version: int = FORMAT_VERSION
    created_at: datetime
    code_commit: str | None
    library_versions: dict[str, str]
    untrusted_types: list[str]
    data: DataFingerprint
    files: dict[str, FileEntry]
    dataset: DatasetRef | None = None  # absent unless the table was published as a Hub dataset
    mlflow_run_id: str | None = None  # absent unless the run was tracked in MLflow (`--mlflow-uri`)


def file_entry(path: Path) -> FileEntry:
    """Hash a file in chunks, so that large models do not need to fit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return FileEntry(sha256=digest.hexdigest(), size=path.stat().st_size)


def hash_folder(folder: Path) -> dict[str, FileEntry]:
    """Hash every file of a model repository except the manifest itself, keyed by POSIX relative path."""
    return {
        path.relative_to(folder).as_posix(): file_entry(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE and not path.relative_to(folder).parts[0].startswith(".")
    }


def verify_folder(folder: Path, *, only: Iterable[str] | None = None, optional: Iterable[str] = ()) -> Manifest:
    """Check files against the manifest; `only` limits the check to the files that were fetched. An `optional`
    file (one a version may leave out) that is present is checked too, so it must be listed.

    Raises:
        IntegrityError: a listed file is missing, or its size or sha256 differs; a present optional file is not
            listed.
    """
    manifest = Manifest.read(folder)
    names = list(manifest.files) if only is None else [name for name in only if name != MANIFEST_FILE]
    names += [name for name in optional if name not in names and (folder / name).is_file()]
    problems: list[str] = []
    for name in names:
        expected = manifest.files.get(name)
        path = folder / name
        if expected is None:
            problems.append(f"{name} is not listed in the manifest")
        elif not path.is_file():
            problems.append(f"{name} is missing")
        elif (actual := file_entry(path)) != expected:
            problems.append(f"{name} has sha256 {actual.sha256[:12]}… but the manifest says {expected.sha256[:12]}…")
    if problems:
        raise IntegrityError(problems, str(folder))
    return manifest
