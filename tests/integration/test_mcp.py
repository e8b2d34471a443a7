"""MCP: the `predict` tool, documented, through a real MCP client over streamable HTTP."""

from __future__ import annotations

import ast
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from modelrepo import EXAMPLES_FILE, Snapshot
from serving import mcp_available
from tests.live import LiveApp

needs_mcp = pytest.mark.skipif(not mcp_available(), reason="the gradio[mcp] extra is not installed")


async def _session(url: str, action: str, arguments: dict[str, Any] | None = None) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(f"{url}/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            if action == "list":
                return (await session.list_tools()).tools
            return await session.call_tool("predict", arguments or {})


def run_async(coroutine: Any) -> Any:
    """Run in a thread of its own: Playwright's sync API may already run an event loop in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def call_predict(url: str, house: dict[str, Any]) -> dict[str, Any]:
    result = run_async(_session(url, "call", {"house": house}))
    assert not result.isError, result.content
    # Gradio's MCP server renders a dict result as its Python literal in one text block.
    house_result: dict[str, Any] = ast.literal_eval(result.content[0].text)
    return house_result


@needs_mcp
def test_predict_tool_is_listed_with_documented_arguments(live_app: LiveApp) -> None:
    tools = {tool.name: tool for tool in run_async(_session(live_app.url, "list"))}
    assert {"predict", "predict_batch", "model_info"} <= set(tools)
    predict = tools["predict"]
    assert "sale price" in (predict.description or "")
    assert "house" in predict.inputSchema["properties"]
    assert "Omitted features take" in json.dumps(predict.inputSchema)


@needs_mcp
def test_predict_tool_prices_a_house(live_app: LiveApp, production: Snapshot) -> None:
    examples = json.loads((production.folder / EXAMPLES_FILE).read_text())
    result = call_predict(live_app.url, examples["rows"][0])
    assert result["price"] == examples["predictions"][0] and result["model_version"] == "v1"


def test_without_the_mcp_extra_the_app_serves_and_says_mcp_is_off(registry, tmp_path) -> None:  # noqa: ANN001
    import httpx

    from tests.live import start_app

    hide_mcp = "import sys\nsys.modules['mcp'] = None  # as if the gradio[mcp] extra were not installed"
    app = start_app({"MODEL_REGISTRY": str(registry.root)}, workdir=tmp_path, prelude=hide_mcp)
    try:
        assert "MCP       off (install the gradio[mcp] extra to turn it on)" in app.output()
        assert httpx.post(f"{app.url}/api/v1/predict", json={}).status_code == 200
        assert httpx.get(f"{app.url}/gradio_api/mcp/").status_code == 404
    finally:
        app.stop()
