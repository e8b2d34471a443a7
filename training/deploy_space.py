"""`python -m training.deploy_space`: deploy the serving app to a Space, wait for it, and check it (MCP tools, prices).

    python -m training.deploy_space --space user/ames-app --model-repo user/ames-price [--wait 900 --check]

The Space gets exactly `app.py`, `serving/`, `modelrepo/`, `requirements.txt` and a README with the Space's
YAML front matter; its variables MODEL_REPO and MODEL_REVISION pin the model. Rolling back:
`python -m training.promote vN --repo ...` (or set MODEL_REVISION to it), then deploy or restart the Space.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import SpaceCardData

from modelrepo import (
    EXAMPLES_FILE,
    MODEL_FILE,
    PRODUCTION_ALIAS,
    ModelRepoError,
    Schema,
    Snapshot,
    load_model,
    to_frame,
)

ROOT = Path(__file__).resolve().parents[1]
SPACE_PACKAGES = ("serving", "modelrepo")
SPACE_FILES = ("app.py", "requirements.txt")
#: The Python that CI tests, not whichever Python happens to run the deploy.
SPACE_PYTHON = "3.11"
#: The Hub refuses a Space card whose short description is longer.
MAX_SHORT_DESCRIPTION = 60


def space_readme(*, model_repo: str, title: str = "Ames house prices") -> str:
    """The Space card: front matter the Hub understands (built with SpaceCardData, not by hand), naming the SDK,
    Python, the model it serves, and what the Hub lists it under (`mcp-server` puts it among the MCP servers)."""
    data = SpaceCardData(
        title=title,
        sdk="gradio",
        sdk_version=importlib.metadata.version("gradio"),  # importing gradio would cost seconds
        python_version=SPACE_PYTHON,
        app_file="app.py",
        license="mit",
        models=[model_repo],
        tags=["mcp-server", "tabular-regression", "scikit-learn"],
        emoji="🏠",
        colorFrom="green",
        colorTo="blue",
        short_description="Estimate a house's sale price: UI, REST, API and MCP",
        suggested_hardware="cpu-basic",
        startup_duration_timeout="30m",
        pinned=False,
    )
    body = (
        f"# {title}\n\nServes [{model_repo}](https://huggingface.co/{model_repo}) at the revision named by the "
        "`MODEL_REVISION` variable (default `production`).\n\n- UI: this page\n- REST: `/docs`\n"
        '- gradio_client: `Client("<this space>").predict({...}, api_name="/predict")`\n- MCP: `/gradio_api/mcp/`\n\n'
        "Roll back by moving the model repo's `production` branch to an older `vN` tag (or setting "
        "`MODEL_REVISION`) and restarting the Space.\n"
    )
    return f"---\n{data.to_yaml()}\n---\n\n{body}"


def stage_space(destination: Path, *, model_repo: str) -> list[str]:
    """Copy what the Space needs (and nothing else: no caches, no tests, no training code)."""
    for name in SPACE_FILES:
        shutil.copy2(ROOT / name, destination / name)
    for package in SPACE_PACKAGES:
        for source in sorted((ROOT / package).rglob("*.py")):
            target = destination / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / "README.md").write_text(space_readme(model_repo=model_repo), encoding="utf-8")
    return sorted(p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file())


#: The tools the Space must offer over MCP (the Gradio API endpoints, one each).
MCP_TOOLS = ("predict", "explain", "predict_batch", "model_info", "feedback", "drift")


@dataclass(frozen=True)
class SpaceCheck:
    """What `--check` saw: the price of the card's first example (the same on every surface) and the MCP tools."""

    price: float
    mcp_tools: tuple[str, ...]


def check_space(
    url: str, *, model_repo: str, revision: str, token: str | None, api_token: str | None = None
) -> SpaceCheck:
    """Price the card's first example through gradio_client and through MCP; both must match the in-process price,
    and the Space must offer every MCP tool."""
    from gradio_client import Client

    from modelrepo.hub import HubStore
    from serving.mcp_client import ToolError, call_predict, list_tools

    snapshot = HubStore.connect(model_repo, token=token).fetch(revision)
    schema = Schema.read(snapshot.folder)
    row = json.loads((snapshot.folder / EXAMPLES_FILE).read_text(encoding="utf-8"))["rows"][0]
    expected = float(load_model(snapshot.folder / MODEL_FILE).predict(to_frame([row], schema))[0])
    headers = {"Authorization": f"Bearer {api_token}"} if api_token else None  # a Space guarded by API_TOKEN
    client = Client(url, token=token, headers=headers, verbose=False)
    _same_price("gradio_client", client.predict(row, api_name="/predict"), expected, model_repo, revision, snapshot)
    mcp_headers = dict(client.headers)  # the same credentials: the Hub's for a private Space, the app's token
    try:
        tools = tuple(sorted(tool.name for tool in list_tools(client.src, headers=mcp_headers)))
        missing = sorted(set(MCP_TOOLS) - set(tools))
        if missing:
            raise ModelRepoError(
                f"The Space's MCP server lacks the tools {', '.join(missing)} (it offers: {', '.join(tools) or 'none'})"
                "; is the gradio[mcp] extra in its requirements.txt?"
            )
        served = call_predict(client.src, row, headers=mcp_headers)
    except (ToolError, OSError, ExceptionGroup) as error:  # the MCP client's task group wraps connection errors
        raise ModelRepoError(
            f"The Space's MCP server at {client.src}gradio_api/mcp/ failed: {_innermost(error)}; is the gradio[mcp]"
            " extra in its requirements.txt?"
        ) from error
    _same_price("MCP", served, expected, model_repo, revision, snapshot)
    return SpaceCheck(expected, tools)


