"""MCP: the `predict` tool, documented, through a real MCP client over streamable HTTP."""

from __future__ import annotations

import ast
import asyncio
import json
from typing import Any

import pytest

from modelrepo import EXAMPLES_FILE, Snapshot
from serving import mcp_available
from tests.live import LiveApp

pytestmark = pytest.mark.skipif(not mcp_available(), reason="the gradio[mcp] extra is not installed")


async def _session(url: str, action: str, arguments: dict[str, Any] | None = None) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(f"{url}/gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            if action == "list":
                return (await session.list_tools()).tools
            return await session.call_tool("predict", arguments or {})


def call_predict(url: str, house: dict[str, Any]) -> dict[str, Any]:
    result = asyncio.run(_session(url, "call", {"house": house}))
    assert not result.isError, result.content
    # Gradio's MCP server renders a dict result as its Python literal in one text block.
    house_result: dict[str, Any] = ast.literal_eval(result.content[0].text)
    return house_result


def test_predict_tool_is_listed_with_documented_arguments(live_app: LiveApp) -> None:
    tools = {tool.name: tool for tool in asyncio.run(_session(live_app.url, "list"))}
    assert {"predict", "predict_batch", "model_info"} <= set(tools)
    predict = tools["predict"]
    assert "sale price" in (predict.description or "")
    assert "house" in predict.inputSchema["properties"]
    assert "Omitted features take" in json.dumps(predict.inputSchema)


def test_predict_tool_prices_a_house(live_app: LiveApp, production: Snapshot) -> None:
    examples = json.loads((production.folder / EXAMPLES_FILE).read_text())
    result = call_predict(live_app.url, examples["rows"][0])
    assert result["price"] == examples["predictions"][0] and result["model_version"] == "v1"
