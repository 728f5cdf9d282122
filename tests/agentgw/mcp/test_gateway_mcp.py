"""/mcp on the assembled gateway: the ``mcp:`` config (and Claude Desktop's ``mcpServers`` map),
the endpoint driven by the ``mcp`` SDK client, readiness, and config errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.errors import ConfigError
from tests.support.mcp_fixture import http_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    with serve_app(http_app("remote")) as url:
        yield f"{url}/mcp"


def config_yaml(remote: str, dead: str) -> str:
    # mcpServers is pasted as Claude Desktop / Cursor write it (JSON is YAML).
    return f"""
server: {{reload: false}}
mcp:
  servers:
    local: {{command: python, args: [-m, tests.support.mcp_fixture, local], tools: {{exclude: [hang, pid]}}}}
    dead: {{url: "{dead}", timeouts: {{connect: 2}}}}
  mcpServers: {{"remote": {{"url": "{remote}", "headers": {{"X-Key": "upstream-secret"}}}}}}
"""


@pytest.fixture(scope="module")
def gateway_url(remote: str) -> Iterator[str]:
    config = parse_config(config_yaml(remote, f"http://127.0.0.1:{free_port()}/mcp"))
    with serve_app(create_app(config)) as url:
        yield url


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mcp_endpoint_federates_the_configured_servers(gateway_url: str, mode: str) -> None:
    async with Client(f"{gateway_url}/mcp", mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        local = await client.call_tool("local_echo", {"text": "hi"})
        remote = await client.call_tool("remote_add", {"a": 20, "b": 22})
    assert {"local_echo", "local_add", "remote_echo", "remote_add"} <= tools
    assert "local_hang" not in tools and "local_pid" not in tools and "remote_hang" in tools
    assert isinstance(local.content[0], TextContent) and local.content[0].text == "local: hi"
    assert remote.structured_content == {"result": 42}


async def test_readyz_names_a_down_server(gateway_url: str) -> None:
    async with httpx2.AsyncClient() as http:
        ready = await http.get(f"{gateway_url}/readyz")
    body = ready.json()
    # open mode: the gateway stays ready, and says which server is down
    assert ready.status_code == 200
    assert body["mcp_servers"]["local"] == body["mcp_servers"]["remote"] == "ok"
    assert body["mcp_servers"]["dead"].startswith("down: ")


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("""
mcp:
  servers:
    both: {command: x, url: "http://127.0.0.1:1/mcp"}
    neither: {args: [a]}
    bad-url: {url: "ftp://x"}
  mcpServers: {"both": {"command": "y"}}
""")
    text = str(error.value)
    assert "mcp.servers.both: set either command (a stdio server) or url (an HTTP server)" in text
    assert "mcp.servers.neither: set either command" in text
    assert "mcp.servers.bad-url.url: must be an http:// or https:// URL, got 'ftp://x'" in text


def test_claude_desktop_shape_is_accepted_as_is() -> None:
    config = parse_config("""
{"mcp": {"mcpServers": {
  "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
  "github": {"command": "docker", "args": ["run", "-i", "--rm", "ghcr.io/github/github-mcp-server"],
             "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "secret-token"}},
  "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer t"}},
  "legacy": {"url": "https://example.com/sse"}
}}}
""")
    servers = config.mcp.all_servers
    assert list(servers) == ["filesystem", "github", "remote", "legacy"]
    assert servers["legacy"].http_transport == "sse" and servers["remote"].http_transport == "streamable-http"
    assert "secret-token" not in repr(config)


def test_virtual_servers_config_checks_server_names() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("""
mcp:
  servers: {a: {command: x}}
  virtual_servers: {team: {servers: [a, nope]}}
""")
    assert "virtual server 'team' names unknown servers: nope" in str(error.value)


async def test_a_virtual_server_shows_a_subset(remote: str) -> None:
    config = parse_config(f"""
server: {{reload: false}}
mcp:
  servers:
    local: {{command: python, args: [-m, tests.support.mcp_fixture, local]}}
    remote: {{url: "{remote}"}}
  virtual_servers:
    adders: {{tools: ["*_add"]}}
    far: {{servers: [remote]}}
""")
    with serve_app(create_app(config)) as url:
        async with Client(f"{url}/mcp/adders") as adders, Client(f"{url}/mcp/far", mode="legacy") as far:
            assert sorted(t.name for t in (await adders.list_tools()).tools) == ["local_add", "remote_add"]
            far_tools = {t.name for t in (await far.list_tools()).tools}
            assert "remote_echo" in far_tools and not any(n.startswith("local_") for n in far_tools)
            assert (await adders.call_tool("local_add", {"a": 1, "b": 1})).structured_content == {"result": 2}
            with pytest.raises(MCPError):
                await far.call_tool("local_echo", {"text": "not here"})
            with pytest.raises(MCPError):
                await adders.call_tool("local_echo", {"text": "filtered out"})
