"""`app.py` serving from the (loopback) Hugging Face Hub: pinned by tag, alias or sha; offline from the cache;
refusing what it must refuse. The real `huggingface_hub` client talks to `tests.hubserver` via HF_ENDPOINT."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modelrepo import CARD_FILE, EXAMPLES_FILE, MODEL_FILE, Manifest, hash_folder, save_model
from tests.hubserver import HubServer, client_env
from tests.live import LiveApp, run_app_until_exit, start_app

REPO, WRITE, READ = "alice/ames-price", "hf_write_token", "hf_read_token"


def triple(values):  # noqa: ANN001, ANN201 - a function nobody reviewed, for the untrusted-type case
    return values * 3


@pytest.fixture(scope="module")
def hub(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubServer, dict[str, str]]]:
    """A private model repo: v1 (the session model), v2 (its card edited), production → v2, and v3 whose
    model holds an untrusted type (with consistent hashes, so that only the trust check can catch it)."""
    root = tmp_path_factory.mktemp("hub-versions")
    v2 = Path(shutil.copytree(model_folder, root / "v2"))
    (v2 / CARD_FILE).write_text((v2 / CARD_FILE).read_text() + "\nRetrained.\n")
    Manifest.read(v2).model_copy(update={"files": hash_folder(v2)}).write(v2)
    v3 = Path(shutil.copytree(model_folder, root / "v3"))
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    save_model(make_pipeline(FunctionTransformer(triple), LinearRegression()).fit(frame, [1.0, 2.0]), v3 / MODEL_FILE)
    Manifest.read(v3).model_copy(update={"files": hash_folder(v3)}).write(v3)
    with HubServer() as server:
        server.add_token(WRITE, "alice")
        server.add_token(READ, "bob", write=False)
        code = f"""
            import json, pathlib
            from modelrepo.hub import HubStore
            store = HubStore.connect({REPO!r}, private=True, create=True)
            v1 = store.publish(pathlib.Path({str(model_folder)!r}), message="v1")
            v2 = store.publish(pathlib.Path({str(v2)!r}), message="v2")
            store.set_alias("production", v2)
            store.publish(pathlib.Path({str(v3)!r}), message="v3 with an untrusted type")
            # A tampered file on top of v2, tagged v4: the hash check must refuse it.
            store.api.upload_file(
                path_or_fileobj=b"{{}}", path_in_repo="schema.json", repo_id={REPO!r}, revision="candidates"
            )
            store.api.create_tag({REPO!r}, tag="v4", revision="candidates")
            print(json.dumps({{"v1": v1.commit, "v2": v2.commit}}))
        """
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=client_env(server, root / "hf-publisher", token=WRITE),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        yield server, json.loads(result.stdout.strip().splitlines()[-1])


def app_env(server: HubServer, hf_home: Path, *, revision: str, token: str | None = READ) -> dict[str, str]:
    return client_env(server, hf_home, token=token) | {"MODEL_REPO": REPO, "MODEL_REVISION": revision}


def served(app: LiveApp) -> dict:
    return httpx.get(f"{app.url}/api/v1/model").json()


def examples_prices(app: LiveApp, folder: Path) -> list[float]:
    rows = json.loads((folder / EXAMPLES_FILE).read_text())["rows"]
    return [
        item["prediction"]["price"]
        for item in httpx.post(f"{app.url}/api/v1/predict/batch", json={"rows": rows}).json()["results"]
    ]


def deploy_check(server: HubServer, app: LiveApp, hf_home: Path) -> subprocess.CompletedProcess[str]:
    """The deploy's `--check` of v1 against `app` as if it were the Space; prints the MCP tools, then the price."""
    check = (
        "from training.deploy_space import check_space\n"
        f"check = check_space({app.url!r}, model_repo={REPO!r}, revision='v1', token={READ!r})\n"
        "print(','.join(check.mcp_tools))\n"
        "print(check.price)"
    )
    env = client_env(server, hf_home, token=READ)
    return subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("revision", ["v1", "production", "commit"])
