"""`python -m training.deploy_space` and the model card's "How to use it safely" snippet, against the loopback Hub.

`huggingface_hub` reads HF_ENDPOINT and HF_HOME at import, so every client runs in a fresh interpreter whose
environment points at the server, with its own HF_HOME (its own cache, no saved token).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import gradio
import numpy as np
import pytest
import yaml
from huggingface_hub import SpaceCard

from modelrepo import CARD_FILE, EXAMPLES_FILE, Manifest
from tests.expected import expected_answers
from tests.hubserver import READ_TOKEN, WRITE_TOKEN, HubServer, client_env

ROOT = Path(__file__).resolve().parents[2]
WRITE, READ = WRITE_TOKEN, READ_TOKEN
SPACE, MODEL_REPO = "alice/ames-app", "alice/ames-price"
DEPLOY = ("--space", SPACE, "--model-repo", MODEL_REPO, "--revision", "v1")
GITATTRIBUTES = ".gitattributes"  # made by the Hub with the repo; the real Hub needs it, so a deploy keeps it
PLACEHOLDER = "<user>/<model-repo>"  # the card's repo id when training was not given one

# Refuses every connection and name lookup in the interpreter, then runs the CLI: proof of "no network".
NO_NETWORK = """
import runpy, sys
def _guard(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise RuntimeError(f"network during --dry-run: {event} {args!r}")
sys.addaudithook(_guard)
sys.argv[0] = "deploy_space"
runpy.run_module("training.deploy_space", run_name="__main__", alter_sys=True)
"""


def run(
    command: list[str], hub: HubServer, cwd: Path, *, token: str | None = None, project: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `command` in `cwd` (never the project root) with a fresh HF_HOME under it."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = client_env(hub, cwd / "hf-home", token=token, project=project)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def deploy(hub: HubServer, cwd: Path, *extra: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "training.deploy_space", *DEPLOY, *extra], hub, cwd, token=token)


def expected_space_files() -> dict[str, bytes]:
    """What the Space must hold besides its README: read from the working tree now."""
    paths = [Path("app.py"), Path("requirements.txt")]
    for package in ("serving", "modelrepo"):
        paths += sorted(p.relative_to(ROOT) for p in (ROOT / package).rglob("*.py"))
    return {path.as_posix(): (ROOT / path).read_bytes() for path in paths}


def assert_space_holds_the_app(hub: HubServer) -> None:
    """Exactly the serving app, byte for byte, plus a README whose front matter configures the Space."""
    files = hub.files(SPACE, repo_type="space")
    files.pop(GITATTRIBUTES, None)
    readme = files.pop("README.md").decode("utf-8")
    expected = expected_space_files()
    assert sorted(files) == sorted(expected)
    assert [path for path in expected if files[path] != expected[path]] == []

    front = yaml.safe_load(readme.split("---\n")[1])
    card = SpaceCard(readme).data
    for metadata in (front, card.to_dict()):
        assert metadata["sdk"] == "gradio" and metadata["sdk_version"] == gradio.__version__
        assert metadata["app_file"] == "app.py" and metadata["python_version"] == "3.11"
        assert metadata["models"] == [MODEL_REPO]
        assert {"mcp-server", "tabular-regression", "scikit-learn"} <= set(metadata["tags"])
        assert metadata["suggested_hardware"] == "cpu-basic" and metadata["startup_duration_timeout"] == "30m"


def commit_stale_files(hub: HubServer, cwd: Path) -> None:
    """Commit files no deploy stages, at the top level and inside a shipped package, with the real client."""
    code = f"""
from huggingface_hub import CommitOperationAdd, HfApi
HfApi().create_commit({SPACE!r}, [CommitOperationAdd("notes.txt", b"stale"),
    CommitOperationAdd("serving/retired.py", b"stale = True")], commit_message="stale", repo_type="space")
"""
    result = run([sys.executable, "-c", code], hub, cwd, token=WRITE)
    assert result.returncode == 0, result.stderr


def test_deploy_uploads_exactly_the_app_pins_the_model_and_replaces_stale_files(hub: HubServer, tmp_path: Path) -> None:
    first = deploy(hub, tmp_path / "first", token=WRITE)
    assert first.returncode == 0, first.stderr
    assert "deployed commit " in first.stdout and "(MODEL_REVISION=v1)" in first.stdout
    assert_space_holds_the_app(hub)
    assert hub.space_variables(SPACE) == {"MODEL_REPO": MODEL_REPO, "MODEL_REVISION": "v1"}
    assert hub.space_restarts(SPACE) == 1

    commit_stale_files(hub, tmp_path / "stale")
    assert {"notes.txt", "serving/retired.py"} <= set(hub.files(SPACE, repo_type="space"))
    second = deploy(hub, tmp_path / "second", token=WRITE)
    assert second.returncode == 0, second.stderr
    assert_space_holds_the_app(hub)  # the stale files are gone
    assert hub.space_variables(SPACE) == {"MODEL_REPO": MODEL_REPO, "MODEL_REVISION": "v1"}
    assert hub.space_restarts(SPACE) == 2


@pytest.mark.parametrize(
    ("token", "needles"),
    [(None, ("HF_TOKEN",)), (READ, ("403", "write access"))],
    ids=["no-token", "read-only-token"],
)
def test_deploy_without_write_access_exits_2_with_one_line(
    hub: HubServer, tmp_path: Path, token: str | None, needles: tuple[str, ...]
) -> None:
    result = deploy(hub, tmp_path, token=token)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert any(needle in lines[0] for needle in needles), lines[0]
    assert READ not in result.stderr
    with pytest.raises(KeyError):
        hub.files(SPACE, repo_type="space")  # nothing was created


def test_dry_run_lists_the_staged_files_without_network(hub: HubServer, tmp_path: Path) -> None:
    result = run([sys.executable, "-c", NO_NETWORK, *DEPLOY, "--dry-run"], hub, tmp_path, token=WRITE)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.strip().splitlines()[-1].split(": ", 1)[1].split(", ")
    assert listed == sorted([*expected_space_files(), "README.md"])
    with pytest.raises(KeyError):
        hub.files(SPACE, repo_type="space")


def card_snippet(card: str, *, repo_id: str) -> str:
    """The first Python block under "## How to use it safely", pointed at `repo_id`."""
    section = card.split("\n## How to use it safely\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, "no ```python block under '## How to use it safely'"
    code = match.group(1)
    assert code.count(PLACEHOLDER) == 1, f"expected the repo id placeholder {PLACEHOLDER!r} once in:\n{code}"
    return code.replace(PLACEHOLDER, repo_id)


def printed_arrays(stdout: str) -> list[np.ndarray]:
    """Every NumPy array printed (`[182345. 213456. ...]`, possibly wrapped over lines), in order."""
    return [np.array([float(value) for value in text.split()]) for text in re.findall(r"\[([^\]]*)\]", stdout)]


def test_card_snippet_loads_the_published_model_and_prints_its_prices(
    hub: HubServer, model_folder: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(model_folder, tmp_path / "model"))
    publish = f"""
from pathlib import Path
from modelrepo.hub import HubStore
store = HubStore.connect({MODEL_REPO!r}, token={WRITE!r}, create=True)
store.promote(store.publish(Path({str(folder)!r}), message="Publish v1"))
"""
    published = run([sys.executable, "-c", publish], hub, tmp_path / "publisher")
    assert published.returncode == 0, published.stderr

    card = (folder / CARD_FILE).read_text(encoding="utf-8")
    code = card_snippet(card, repo_id=MODEL_REPO)
    assert re.search(r'^REPO, REVISION = ".*", "v1"$', code, flags=re.M), "the snippet must load its own version"
    pins = re.search(r"^pip install (.*)$", card, flags=re.M)
    assert pins is not None, "the card has no pip install line"
    trained_with = Manifest.read(folder).library_versions
    assert {f'"{name}=={version}"' for name, version in trained_with.items() if name != "python"} <= set(
        pins.group(1).split()
    )
    # A user's machine: a fresh cache, no token, and not the project on the path (huggingface_hub and skops only).
    result = run([sys.executable, "-c", code], hub, tmp_path / "user", project=False)
    assert result.returncode == 0, f"the card's snippet failed:\n{result.stderr}"
    examples = json.loads((folder / EXAMPLES_FILE).read_text(encoding="utf-8"))
    prices, *ranges = printed_arrays(result.stdout)
    np.testing.assert_array_equal(prices, np.round(examples["predictions"]))
    # Then each range's ends, as the app computes them (to the dollar: NumPy's exp may differ in the last bit).
    answers = expected_answers(folder, examples["rows"])
    assert [line.split(" range:")[0] for line in result.stdout.splitlines() if " range:" in line] == ["80%", "95%"]
    for n, level in enumerate((0.8, 0.95)):
        bands = [next(band for band in answer["intervals"] if band["level"] == level) for answer in answers]
        for printed, end in zip(ranges[2 * n : 2 * n + 2], ("low", "high"), strict=True):
            np.testing.assert_allclose(printed, np.round([band[end] for band in bands]), rtol=0, atol=1)


def test_space_card_short_description_fits_the_hub_limit() -> None:
    from training.deploy_space import MAX_SHORT_DESCRIPTION, space_readme

    front = yaml.safe_load(space_readme(model_repo="alice/ames-price").split("---")[1])
    assert len(front["short_description"]) <= MAX_SHORT_DESCRIPTION
    assert front["python_version"] == "3.11"


def test_the_space_installs_the_mcp_extra() -> None:
    """Regression: the Space's requirements installed plain gradio, so MCP was silently off once deployed."""
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert any(line.startswith("gradio[mcp]") for line in lines)
    assert not any(line.startswith("gradio>") or line == "gradio" for line in lines)
