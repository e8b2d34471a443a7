from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from modelrepo import (
    IMAGES_DIR,
    MANIFEST_FILE,
    MODEL_FILE,
    REQUIRED_FILES,
    SCHEMA_FILE,
    IntegrityError,
    Manifest,
    verify_folder,
)


def test_manifest_lists_every_file_with_its_sha256_and_size(model_folder: Path) -> None:
    manifest = Manifest.read(model_folder)
    on_disk = {p.relative_to(model_folder).as_posix() for p in model_folder.rglob("*") if p.is_file()}
    assert set(manifest.files) == on_disk - {MANIFEST_FILE}
    assert set(REQUIRED_FILES) - {MANIFEST_FILE} <= set(manifest.files)
    assert any(name.startswith(f"{IMAGES_DIR}/") and name.endswith(".png") for name in manifest.files)
    for name, entry in manifest.files.items():
        content = (model_folder / name).read_bytes()
        assert entry.sha256 == hashlib.sha256(content).hexdigest() and entry.size == len(content)


def test_manifest_records_provenance(model_folder: Path) -> None:
    manifest = Manifest.read(model_folder)
    assert {"python", "scikit-learn", "skops", "numpy", "pandas"} <= set(manifest.library_versions)
    assert manifest.data.rows == 2930 and manifest.data.columns == 82 and len(manifest.data.sha256) == 64
    assert "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor" in manifest.untrusted_types


def test_a_tampered_or_missing_file_fails_verification(model_folder: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(model_folder, tmp_path / "copy"))
    assert verify_folder(copy).files == Manifest.read(model_folder).files

    with (copy / MODEL_FILE).open("ab") as stream:
        stream.write(b"\0")
    (copy / SCHEMA_FILE).unlink()
    with pytest.raises(IntegrityError) as raised:
        verify_folder(copy)
    problems = " ".join(raised.value.problems)
    assert "model.skops has sha256" in problems and "schema.json is missing" in problems


def test_verification_can_be_limited_to_the_fetched_files(model_folder: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(model_folder, tmp_path / "copy"))
    shutil.rmtree(copy / IMAGES_DIR)
    verify_folder(copy, only=[MODEL_FILE, SCHEMA_FILE])
    with pytest.raises(IntegrityError, match="images/"):
        verify_folder(copy)
