"""A client for the app's MCP tools (streamable HTTP), callable from synchronous code.

The deploy check uses it to list a Space's tools and price through them; the tests use it against the live app.
It needs the `mcp` package that the `gradio[mcp]` extra installs.
"""

from __future__ import annotations

import ast
import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx


class ToolError(RuntimeError):
    """An MCP tool answered with an error (its message is the error's)."""


async def _session(
    url: str, action: str, arguments: dict[str, Any] | None, *, tool: str, headers: dict[str, str] | None
) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx.AsyncClient(headers=headers or {}, timeout=60) as http:
        async with streamable_http_client(f"{url.rstrip('/')}/gradio_api/mcp/", http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                if action == "list":
                    return (await session.list_tools()).tools
                return await session.call_tool(tool, arguments or {})


def run_async(coroutine: Any) -> Any:
    """Run in a thread of its own: Playwright's sync API may already run an event loop in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def list_tools(url: str, *, headers: dict[str, str] | None = None) -> Any:
    """The tools the app at `url` offers (each with `.name`, `.description` and `.inputSchema`)."""
    return run_async(_session(url, "list", None, tool="", headers=headers))


def call_tool(url: str, tool: str, arguments: dict[str, Any], *, headers: dict[str, str] | None = None) -> Any:
    """The raw result (check `isError`)."""
    return run_async(_session(url, "call", arguments, tool=tool, headers=headers))


def call_predict(url: str, house: dict[str, Any], *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Price one house through the `predict` tool; raises ToolError with the tool's message if it refuses."""
    return call_for_dict(url, "predict", {"house": house}, headers=headers)


def call_for_dict(
    url: str, tool: str, arguments: dict[str, Any], *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Call a tool that returns a dict; raises ToolError with the tool's message if it refuses."""
    result = call_tool(url, tool, arguments, headers=headers)
    if result.isError:
        raise ToolError(" ".join(getattr(block, "text", "") for block in result.content) or "the tool failed")
    # Gradio's MCP server renders a dict result as its Python literal in one text block.
    answer: dict[str, Any] = ast.literal_eval(result.content[0].text)
    return answer
