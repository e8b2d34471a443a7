"""`modelrepo.hub.HubStore` and `python -m training --repo` against the loopback Hub, with the real client.

`huggingface_hub` reads HF_ENDPOINT and HF_HOME at import, so every scenario runs in a fresh interpreter whose
environment points at the server (its own HF_HOME: its own cache, no saved token) and prints one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelrepo import CARD_FILE, METRICS_FILE, REQUIRED_FILES, Manifest, hash_folder
from tests.hubserver import READ_TOKEN, WRITE_TOKEN, HubServer, client_env

ROOT = Path(__file__).resolve().parents[2]
WRITE, READ, BAD = WRITE_TOKEN, READ_TOKEN, "hf_not_a_token"
REMOVED = "images/residuals.png"  # in v1, not in v2: publishing must delete it from `main`

PRELUDE = f"""
import json, pathlib, sys, time
from modelrepo import verify_folder
from modelrepo.hub import HubStore
WRITE, READ, BAD = {WRITE!r}, {READ!r}, {BAD!r}
V1, V2 = (pathlib.Path(p) for p in sys.argv[1:3])

def error_of(fn, *args, **kwargs):
    '''The modelrepo error a call raises, as [class name, message], or None.'''
    try:
        fn(*args, **kwargs)
    except Exception as err:
        return [type(err).__name__, str(err)]
    return None

def version(v):
    return None if v is None else [v.name, v.commit, v.location]

def names(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
"""


@pytest.fixture(scope="module")
def folders(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """v1: a copy of the session's model repository; v2: its card edited and one plot removed, re-manifested."""
    root = tmp_path_factory.mktemp("versions")
    v1 = Path(shutil.copytree(model_folder, root / "v1"))
    v2 = Path(shutil.copytree(model_folder, root / "v2"))
    (v2 / CARD_FILE).write_text((v2 / CARD_FILE).read_text(encoding="utf-8") + "\nRetrained.\n", encoding="utf-8")
    (v2 / REMOVED).unlink()
    Manifest.read(v2).model_copy(update={"files": hash_folder(v2)}).write(v2)
    return v1, v2


def run_store(hub: HubServer, hf_home: Path, folders: tuple[Path, Path], code: str, *, token: str | None = None) -> Any:
    """Run `code` after PRELUDE in a new interpreter pointed at `hub`; return its last output line as JSON."""
    command = [sys.executable, "-c", PRELUDE + textwrap.dedent(code), *map(str, folders)]
    env = client_env(hub, hf_home, token=token)
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=hf_home.parent)
    assert proc.returncode == 0, f"scenario failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_publish_alias_resolve_read_and_fetch(hub: HubServer, folders: tuple[Path, Path], tmp_path: Path) -> None:
    out = run_store(
        hub,
        tmp_path / "hf",
        folders,
        """
        store = HubStore.connect("alice/ames")
        before = [store.versions(), store.alias("production")]
        v1 = store.publish(V1, message="Publish v1")
        store.promote(v1)
        v2 = store.publish(V2, message="Publish v2")
        kept = version(store.alias("production"))
        store.promote(v2)
        revisions = ["v1", "v2", "production", "main", v1.commit, v1.commit[:7], v2.commit[:12]]
        fetched = store.fetch("production")
        partial = store.fetch("v1", files=["metrics.json", "images/*"])
        print(json.dumps({
            "before": before, "v1": version(v1), "v2": version(v2), "kept": kept,
            "moved": version(store.alias("production")),
            "versions": [version(v) for v in store.versions()],
            "resolved": {r: version(store.resolve(r)) for r in revisions},
            "titles": [c.title for c in store.api.list_repo_commits("alice/ames", revision="candidates")],
            "main": [c.title for c in store.api.list_repo_commits("alice/ames")],
            "branches": sorted(b.name for b in store.api.list_repo_refs("alice/ames").branches),
            "metrics": json.loads(store.read_text(v1, "metrics.json")),
            "missing": [error_of(store.resolve, "v9"), error_of(store.resolve, "0000000"),
                        error_of(store.alias, "staging"), error_of(store.read_text, v1, "nope.json")],
            "fetched": [version(fetched.version), fetched.offline, verify_folder(fetched.folder) is not None,
                        names(fetched.folder)],
            "partial": [version(partial.version), names(partial.folder)],
        }))
    """,
        token=WRITE,
    )
    v1, v2 = out["v1"], out["v2"]
    assert out["before"] == [[], None]
    assert v1 == ["v1", v1[1], f"{hub.endpoint}/alice/ames/tree/v1"] and v2[0] == "v2" and v1[1] != v2[1]
    assert out["versions"] == [v1, v2]
    assert out["kept"] == v1 and out["moved"] == v2  # publishing never moves the alias; promote does
    resolved = out["resolved"]
    assert resolved["v1"] == resolved[v1[1]] == resolved[v1[1][:7]] == v1
    assert resolved["v2"] == resolved["production"] == resolved[v2[1][:12]] == v2
    # main holds a copy of production's files in a commit of its own, named after the version it shows
    assert resolved["main"][0] == "v2" and resolved["main"][1] not in (v1[1], v2[1])
    assert out["titles"] == ["Publish v2", "Publish v1", "initial commit"]  # one commit per version
    assert out["main"] == [f"Show v{n} ({v[1][:7]}), now production, on main" for n, v in ((2, v2), (1, v1))] + [
        "initial commit"
    ]
    assert out["branches"] == ["candidates", "main", "production"]
    assert out["metrics"] == json.loads((folders[0] / METRICS_FILE).read_text())

    not_found, bad_sha, no_alias, no_file = out["missing"]
    assert not_found[0] == bad_sha[0] == "VersionNotFoundError"
    assert "versions: v1, v2; aliases: production" in not_found[1] and "python -m training" in not_found[1]
    assert no_alias is None and no_file[0] == "ContractError" and "nope.json" in no_file[1]

    fetched, offline, verified, files = out["fetched"]
    assert fetched == v2 and offline is False and verified is True
    assert set(files) == set(hash_folder(folders[1])) | {"manifest.json", ".gitattributes"}
    assert REMOVED in hub.files("alice/ames", revision="v1") and REMOVED not in hub.files("alice/ames")
    assert hub.files("alice/ames", revision="v2")["model.skops"] == (folders[1] / "model.skops").read_bytes()
    assert out["partial"][0] == v1 and "metrics.json" in out["partial"][1] and REMOVED in out["partial"][1]
    assert "model.skops" not in out["partial"][1]


