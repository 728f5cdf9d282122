"""Real third-party MCP software from npm around the gateway: ``@modelcontextprotocol/server-everything``
as a stdio upstream, and the MCP Inspector CLI as the client.

Needs ``AGENTGW_NODE22`` (a Node 22 binary) and ``AGENTGW_NPM_MCP`` (a ``node_modules`` folder with
``@modelcontextprotocol/server-everything`` and ``@modelcontextprotocol/inspector`` 2.x), installed
outside the repository; without them the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp.client import Client
from mcp_types import TextContent

from agentgw import create_app
from agentgw.config import parse_config
from tests.support.servers import serve_app

NODE = os.environ.get("AGENTGW_NODE22", "")
MODULES = Path(os.environ.get("AGENTGW_NPM_MCP", "/nonexistent"))
EVERYTHING = MODULES / "@modelcontextprotocol/server-everything/dist/index.js"
INSPECTOR = MODULES / "@modelcontextprotocol/inspector/clients/launcher/build/index.js"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def _require() -> None:
    if NODE and Path(NODE).exists() and EVERYTHING.exists() and INSPECTOR.exists():
        return
    message = "set AGENTGW_NODE22 and AGENTGW_NPM_MCP to run the third-party MCP tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    _require()
    config = parse_config(
        json.dumps(
            {
                "server": {"reload": False},
                "mcp": {
                    "servers": {
                        "everything": {"command": NODE, "args": [str(EVERYTHING), "stdio"]},
                        "local": {"command": "python", "args": ["-m", "tests.support.mcp_fixture", "local"]},
                    }
                },
            }
        )
    )
    with serve_app(create_app(config)) as url:
        yield url


def inspector(url: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [NODE, str(INSPECTOR), "--cli", f"{url}/mcp", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_server_everything_through_the_gateway(gateway_url: str, mode: str) -> None:
    async with Client(f"{gateway_url}/mcp", mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        echo = await client.call_tool("everything_echo", {"message": "hi"})
        total = await client.call_tool("everything_get-sum", {"a": 2, "b": 3})
    assert {"everything_echo", "everything_get-sum", "local_add"} <= tools
    assert isinstance(echo.content[0], TextContent) and echo.content[0].text == "Echo: hi"
    assert isinstance(total.content[0], TextContent) and "5" in total.content[0].text


def test_the_inspector_cli_lists_and_calls_tools(gateway_url: str) -> None:
    listed = inspector(gateway_url, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert {"everything_echo", "local_add"} <= names
    called = inspector(
        gateway_url,
        "--method",
        "tools/call",
        "--tool-name",
        "local_add",
        "--tool-arg",
        "a=1",
        "--tool-arg",
        "b=2",
    )
    assert called["structuredContent"] == {"result": 3}
    assert called["isError"] is False
