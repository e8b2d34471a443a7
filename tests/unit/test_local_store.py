from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelrepo import MODEL_FILE, PRODUCTION_ALIAS, IntegrityError, LocalStore, VersionNotFoundError


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "registry")


def test_versions_are_numbered_immutable_folders(store: LocalStore, model_folder: Path) -> None:
    assert store.versions() == []
    first = store.publish(model_folder, message="first")
    second = store.publish(model_folder, message="second")
    assert [v.name for v in store.versions()] == ["v1", "v2"]
    assert (first.number, second.number) == (1, 2)
    assert first.commit == second.commit  # same content, same content address
    mode = (store.root / "v1" / MODEL_FILE).stat().st_mode
    assert mode & 0o222 == 0, "published files are read-only"
    assert (store.root / "v2" / ".message").read_text().strip() == "second"


def test_alias_moves_only_when_set_and_resolves_everywhere(store: LocalStore, model_folder: Path) -> None:
    first = store.publish(model_folder, message="m")
    assert store.alias(PRODUCTION_ALIAS) is None
    store.set_alias(PRODUCTION_ALIAS, first)
    second = store.publish(model_folder, message="m")
    assert store.alias(PRODUCTION_ALIAS) == first
    store.set_alias(PRODUCTION_ALIAS, second)
    assert store.resolve(PRODUCTION_ALIAS) == second
    assert store.resolve("v1") == first
    assert json.loads((store.root / "aliases.json").read_text()) == {PRODUCTION_ALIAS: "v2"}


def test_resolve_by_commit_prefix_and_clear_error_for_unknown(store: LocalStore, model_folder: Path) -> None:
    version = store.publish(model_folder, message="m")
    assert store.resolve(version.commit[:10]) == version
    with pytest.raises(VersionNotFoundError, match=r"No version 'v9'.*versions: v1.*python -m training"):
        store.resolve("v9")
    with pytest.raises(VersionNotFoundError):
        store.resolve(PRODUCTION_ALIAS)


def test_an_interrupted_publish_leaves_no_version_and_does_not_move_the_alias(
    store: LocalStore, model_folder: Path, tmp_path: Path
) -> None:
    good = store.publish(model_folder, message="good")
    store.set_alias(PRODUCTION_ALIAS, good)
    broken = Path(shutil.copytree(model_folder, tmp_path / "broken"))
    (broken / "schema.json").write_text("{}")  # no longer matches the manifest: publish fails midway

    with pytest.raises(IntegrityError):
        store.publish(broken, message="broken")
    assert [v.name for v in store.versions()] == ["v1"]
    assert store.alias(PRODUCTION_ALIAS) == good
    assert [p.name for p in store.root.iterdir() if p.name.startswith(".")] == []


def test_a_staging_folder_left_by_a_killed_process_is_never_a_version(store: LocalStore, model_folder: Path) -> None:
    store.publish(model_folder, message="m")
    shutil.copytree(model_folder, store.root / ".staging-deadbeef")
    assert [v.name for v in store.versions()] == ["v1"]
    assert store.publish(model_folder, message="m").name == "v2"


def test_fetch_returns_the_version_folder(store: LocalStore, model_folder: Path) -> None:
    version = store.publish(model_folder, message="m")
    store.set_alias(PRODUCTION_ALIAS, version)
    snapshot = store.fetch(PRODUCTION_ALIAS)
    assert snapshot.version == version and (snapshot.folder / MODEL_FILE).is_file() and not snapshot.offline
