"""MCP: the `predict` tool, documented, through a real MCP client over streamable HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from modelrepo import EXAMPLES_FILE, Snapshot
from serving import mcp_available
from serving.mcp_client import call_predict, list_tools
from tests.live import LiveApp

needs_mcp = pytest.mark.skipif(not mcp_available(), reason="the gradio[mcp] extra is not installed")


@needs_mcp
def test_predict_tool_is_listed_with_documented_arguments(live_app: LiveApp) -> None:
    tools = {tool.name: tool for tool in list_tools(live_app.url)}
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
    # Both ranges, bit for bit as REST answers them.
    rest = httpx.post(f"{live_app.url}/api/v1/predict", json=examples["rows"][0], timeout=30).json()
    assert [band["level"] for band in result["intervals"]] == [0.8, 0.95]
    assert result["intervals"] == rest["intervals"] and (result["low"], result["high"]) == (rest["low"], rest["high"])


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