def test_app_serves_a_pinned_revision_from_the_hub_with_the_local_prices(
    hub: tuple[HubServer, dict[str, str]], revision: str, live_app: LiveApp, model_folder: Path, tmp_path: Path
) -> None:
    server, commits = hub
    pinned = commits["v1"] if revision == "commit" else revision
    app = start_app(app_env(server, tmp_path / "hf", revision=pinned), workdir=tmp_path)
    try:
        info = served(app)
        expected = {"v1": ("v1", commits["v1"]), "production": ("v2", commits["v2"]), "commit": ("v1", commits["v1"])}
        assert (info["model_version"], info["model_commit"]) == expected[revision]
        assert info["source"] == f"Hugging Face Hub repo {REPO}" and info["offline"] is False
        assert f"commit {expected[revision][1]}" in app.output()
        assert examples_prices(app, model_folder) == examples_prices(live_app, model_folder)
        if revision == "v1":  # the deploy's --check, run against this app as if it were the Space
            result = deploy_check(server, app, tmp_path / "hf-check")
            assert result.returncode == 0, result.stderr
            *_, tools, price = result.stdout.strip().splitlines()
            assert float(price) == examples_prices(app, model_folder)[0]  # through gradio_client and MCP
            assert set(tools.split(",")) >= {"predict", "predict_batch", "model_info", "feedback", "drift"}
    finally:
        app.stop()


def test_the_deploy_check_fails_a_space_without_mcp(hub: tuple[HubServer, dict[str, str]], tmp_path: Path) -> None:
    server, _ = hub
    hide_mcp = "import sys\nsys.modules['mcp'] = None  # a Space whose requirements lack the gradio[mcp] extra"
    app = start_app(app_env(server, tmp_path / "hf", revision="v1"), workdir=tmp_path, prelude=hide_mcp)
    try:
        result = deploy_check(server, app, tmp_path / "hf-check")
    finally:
        app.stop()
    assert result.returncode != 0
    assert "ModelRepoError: The Space's MCP server" in result.stderr, result.stderr[-2000:]


def test_offline_start_serves_the_cached_revision_and_says_so(
    hub: tuple[HubServer, dict[str, str]], tmp_path: Path
) -> None:
    server, commits = hub
    env = app_env(server, tmp_path / "hf", revision="production")
    start_app(env, workdir=tmp_path).stop()  # fills the cache
    server.set_offline(True)
    try:
        app = start_app(env, workdir=tmp_path)
        try:
            info = served(app)
            assert (info["model_version"], info["model_commit"], info["offline"]) == ("v2", commits["v2"], True)
            assert "Hub unreachable: served from the local Hugging Face cache" in app.output()
        finally:
            app.stop()
        cold = run_app_until_exit(app_env(server, tmp_path / "empty-cache", revision="production"), workdir=tmp_path)
        assert cold.returncode == 1 and cold.stderr.startswith("error: ") and len(cold.stderr.strip().splitlines()) == 1
    finally:
        server.set_offline(False)


@pytest.mark.parametrize(
    ("revision", "token", "message"),
    [
        ("production", None, "HF_TOKEN"),
        ("production", "hf_bad_token", "401"),
        ("v9", READ, "v9"),
        ("v3", READ, "outside the allowlist: tests.integration.test_serve_from_hub.triple"),
        ("v4", READ, "failed verification: schema.json has sha256"),
    ],
    ids=["private-without-token", "bad-token", "missing-revision", "untrusted-type", "tampered-file"],
)
def test_refusals_are_one_clear_line(
    hub: tuple[HubServer, dict[str, str]], tmp_path: Path, revision: str, token: str | None, message: str
) -> None:
    server, _ = hub
    result = run_app_until_exit(app_env(server, tmp_path / "hf", revision=revision, token=token), workdir=tmp_path)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "hf_" not in lines[0], "a token must never be printed"
