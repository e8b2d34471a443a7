"""Every README example that talks to the app is run against a live app, so the README cannot drift from the code.

The Python examples run statement by statement against an app serving the model `python -m training` ships
(the command itself, run once per session in the background: `tests/shipped.py`); an output the README prints
in comments below a statement must be what the statement returns, numbers compared as printed: rounded to the
decimals shown, within a relative 1e-5 (retrained on another machine or library build, the same model's prices
moved by 3.4e-6: $0.60 in $176,354; a changed model moves them by far more). In the printed output
`{...}` stands for any object, `'4ccf…'` (a few hex digits and an ellipsis) for an id that differs on every run,
and any other text ending in `…` for text that starts that way; in the code, a string like `"4ccf…"` stands for
the request id of the last prediction. Each curl command runs as written (with the app's address) and must answer
200 with a body in its documented format.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_TOKEN
from tests.live import ROOT, LiveApp, start_app

README = ROOT / "README.md"
README_URL = "http://127.0.0.1:7860"
PRICE_NOISE = 1e-5  # how far a printed number may be from the one returned, relative (see the docstring)
ELIDED_ID = re.compile(r"[0-9a-f]{1,8}")
ID_PLACEHOLDER = re.compile(r"""(["'])[0-9a-f]{1,8}…\1""")


def code_blocks(language: str) -> list[str]:
    """The README's fenced `language` blocks that address the app."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    return [block for block in blocks if README_URL in block]


@pytest.fixture(scope="module")
def shipped_app(shipped_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """The app serving what `python -m training` ships, as the README's examples assume."""
    workdir = tmp_path_factory.mktemp("shipped-app")
    app = start_app({"MODEL_REGISTRY": str(shipped_registry)}, workdir=workdir)
    yield app
    app.stop()


def statements(block: str) -> list[tuple[str, str]]:
    """(code, output the README prints below it, or "") for each statement of a block."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in block.splitlines():
        if line.startswith("#") and not pending:
            code, output = found[-1]
            found[-1] = (code, f"{output} {line.lstrip('#').strip()}".strip())
            continue
        pending += line + "\n"
        try:
            ast.parse(pending)
        except SyntaxError:
            continue  # a statement over several lines
        if pending.strip():
            found.append((pending.strip(), ""))
        pending = ""
    assert not pending, f"an example does not parse: {pending}"
    return found


def matches(printed: Any, actual: Any) -> bool:
    if printed == {...}:
        return isinstance(actual, dict)
    if isinstance(printed, str) and printed.endswith("…"):
        prefix = printed[:-1]
        if ELIDED_ID.fullmatch(prefix):
            return isinstance(actual, str) and re.fullmatch(r"[0-9a-f-]+", actual) is not None
        return isinstance(actual, str) and actual.startswith(prefix)
    if isinstance(printed, float):
        decimals = len(repr(printed).partition(".")[2])
        return isinstance(actual, int | float) and math.isclose(round(actual, decimals), printed, rel_tol=PRICE_NOISE)
    if isinstance(printed, dict):
        return (
            isinstance(actual, dict)
            and printed.keys() == actual.keys()
            and all(matches(value, actual[key]) for key, value in printed.items())
        )
    if isinstance(printed, list):
        return isinstance(actual, list) and len(printed) == len(actual) and all(map(matches, printed, actual))
    return bool(printed == actual) and type(printed) is type(actual)


def run_python(block: str, url: str, namespace: dict[str, Any]) -> int:
    """Run a block's statements; returns how many printed outputs were checked."""
    checked = 0
    for code, printed in statements(block.replace(README_URL, url)):
        code = ID_PLACEHOLDER.sub(repr(namespace.get("_last_request_id", "")), code)
        tree = ast.parse(code)
        if isinstance(tree.body[-1], ast.Expr):
            result = eval(compile(ast.Expression(tree.body[-1].value), "README", "eval"), namespace)
        else:
            exec(compile(tree, "README", "exec"), namespace)
            result = None
        if isinstance(result, dict) and "request_id" in result:
            namespace["_last_request_id"] = result["request_id"]
        if printed:
            expected = ast.literal_eval(printed)
            assert matches(expected, result), f"README prints\n  {printed}\nfor\n  {code}\nbut it returns\n  {result}"
            checked += 1
    return checked


def curl_commands(block: str) -> list[list[str]]:
    joined = block.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.startswith("curl ")]


def run_curl(arguments: list[str], url: str, last_request_id: str) -> tuple[int, str]:
    arguments = [
        ID_PLACEHOLDER.sub(json.dumps(last_request_id), os.path.expandvars(argument).replace(README_URL, url))
        for argument in arguments
    ]
    result = subprocess.run([*arguments, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def test_the_readme_python_examples_return_what_it_prints(shipped_app: LiveApp) -> None:
    (block,) = [block for block in code_blocks("python") if "Authorization" not in block]
    namespace: dict[str, Any] = {}
    checked = run_python(block, shipped_app.url, namespace)
    assert checked >= 2  # the price of one house, and a batch with a bad row
    assert namespace["_last_request_id"]


def test_the_readme_curl_examples_answer_as_documented(shipped_app: LiveApp) -> None:
    (block,) = [block for block in code_blocks("bash") if "Authorization" not in block]
    commands = curl_commands(block)
    assert len(commands) >= 8
    status, body = run_curl(commands[0], shipped_app.url, "")
    assert status == 200 and math.isfinite(json.loads(body)["price"])
    last_request_id = json.loads(body)["request_id"]
    for command in commands[1:]:
        status, body = run_curl(command, shipped_app.url, last_request_id)
        path = next(argument for argument in command if argument.startswith("http"))  # the URL
        assert status == 200, f"{shlex.join(command)} answered {status}: {body}"
        if "/api/v1/" in path:
            assert isinstance(json.loads(body), dict)
        elif path.endswith("/metrics"):
            assert "house_price_requests_total" in body


def test_the_readme_access_examples_work_with_the_token(guarded_app: LiveApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", API_TOKEN)
    (curl_block,) = [block for block in code_blocks("bash") if "Authorization" in block]
    for command in curl_commands(curl_block):
        status, body = run_curl(command, guarded_app.url, "")
        assert status == 200 and json.loads(body)["model_version"] == "v1"
    (python_block,) = [block for block in code_blocks("python") if "Authorization" in block]
    namespace: dict[str, Any] = {"API_TOKEN": API_TOKEN}
    exec("from gradio_client import Client", namespace)
    for code, _ in statements(python_block.replace(README_URL, guarded_app.url)):
        client = eval(code, namespace)
        assert client.predict({}, api_name="/predict")["price"] > 0
