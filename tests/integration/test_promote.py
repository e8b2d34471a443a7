"""`python -m training.promote`: production (and `main` on the Hub) moves to a verified version, and back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from modelrepo import CARD_FILE, PRODUCTION_ALIAS, LocalStore, Manifest, hash_folder
from tests.hubserver import WRITE_TOKEN, HubServer, client_env
from tests.live import ROOT, start_app


@pytest.fixture
def two_versions(model_folder: Path, tmp_path: Path) -> LocalStore:
    """A registry with v1 (the session model) and v2 (its card edited), production on v2."""
    edited = Path(shutil.copytree(model_folder, tmp_path / "edited"))
    (edited / CARD_FILE).write_text((edited / CARD_FILE).read_text() + "\nRetrained.\n")
    Manifest.read(edited).model_copy(update={"files": hash_folder(edited)}).write(edited)
    store = LocalStore(tmp_path / "registry")
    store.publish(model_folder, message="v1")
    store.promote(store.publish(edited, message="v2"))
    return store


def promote(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own: `huggingface_hub` reads HF_ENDPOINT when it is imported."""
    return subprocess.run(
        [sys.executable, "-m", "training.promote", *arguments],
        env=env or {**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def promote_here(capsys: pytest.CaptureFixture[str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process, for the local registry (no Hub client to point anywhere)."""
    from training.promote import main

    code = main(list(arguments))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["training.promote", *arguments], code, captured.out, captured.err)


def test_promote_back_and_forth_in_the_local_registry(
    two_versions: LocalStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = two_versions
    v1, v2 = store.versions()
    back = promote_here(capsys, "v1", "--registry", str(store.root))
    assert back.returncode == 0, back.stderr
    assert f"before: v2 ({v2.commit[:12]})" in back.stdout and f"after:  v1 ({v1.commit[:12]})" in back.stdout
    assert store.alias(PRODUCTION_ALIAS) == v1 and store.resolve("main") == v1  # main is production here too
    app = start_app({"MODEL_REGISTRY": str(store.root), "MODEL_REVISION": "production"}, workdir=tmp_path)
    try:
        served = httpx.get(f"{app.url}/api/v1/model").json()
    finally:
        app.stop()
    assert (served["model_version"], served["model_commit"]) == ("v1", v1.commit)
    forth = promote_here(capsys, "v2", "--registry", str(store.root))
    assert forth.returncode == 0 and store.alias(PRODUCTION_ALIAS) == v2
    again = promote_here(capsys, "v2", "--registry", str(store.root))
    assert again.returncode == 0 and "(unchanged)" in again.stdout


def test_dry_run_unknown_and_tampered_versions_change_nothing(
    two_versions: LocalStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store = two_versions
    v1, v2 = store.versions()
    dry = promote_here(capsys, "v1", "--registry", str(store.root), "--dry-run")
    assert dry.returncode == 0 and f"would move from v2 ({v2.commit[:12]}) to v1" in dry.stdout
    unknown = promote_here(capsys, "v9", "--registry", str(store.root))
    assert unknown.returncode == 2 and unknown.stderr.strip().splitlines() == [
        f"error: No version 'v9' in the local registry at {store.root}; its versions: v1, v2."
    ]
    card = store.root / "v1" / CARD_FILE
    card.chmod(0o644)
    card.write_text(card.read_text() + "tampered\n")
    tampered = promote_here(capsys, "v1", "--registry", str(store.root))
    assert tampered.returncode == 2 and "README.md has sha256" in tampered.stderr
    assert store.alias(PRODUCTION_ALIAS) == v2


def test_promote_on_the_hub_moves_production_and_main(model_folder: Path, hub: HubServer, tmp_path: Path) -> None:
    env = client_env(hub, tmp_path / "hf", token=WRITE_TOKEN)
    publish = (
        "import pathlib, sys\n"
        "from modelrepo.hub import HubStore\n"
        "store = HubStore.connect('alice/ames', create=True)\n"
        "folder = pathlib.Path(sys.argv[1])\n"
        "store.promote(store.publish(folder, message='v1'))\n"
        "(folder / 'README.md').write_text((folder / 'README.md').read_text() + 'Retrained.\\n')\n"
        "from modelrepo import Manifest, hash_folder\n"
        "Manifest.read(folder).model_copy(update={'files': hash_folder(folder)}).write(folder)\n"
        "store.publish(folder, message='v2')\n"
    )
    folder = Path(shutil.copytree(model_folder, tmp_path / "model"))
    result = subprocess.run([sys.executable, "-c", publish, str(folder)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert hub.files("alice/ames") == hub.files("alice/ames", revision="v1")  # v2 was not promoted
    forth = promote("v2", "--repo", "alice/ames", env=env)
    assert forth.returncode == 0, forth.stderr
    assert "main        shows v2" in forth.stdout
    assert (
        hub.files("alice/ames")
        == hub.files("alice/ames", revision="production")
        == hub.files("alice/ames", revision="v2")
    )
    back = promote("v1", "--repo", "alice/ames", env=env)
    assert back.returncode == 0 and hub.files("alice/ames") == hub.files("alice/ames", revision="v1")
    unknown = promote("v3", "--repo", "alice/ames", env=env)
    assert unknown.returncode == 2 and "its versions: v1, v2." in unknown.stderr
