"""Real third-party MCP software from npm around the gateway: ``@modelcontextprotocol/server-everything``
as an upstream over stdio and over Streamable HTTP (a handshake-era server with sessions), and the MCP
Inspector CLI as the client.

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
from tests.support.servers import free_port, serve_app, wait_for

NODE = os.environ.get("AGENTGW_NODE22", "")
MODULES = Path(os.environ.get("AGENTGW_NPM_MCP", "/nonexistent"))
EVERYTHING = MODULES / "@modelcontextprotocol/server-everything/dist/index.js"
INSPECTOR = MODULES / "@modelcontextprotocol/inspector/clients/launcher/build/index.js"
LOOPBACK = Path(__file__).resolve().parents[2] / "support" / "loopback.cjs"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def _require() -> None:
    if NODE and Path(NODE).exists() and EVERYTHING.exists() and INSPECTOR.exists():
        return
    message = "set AGENTGW_NODE22 and AGENTGW_NPM_MCP to run the third-party MCP tests"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _listening_on_loopback_only(port: int) -> bool:
    """Whether a socket listens on ``port``, and only on 127.0.0.1 (``/proc/net/tcp``, state 0A)."""
    hex_port = f"{port:04X}"
    listeners = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and local.endswith(f":{hex_port}"):
                    listeners.append(local.rsplit(":", 1)[0])
    assert all(address == "0100007F" for address in listeners), listeners
    return bool(listeners)


@pytest.fixture(scope="module")
def everything_http() -> Iterator[str]:
    """server-everything over Streamable HTTP, bound to loopback by a ``--require`` preload."""
    _require()
    port = free_port()
    process = subprocess.Popen(
        [NODE, "--require", str(LOOPBACK), str(EVERYTHING), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: process.poll() is None and _listening_on_loopback_only(port), timeout=30)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def gateway_url(everything_http: str) -> Iterator[str]:
    config = parse_config(
        json.dumps(
            {
                "server": {"reload": False},
                "mcp": {
                    "servers": {
                        "everything": {"command": NODE, "args": [str(EVERYTHING), "stdio"]},
                        "web": {"url": everything_http},
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


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_server_everything_over_streamable_http(gateway_url: str, mode: str) -> None:
    async with Client(f"{gateway_url}/mcp", mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        echo = await client.call_tool("web_echo", {"message": "over http"})
        total = await client.call_tool("web_get-sum", {"a": 20, "b": 22})
    assert {"web_echo", "web_get-sum", "everything_echo", "local_add"} <= tools
    assert isinstance(echo.content[0], TextContent) and echo.content[0].text == "Echo: over http"
    assert isinstance(total.content[0], TextContent) and "42" in total.content[0].text


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
