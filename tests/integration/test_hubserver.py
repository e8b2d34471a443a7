"""The loopback Hub (`tests/hubserver.py`) against the real `huggingface_hub` client.

The client reads `HF_ENDPOINT` and `HF_HOME` at import, so every scenario runs in a fresh interpreter whose
environment points at the server; the scenario prints one JSON line that the test checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.hubserver import READ_TOKEN, WRITE_TOKEN, HubServer, client_env, git_blob_sha

WRITE, READ = WRITE_TOKEN, READ_TOKEN

PRELUDE = f"""
import json, pathlib, tempfile
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
api = HfApi()
WRITE, READ = {WRITE!r}, {READ!r}

def error_of(fn, *args, **kwargs):
    '''The exception class name and HTTP status a call raises, or None.'''
    try:
        fn(*args, **kwargs)
    except Exception as err:
        response = getattr(err, "response", None)
        return [type(err).__name__, getattr(response, "status_code", None)]
    return None

def folder(files):
    root = pathlib.Path(tempfile.mkdtemp())
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return root

def read_tree(path):
    root = pathlib.Path(path)
    return {{str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}}
"""


def run_client(hub: HubServer, hf_home: Path, code: str, *, token: str | None = None) -> Any:
    """Run `code` in a new interpreter pointed at `hub`; return the JSON value of its last output line."""
    env = client_env(hub, hf_home, token=token, project=False)
    script = PRELUDE + textwrap.dedent(code)
    command = [sys.executable, "-c", script]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=hf_home.parent)
    assert proc.returncode == 0, f"client failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_publish_and_download_by_tag_branch_and_sha(hub: HubServer, tmp_path: Path, repo_type: str) -> None:
    out = run_client(
        hub,
        tmp_path / "hf",
        f"""
        kind = {repo_type!r}
        repo = "alice/houses"
        sdk = "gradio" if kind == "space" else None
        url = api.create_repo(repo, repo_type=kind, space_sdk=sdk, exist_ok=True)
        again = api.create_repo(repo, repo_type=kind, space_sdk=sdk, exist_ok=True)  # 409 carries the url
        v1 = api.upload_folder(repo_id=repo, repo_type=kind, commit_message="Publish v1",
                               folder_path=folder({{"model.txt": "one", "images/plot.txt": "p1"}})).oid
        api.create_tag(repo, repo_type=kind, tag="v1")
        card = b"---\\nlibrary_name: sklearn\\ntags: [tabular]\\n---\\n# Card\\n"
        operations = [CommitOperationAdd("model.txt", b"two"), CommitOperationAdd("README.md", card),
                      CommitOperationDelete("images/plot.txt")]
        v2 = api.create_commit(repo, repo_type=kind, commit_message="Publish v2", parent_commit=v1,
                               operations=operations).oid
        api.create_tag(repo, repo_type=kind, tag="v2", revision=v2)
        api.create_branch(repo, repo_type=kind, branch="production", revision=v1)
        refs = api.list_repo_refs(repo, repo_type=kind)
        info = api.repo_info(repo, repo_type=kind, revision="v2")
        print(json.dumps({{
            "url": [url, again, url.repo_type],
            "v1": v1, "v2": v2,
            "allowed": read_tree(snapshot_download(repo, repo_type=kind, revision="v1",
                                                   allow_patterns="images/*")),
            "by_tag": read_tree(snapshot_download(repo, repo_type=kind, revision="v1")),
            "by_branch": read_tree(snapshot_download(repo, repo_type=kind, revision="production")),
            "by_sha": read_tree(snapshot_download(repo, repo_type=kind, revision=v2)),
            "one_file": pathlib.Path(hf_hub_download(repo, "model.txt", repo_type=kind,
                                                     revision="v1")).read_text(),
            "tags": {{t.name: t.target_commit for t in refs.tags}},
            "branches": {{b.name: b.target_commit for b in refs.branches}},
            "commits": [c.title for c in api.list_repo_commits(repo, repo_type=kind, revision="v2")],
            "info": [info.id, info.sha, info.private, info.tags, [s.rfilename for s in info.siblings]],
            "files_v1": api.list_repo_files(repo, repo_type=kind, revision="v1"),
            "tree_top": sorted(e.path for e in api.list_repo_tree(repo, repo_type=kind, revision=v1)),
            "exists": [api.file_exists(repo, "model.txt", repo_type=kind),
                       api.repo_exists(repo, repo_type=kind),
                       api.file_exists(repo, "images/plot.txt", repo_type=kind),
                       api.repo_exists("alice/other", repo_type=kind)],
        }}))
    """,
        token=WRITE,
    )
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    assert out["url"] == [f"{hub.endpoint}/{prefix}alice/houses"] * 2 + [repo_type]
    assert (
        out["by_tag"]
        == out["by_branch"]
        == {".gitattributes": out["by_tag"][".gitattributes"], "model.txt": "one", "images/plot.txt": "p1"}
    )
    assert out["by_sha"]["model.txt"] == "two" and "images/plot.txt" not in out["by_sha"]
    assert out["allowed"] == {"images/plot.txt": "p1"}
    assert out["one_file"] == "one"
    assert out["tags"] == {"v1": out["v1"], "v2": out["v2"]}
    assert out["branches"] == {"main": out["v2"], "production": out["v1"]}
    assert out["commits"] == ["Publish v2", "Publish v1", "initial commit"]
    assert out["info"] == [
        "alice/houses",
        out["v2"],
        False,
        ["tabular", "sklearn"],
        [".gitattributes", "README.md", "model.txt"],
    ]
    assert out["files_v1"] == [".gitattributes", "images/plot.txt", "model.txt"]
    assert out["tree_top"] == [".gitattributes", "images", "model.txt"]
    assert out["exists"] == [True, True, False, False]
    assert hub.files("alice/houses", repo_type=repo_type, revision="v2")["model.txt"] == b"two"


def test_branch_moves_by_delete_and_create_and_slash_revisions(hub: HubServer, tmp_path: Path) -> None:
    out = run_client(
        hub,
        tmp_path / "hf",
        """
        repo = "alice/houses"
        api.create_repo(repo)
        v1 = api.upload_file(repo_id=repo, path_in_repo="m.txt", path_or_fileobj=b"one").oid
        v2 = api.upload_file(repo_id=repo, path_in_repo="m.txt", path_or_fileobj=b"two").oid
        api.create_branch(repo, branch="production", revision=v1)
        before = pathlib.Path(hf_hub_download(repo, "m.txt", revision="production")).read_text()
        api.delete_branch(repo, branch="production")
        api.create_branch(repo, branch="production", revision=v2)
        after = pathlib.Path(hf_hub_download(repo, "m.txt", revision="production")).read_text()
        api.create_branch(repo, branch="release/1", revision=v1)
        api.upload_file(repo_id=repo, path_in_repo="m.txt", path_or_fileobj=b"r1", revision="release/1")
        slash = pathlib.Path(hf_hub_download(repo, "m.txt", revision="release/1")).read_text()
        refs = {b.name: b.target_commit for b in api.list_repo_refs(repo).branches}
        print(json.dumps([before, after, slash, refs["production"] == v2, sorted(refs)]))
    """,
        token=WRITE,
    )
    assert out == ["one", "two", "r1", True, ["main", "production", "release/1"]]


def test_unchanged_upload_is_skipped_but_server_accepts_empty_commit(hub: HubServer, tmp_path: Path) -> None:
    out = run_client(
        hub,
        tmp_path / "hf",
        """
        api.create_repo("alice/houses")
        files = folder({"a.txt": "a"})
        first = api.upload_folder(repo_id="alice/houses", folder_path=files).oid
        second = api.upload_folder(repo_id="alice/houses", folder_path=files).oid
        print(json.dumps([first, second]))
    """,
        token=WRITE,
    )
    assert out[0] == out[1]
    header = json.dumps({"key": "header", "value": {"summary": "empty", "description": ""}}).encode()
    url = f"{hub.endpoint}/api/models/alice/houses/commit/main"
    request = urllib.request.Request(
        url, data=header + b"\n", headers={"Authorization": f"Bearer {WRITE}"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        sha = json.load(response)["commitOid"]
    assert sha != out[0] and len(sha) == 40
    assert hub.files("alice/houses", revision=sha) == hub.files("alice/houses", revision=out[0])


def test_auth_private_repos_and_tokens(hub: HubServer, tmp_path: Path) -> None:
    out = run_client(
        hub,
        tmp_path / "hf",
        """
        api.create_repo("alice/secret", private=True, token=WRITE)
        api.create_repo("alice/public", token=WRITE)
        print(json.dumps({
            "anon_info": error_of(api.repo_info, "alice/secret", token=False),
            "anon_exists": api.repo_exists("alice/secret", token=False),
            "anon_download": error_of(hf_hub_download, "alice/secret", ".gitattributes", token=False),
            "anon_snapshot": error_of(snapshot_download, "alice/secret", token=False),
            "read_info": api.repo_info("alice/secret", token=READ).private,
            "read_download": pathlib.Path(hf_hub_download("alice/secret", ".gitattributes",
                                                          token=READ)).exists(),
            "bad_whoami": error_of(api.whoami, token="hf_nope"),
            "bad_info": error_of(api.repo_info, "alice/public", token="hf_nope"),
            "whoami": [api.whoami(token=WRITE)["name"], api.whoami(token=READ)["name"]],
            "read_create": error_of(api.create_repo, "bob/new", token=READ),
            "read_commit": error_of(api.upload_file, repo_id="alice/public", path_in_repo="x",
                                    path_or_fileobj=b"x", token=READ),
            "read_tag": error_of(api.create_tag, "alice/public", tag="v1", token=READ),
            "read_branch": error_of(api.create_branch, "alice/public", branch="b", token=READ),
            "anon_tag": error_of(api.create_tag, "alice/public", tag="v1", token=False),
            "anon_create": error_of(api.create_repo, "alice/other", token=False),
            "read_exist_ok": str(api.create_repo("alice/public", token=READ, exist_ok=True)),
        }))
    """,
    )
    assert out["anon_info"] == ["RepositoryNotFoundError", 404]
    assert out["anon_exists"] is False
    assert out["anon_download"] == ["RepositoryNotFoundError", 404]
    assert out["anon_snapshot"] == ["RepositoryNotFoundError", 404]
    assert out["read_info"] is True and out["read_download"] is True
    assert out["bad_whoami"] == ["HfHubHTTPError", 401]
    assert out["bad_info"] == ["HfHubHTTPError", 401]
    assert out["whoami"] == ["alice", "bob"]
    for key in ("read_create", "read_commit", "read_tag", "read_branch"):
        assert out[key] == ["HfHubHTTPError", 403], key
    assert out["anon_tag"] == out["anon_create"] == ["HfHubHTTPError", 401]
    # The client's own fallback: create_repo(exist_ok=True) on a 401/403 succeeds if the repo is readable.
    assert out["read_exist_ok"] == f"{hub.endpoint}/alice/public"


def test_missing_revision_entry_and_repo_raise_client_exceptions(hub: HubServer, tmp_path: Path) -> None:
    out = run_client(
        hub,
        tmp_path / "hf",
        """
        api.create_repo("alice/houses")
        v1 = api.upload_file(repo_id="alice/houses", path_in_repo="m.txt", path_or_fileobj=b"one").oid
        api.create_tag("alice/houses", tag="v1")
        api.upload_file(repo_id="alice/houses", path_in_repo="m.txt", path_or_fileobj=b"two")
        print(json.dumps({
            "download_rev": error_of(hf_hub_download, "alice/houses", "m.txt", revision="v9"),
            "snapshot_rev": error_of(snapshot_download, "alice/houses", revision="v9"),
            "info_rev": error_of(api.model_info, "alice/houses", revision="nope"),
            "tree_rev": error_of(api.list_repo_files, "alice/houses", revision="nope"),
            "entry": error_of(hf_hub_download, "alice/houses", "nope.txt"),
            "repo": error_of(api.model_info, "alice/missing"),
            "repo_download": error_of(hf_hub_download, "alice/missing", "m.txt"),
            "dataset_not_model": error_of(api.dataset_info, "alice/houses"),
            "tag_exists": error_of(api.create_tag, "alice/houses", tag="v1"),
            "stale_parent": error_of(api.create_commit, "alice/houses", commit_message="x", parent_commit=v1,
                                     operations=[CommitOperationAdd("m.txt", b"three")]),
            "delete_missing_tag": error_of(api.delete_tag, "alice/houses", tag="v9"),
        }))
    """,
        token=WRITE,
    )
    assert out["download_rev"] == out["snapshot_rev"] == ["RevisionNotFoundError", 404]
    assert out["info_rev"] == out["tree_rev"] == ["RevisionNotFoundError", 404]
    assert out["entry"] == ["RemoteEntryNotFoundError", 404]
    assert out["repo"] == out["repo_download"] == out["dataset_not_model"] == ["RepositoryNotFoundError", 404]
    assert out["tag_exists"] == ["HfHubHTTPError", 409]
    assert out["stale_parent"] == ["HfHubHTTPError", 412]
    assert out["delete_missing_tag"] == ["RevisionNotFoundError", 404]


def test_offline_hub_falls_back_to_the_cache(hub: HubServer, tmp_path: Path) -> None:
    hf_home = tmp_path / "hf"
    # Not `hf_hub_download` of an uncached file: offline, the client retries it for ~23 s before giving up.
    fetch = """
        cached = pathlib.Path(hf_hub_download("alice/houses", "m.txt", revision="production")).read_text()
        print(json.dumps([cached, error_of(snapshot_download, "alice/other")]))
    """
    run_client(
        hub,
        hf_home,
        """
        api.create_repo("alice/houses")
        api.create_repo("alice/other")
        api.upload_folder(repo_id="alice/houses", folder_path=folder({"m.txt": "one"}))
        api.create_branch("alice/houses", branch="production")
        print(json.dumps(hf_hub_download("alice/houses", "m.txt", revision="production")))
    """,
        token=WRITE,
    )
    hub.set_offline(True)
    assert run_client(hub, hf_home, fetch) == ["one", ["LocalEntryNotFoundError", None]]
    hub.set_offline(False)
    assert run_client(hub, hf_home, fetch) == ["one", None]


def test_space_deploy_calls(hub: HubServer, tmp_path: Path) -> None:
    out = run_client(
        hub,
        tmp_path / "hf",
        """
        api.create_repo("alice/app", repo_type="space", space_sdk="gradio")
        api.upload_folder(repo_id="alice/app", repo_type="space", folder_path=folder({"app.py": "print(1)"}))
        variables = api.add_space_variable("alice/app", "MODEL_REVISION", "v2")
        print(json.dumps({
            "variables": {k: v.value for k, v in variables.items()},
            "restart": api.restart_space("alice/app").stage,
            "runtime": api.get_space_runtime("alice/app").stage,
            "info": [api.space_info("alice/app").sdk, api.space_info("alice/app").runtime.stage],
        }))
    """,
        token=WRITE,
    )
    assert out == {
        "variables": {"MODEL_REVISION": "v2"},
        "restart": "RUNNING",
        "runtime": "RUNNING",
        "info": ["gradio", "RUNNING"],
    }
    assert hub.space_variables("alice/app") == {"MODEL_REVISION": "v2"}
    assert hub.space_restarts("alice/app") == 1
    assert hub.files("alice/app", repo_type="space")["app.py"] == b"print(1)"


def test_git_blob_sha_matches_git() -> None:
    assert git_blob_sha(b"Hello, World!") == "b45ef6fec89518d314f546fd6c3025367b721684"
