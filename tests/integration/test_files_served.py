"""The app hands out the card and its plots and nothing else of the model repository, and names no server path.

Regression: `allowed_paths` was the whole snapshot, so `/gradio_api/file=` served `model.skops`, the manifest and
every other file of a possibly private model, and the page printed the folder's absolute path.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from modelrepo import CARD_FILE, IMAGES_DIR, Snapshot
from tests.conftest import API_TOKEN
from tests.live import LiveApp


def file_routes(path: Path, workdir: Path) -> list[str]:
    """Every way of asking Gradio's file route for `path`: absolute, relative, with `..`, percent-encoded."""
    absolute = str(path.resolve())
    relative = os.path.relpath(absolute, workdir)
    dotted = f"{path.parent.resolve()}/../{path.parent.name}/{path.name}"
    forms = [absolute, relative, dotted, quote(absolute, safe=""), quote(relative, safe=""), quote(dotted, safe="/")]
    return [f"/gradio_api/file={form}" for form in forms]


def snapshot_files(snapshot: Snapshot) -> list[Path]:
    return sorted(path for path in snapshot.folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("guarded", [False, True], ids=["open", "guarded-with-token"])
def test_no_file_of_the_snapshot_comes_out_of_gradios_file_routes(
    guarded: bool, live_app: LiveApp, guarded_app: LiveApp, production: Snapshot
) -> None:
    app = guarded_app if guarded else live_app
    headers = {"Authorization": f"Bearer {API_TOKEN}"} if guarded else {}
    outside = [Path("/etc/passwd"), app.workdir / app.log.name]
    for path in [*snapshot_files(production), *outside]:
        for route in file_routes(path, app.workdir):
            response = httpx.get(f"{app.url}{route}", headers=headers)
            assert response.status_code in (400, 403, 404), (route, response.status_code)
            if guarded:  # and without the token, nothing at all
                assert httpx.get(f"{app.url}{route}").status_code == 401


def test_the_card_and_its_plots_are_served_by_name_and_nothing_else(live_app: LiveApp, production: Snapshot) -> None:
    card = httpx.get(f"{live_app.url}/api/v1/model/card")
    assert card.status_code == 200 and card.text == (production.folder / CARD_FILE).read_text()
    images = sorted((production.folder / IMAGES_DIR).glob("*.png"))
    assert images
    for image in images:
        response = httpx.get(f"{live_app.url}/api/v1/model/images/{image.name}")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert response.content == image.read_bytes()
    for name in ["model.skops", "manifest.json", "..%2Fmodel.skops", "%2E%2E%2Fmanifest.json", "README.md"]:
        assert httpx.get(f"{live_app.url}/api/v1/model/images/{name}").status_code == 404, name


def test_the_plots_need_the_token_when_the_app_is_guarded(guarded_app: LiveApp, production: Snapshot) -> None:
    name = sorted((production.folder / IMAGES_DIR).glob("*.png"))[0].name
    assert httpx.get(f"{guarded_app.url}/api/v1/model/images/{name}").status_code == 401
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    assert httpx.get(f"{guarded_app.url}/api/v1/model/images/{name}", headers=headers).status_code == 200


def test_no_page_or_response_names_a_server_path(live_app: LiveApp, production: Snapshot) -> None:
    secrets = {str(production.folder.resolve()), str(production.folder.resolve().parent), str(live_app.workdir)}
    for route in ["/", "/config", "/gradio_api/info", "/api/v1/model", "/openapi.json", "/api/v1/model/card"]:
        text = httpx.get(f"{live_app.url}{route}").text
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (route, leaked)
    info = httpx.get(f"{live_app.url}/api/v1/model").json()
    assert info["source"] == "local registry"