def _innermost(error: BaseException) -> str:
    """The first real error inside (nested) exception groups, named with its type."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"


def _same_price(
    surface: str, served: dict[str, Any], expected: float, model_repo: str, revision: str, snapshot: Snapshot
) -> None:
    if not math.isclose(served["price"], expected, rel_tol=1e-9) or served["model_commit"] != snapshot.version.commit:
        raise ModelRepoError(
            f"Through {surface} the Space answered ${served['price']:,.2f} from commit {served['model_commit']}, "
            f"but {model_repo}@{revision} predicts ${expected:,.2f} at {snapshot.version.commit}."
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.deploy_space", description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", required=True, help="Space repo id, user/name (created if missing)")
    parser.add_argument("--model-repo", required=True, help="model repo id the Space serves, user/name")
    parser.add_argument("--revision", default=PRODUCTION_ALIAS, help="model revision to pin (default: %(default)s)")
    parser.add_argument("--private", action="store_true", help="create the Space as private")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait until the Space runs")
    parser.add_argument(
        "--check",
        action="store_true",
        help="after --wait, list the MCP tools and compare one price (gradio_client and MCP) with the in-process model",
    )
    parser.add_argument("--space-url", default=None, help="URL to check instead of the Space's own (for tests)")
    parser.add_argument(
        "--log-repo", default=None, metavar="OWNER/NAME", help="Hub dataset the Space pushes its prediction log to"
    )
    parser.add_argument("--dry-run", action="store_true", help="stage the files and print them, upload nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    token = os.environ.get("HF_TOKEN") or None
    with tempfile.TemporaryDirectory() as folder:
        files = stage_space(Path(folder), model_repo=args.model_repo)
        print(f"staged {len(files)} files for Space {args.space}: {', '.join(files)}")
        if args.dry_run:
            return 0
        if token is None:
            print(
                f"error: A Hugging Face token is needed to deploy {args.space}: set HF_TOKEN or run `hf auth login`.",
                file=sys.stderr,
            )
            return 2
        try:
            return _deploy(args, Path(folder), token)
        except ModelRepoError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2


def _deploy(args: argparse.Namespace, folder: Path, token: str | None) -> int:
    from huggingface_hub import HfApi

    from modelrepo.space import deploy_space, wait_until_running

    api = HfApi(token=token)
    # A private model needs a token inside the Space: a separate read-only one, never the deployer's own.
    # SPACE_API_TOKEN, when set, guards the Space (its API_TOKEN secret) and is sent by --check.
    space_token = os.environ.get("SPACE_HF_TOKEN") or None
    api_token = os.environ.get("SPACE_API_TOKEN") or None
    secrets = ({"HF_TOKEN": space_token} if space_token else {}) | ({"API_TOKEN": api_token} if api_token else {})
    variables = {"MODEL_REPO": args.model_repo, "MODEL_REVISION": args.revision}
    if args.log_repo:  # the Space's disk is lost on restart: the log lives in this dataset (needs a write token)
        variables["PREDICTION_LOG_REPO"] = args.log_repo
    deployment = deploy_space(
        api, args.space, folder=folder, variables=variables, secrets=secrets, private=args.private
    )
    print(f"deployed commit {deployment.commit} to {deployment.url} (MODEL_REVISION={args.revision})")
    if args.wait:
        wait_until_running(api, args.space, timeout=args.wait)
    if args.check:
        check = check_space(
            args.space_url or args.space,
            model_repo=args.model_repo,
            revision=args.revision,
            token=token,
            api_token=api_token,
        )
        print(f"MCP tools: {', '.join(check.mcp_tools)}")
        print(
            f"check passed: gradio_client, MCP and the in-process model all price the first example at "
            f"${check.price:,.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