def test_main_shows_production_after_a_refused_candidate_and_the_new_version_after_a_promotion(
    hub: HubServer, folders: tuple[Path, Path], tmp_path: Path
) -> None:
    """The model page and `hf_hub_download(repo)` read `main`: it must hold what `production` serves."""
    out = run_store(
        hub,
        tmp_path / "hf",
        folders,
        """
        from huggingface_hub import hf_hub_download
        store = HubStore.connect("alice/ames")
        store.promote(store.publish(V1, message="Publish v1"))
        v2 = store.publish(V2, message="Publish v2, refused by the gate")
        refused = pathlib.Path(hf_hub_download("alice/ames", "README.md")).read_text()
        store.promote(v2)
        promoted = pathlib.Path(hf_hub_download("alice/ames", "README.md")).read_text()
        store.promote(store.resolve("v1"))  # and back
        print(json.dumps({"refused": refused, "promoted": promoted}))
    """,
        token=WRITE,
    )
    v1_files, v2_files = (_published(folder) for folder in folders)
    assert out["refused"] == v1_files["README.md"].decode() and out["promoted"] == v2_files["README.md"].decode()
    assert (
        hub.files("alice/ames")
        == hub.files("alice/ames", revision="production")
        == hub.files("alice/ames", revision="v1")
    )
    assert _published_part(hub.files("alice/ames")) == v1_files


