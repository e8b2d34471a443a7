"""Deploy the serving app to a Hugging Face Space and wait for it: the Space's Hub calls, in one place.

The Space holds only what serving needs (`app.py`, `serving/`, `modelrepo/`, `requirements.txt`) plus a
README whose YAML front matter configures it; variables name the model repo and revision, so rolling back
is moving the alias (or the variable) and restarting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from .errors import StoreAccessError, StoreUnavailableError

_FAILED_STAGES = {"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "DELETING", "STOPPED", "PAUSED"}


@dataclass(frozen=True)
class Deployment:
    space_id: str
    commit: str
    url: str
    files: list[str]


def deploy_space(
    api: HfApi,
    space_id: str,
    *,
    folder: Path,
    variables: Mapping[str, str],
    secrets: Mapping[str, str] | None = None,
    private: bool = False,
) -> Deployment:
    """Upload `folder` as the Space's whole content (stale files are deleted), set variables, restart."""
    try:
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=space_id,
            repo_type="space",
            folder_path=folder,
            commit_message="Deploy the serving app",
            delete_patterns=["*", "**/*"],
        )
        for key, value in variables.items():
            api.add_space_variable(space_id, key, value)
        for key, value in (secrets or {}).items():
            api.add_space_secret(space_id, key, value)
        api.restart_space(space_id)
    except HfHubHTTPError as error:
        raise _access_error(error, space_id) from error
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return Deployment(space_id=space_id, commit=info.oid, url=f"{api.endpoint}/spaces/{space_id}", files=files)


def wait_until_running(
    api: HfApi, space_id: str, *, timeout: float, poll: float = 10.0, progress: Callable[[str], None] = print
) -> str:
    """Poll the Space's runtime until it runs; a build or runtime error stops the wait at once.

    Raises:
        StoreUnavailableError: the Space failed, or did not run within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    stage = "unknown"
    while time.monotonic() < deadline:
        stage = str(api.get_space_runtime(space_id).stage)
        stage = stage.split(".")[-1]
        progress(f"space {space_id}: {stage}")
        if stage == "RUNNING":
            return stage
        if stage in _FAILED_STAGES:
            raise StoreUnavailableError(
                f"Space {space_id} is {stage}; read its logs on the Hub, fix, and deploy again."
            )
        time.sleep(poll)
    raise StoreUnavailableError(f"Space {space_id} was still {stage} after {timeout:.0f} s; check its build logs.")


def _access_error(error: HfHubHTTPError, space_id: str) -> Exception:
    status = error.response.status_code if error.response is not None else None
    if status == 401:
        return StoreAccessError("The Hub refused the token (401). Set a valid HF_TOKEN or run `hf auth login`.")
    if status == 403:
        return StoreAccessError(f"The token cannot write to Space {space_id} (403). Use a token with write access.")
    return StoreUnavailableError(f"The Hub failed while deploying {space_id}: {error}")