def _published(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _published_part(files: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in files.items() if path != ".gitattributes"}


def test_identical_content_is_a_new_tag_on_the_same_commit(
    hub: HubServer, folders: tuple[Path, Path], tmp_path: Path
) -> None:
    out = run_store(
        hub,
        tmp_path / "hf",
        folders,
        """
        store = HubStore.connect("alice/ames")
        v1 = store.publish(V1, message="Publish v1")
        again = store.publish(V1, message="Publish v1 again")
        store.set_alias("production", v1)
        print(json.dumps({
            "v1": version(v1), "again": version(again),
            "by_sha": version(store.resolve(v1.commit)), "by_tag": version(store.resolve("v1")),
            "alias": version(store.alias("production")),
            "versions": [v.name for v in store.versions()],
            "titles": [c.title for c in store.api.list_repo_commits("alice/ames", revision="candidates")],
        }))
    """,
        token=WRITE,
    )
    sha = out["v1"][1]
    assert out["again"] == ["v2", sha, f"{hub.endpoint}/alice/ames/tree/v2"]
    assert out["versions"] == ["v1", "v2"]
    assert out["titles"] == ["Publish v1", "initial commit"]  # no empty commit
    assert out["by_tag"] == out["v1"]  # a tag resolves to itself
    assert out["by_sha"] == out["alias"] == out["again"]  # a commit is named by its highest version


def test_tokens_private_repos_and_write_access(hub: HubServer, folders: tuple[Path, Path], tmp_path: Path) -> None:
    out = run_store(
        hub,
        tmp_path / "hf",
        folders,
        """
        owner = HubStore.connect("alice/secret", token=WRITE, private=True, create=True)
        v1 = owner.publish(V1, message="Publish v1")
        owner.set_alias("production", v1)
        anonymous = HubStore.connect("alice/secret")
        reader = HubStore.connect("alice/secret", token=READ)
        bad = HubStore.connect("alice/secret", token=BAD)
        print(json.dumps({
            "private": owner.api.repo_info("alice/secret").private,
            "anonymous_reads": [anonymous.versions(), anonymous.alias("production")],
            "anonymous": [error_of(anonymous.resolve, "v1"), error_of(anonymous.fetch, "production"),
                          error_of(anonymous.publish, V2, message="x"),
                          error_of(HubStore.connect, "alice/new", create=True)],
            "bad": [error_of(bad.versions), error_of(bad.fetch, "v1"), error_of(bad.publish, V2, message="x")],
            "reader_reads": [version(reader.resolve("production")) == version(v1),
                             verify_folder(reader.fetch("v1").folder) is not None],
            "reader_writes": [error_of(reader.publish, V2, message="x"),
                              error_of(reader.set_alias, "staging", v1)],
            "after": [[v.name for v in owner.versions()], version(owner.alias("staging"))],
        }))
    """,
    )
    assert out["private"] is True
    assert out["anonymous_reads"] == [[], None]  # a private repo looks missing without a token
    resolve, fetch, publish, create = out["anonymous"]
    assert resolve[0] == fetch[0] == "VersionNotFoundError" and "HF_TOKEN" in resolve[1]
    assert publish[0] == create[0] == "StoreAccessError"
    assert "set HF_TOKEN or run `hf auth login`" in publish[1]
    for error in out["bad"]:
        assert error[0] == "StoreAccessError" and "rejected the token (401)" in error[1]
    assert out["reader_reads"] == [True, True]
    for error in out["reader_writes"]:
        assert error[0] == "StoreAccessError" and "403" in error[1]
    assert out["after"] == [["v1"], None]  # the refused publish left no commit, tag or branch
    text = json.dumps(out)
    assert WRITE not in text and READ not in text and BAD not in text  # no token in any message
    assert all("\n" not in error[1] for group in ("anonymous", "bad", "reader_writes") for error in out[group])


def test_offline_fetch_falls_back_to_the_cache(hub: HubServer, folders: tuple[Path, Path], tmp_path: Path) -> None:
    hf_home = tmp_path / "hf"
    online = run_store(
        hub,
        hf_home,
        folders,
        """
        store = HubStore.connect("alice/ames")
        v1 = store.publish(V1, message="Publish v1")
        store.set_alias("production", v1)
        store.publish(V2, message="Publish v2")
        store.fetch("production")
        store.fetch("v2", files=["metrics.json"])
        print(json.dumps(version(v1)))
    """,
        token=WRITE,
    )
    hub.set_offline(True)
    out = run_store(
        hub,
        hf_home,
        folders,
        """
        store = HubStore.connect("alice/ames")
        started = time.perf_counter()
        cached = store.fetch("production")
        by_sha = store.fetch(cached.version.commit[:8])
        partial = store.fetch("v2", files=["metrics.json"])
        print(json.dumps({
            "cached": [version(cached.version), cached.offline, verify_folder(cached.folder) is not None],
            "by_sha": [version(by_sha.version), by_sha.offline],
            "partial": [partial.version.name, partial.offline, names(partial.folder)],
            "read_text": json.loads(store.read_text(cached.version, "metrics.json"))["target"],
            "incomplete": error_of(store.fetch, "v2"),
            "unknown": error_of(store.fetch, "v9"),
            "never_fetched": error_of(HubStore.connect("alice/other").fetch, "production"),
            "versions": error_of(store.versions),
            "seconds": time.perf_counter() - started,
        }))
    """,
    )
    hub.set_offline(False)
    assert out["cached"] == [online, True, True]
    assert out["by_sha"] == [online, True]
    assert out["partial"] == ["v2", True, ["metrics.json"]]
    assert out["read_text"] == "SalePrice"
    for key in ("incomplete", "unknown", "never_fetched", "versions"):
        assert out[key][0] == "StoreUnavailableError", key
        assert "Cannot reach the Hugging Face Hub" in out[key][1] and "\n" not in out[key][1]
    assert "not in the local Hub cache" in out["never_fetched"][1]
    assert out["seconds"] < 10  # connection refused is reported at once, without the client's retries


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "sample.csv"
    table = pd.read_csv(ROOT / "training/data/ames.csv.gz", keep_default_na=False, na_values=[""])
    table.sample(500, random_state=0).to_csv(path, index=False)
    return path


def run_training(
    hub: HubServer, tmp_path: Path, sample_csv: Path, *extra: str, token: str | None
) -> subprocess.CompletedProcess[str]:
    args = ["--data", str(sample_csv), "--quick", "--folds", "2", "--repo", "alice/ames", "--output", "out", *extra]
    env = client_env(hub, tmp_path / "hf", token=token)
    command = [sys.executable, "-m", "training", *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_cli_publishes_to_the_hub_and_the_gate_moves_production_only_when_it_should(
    hub: HubServer, sample_csv: Path, tmp_path: Path
) -> None:
    result = run_training(hub, tmp_path, sample_csv, token=WRITE)
    assert result.returncode == 0, result.stderr
    assert "[6/6] publishing to the Hugging Face Hub repo alice/ames" in result.stdout
    assert f"v1 to the Hugging Face Hub repo alice/ames: {hub.endpoint}/alice/ames/tree/v1" in result.stdout
    assert "promoted to production (no production version yet)" in result.stdout
    published = hub.files("alice/ames", revision="v1")
    assert hub.files("alice/ames", revision="production") == published
    assert set(REQUIRED_FILES) <= set(published)
    assert published["model.skops"] == (tmp_path / "out" / "model.skops").read_bytes()
    assert not (tmp_path / "registry").exists()

    # The gate reads production's metrics from the Hub: a worse model is published but not promoted (forcing
    # it moves the production branch: test_gate.py, after production's metrics become unreadable).
    worse = run_training(hub, tmp_path, sample_csv, "--holdout", "0.5", "--tolerance", "-1", token=WRITE)
    assert worse.returncode == 0, worse.stderr
    assert "v2 to the Hugging Face Hub repo" in worse.stdout and "NOT promoted; production unchanged" in worse.stdout
    assert hub.files("alice/ames", revision="production") == published


def test_cli_without_a_token_stops_before_training(hub: HubServer, sample_csv: Path, tmp_path: Path) -> None:
    result = run_training(hub, tmp_path, sample_csv, token=None)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "HF_TOKEN" in result.stderr and "hf auth login" in result.stderr
    assert "[1/6]" not in result.stdout
