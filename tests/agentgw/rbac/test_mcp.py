"""RBAC on /mcp through the ``mcp`` SDK client: tools, prompts and resources filtered and refused per
principal, a condition on tool arguments, and no client credential upstream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentgw import create_app
from agentgw.auth.api_keys import hash_key
from agentgw.config import parse_config
from tests.support.mcp_fixture import http_app
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio

KEYS = {"alice": "sk-alice", "bob": "sk-bob", "carol": "sk-carol"}
FORBIDDEN = -32011


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    with serve_app(http_app("remote")) as url:
        yield f"{url}/mcp"


@pytest.fixture(scope="module")
def gateway_url(remote: str) -> Iterator[str]:
    config = parse_config(f"""
server: {{reload: false}}
mcp:
  prefix: always
  servers:
    local: {{command: python, args: [-m, tests.support.mcp_fixture, local]}}
    remote: {{url: "{remote}"}}
auth:
  api_keys:
    - {{name: alice, key_sha256: {hash_key(KEYS["alice"])}, roles: [local-user]}}
    - {{name: bob, key_sha256: {hash_key(KEYS["bob"])}, roles: [small-adder]}}
    - {{name: carol, key_sha256: {hash_key(KEYS["carol"])}, roles: [admin]}}
rbac:
  roles:
    local-user:
      allow: {{tools: ["local/*"], prompts: ["local/*"], resources: ["local/fixture://info"]}}
      deny: {{tools: ["*/hang", "*/pid", "*/fail"]}}
    small-adder:
      allow:
        - tools: ["remote/add"]
          when: 'request.arguments.a < 100 && request.arguments.b < 100'
        - {{tools: ["remote/echo"]}}
    admin:
      allow: {{tools: ["*"], prompts: ["*"], resources: ["*"]}}
""")
    with serve_app(create_app(config)) as url:
        yield url


@contextlib.asynccontextmanager
async def client(url: str, who: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"x-api-key": KEYS[who]}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as mcp,
    ):
        yield mcp


async def tool_names(url: str, who: str) -> set[str]:
    async with client(url, who) as mcp:
        return {t.name for t in (await mcp.list_tools()).tools}


async def test_tools_list_shows_only_allowed_tools(gateway_url: str) -> None:
    alice = await tool_names(gateway_url, "alice")
    assert "local_echo" in alice and "local_add" in alice
    assert not {"local_hang", "local_pid", "local_fail"} & alice
    assert not any(name.startswith("remote_") for name in alice)
    assert await tool_names(gateway_url, "bob") == {"remote_add", "remote_echo"}
    carol = await tool_names(gateway_url, "carol")
    assert {"local_hang", "remote_hang", "local_echo", "remote_add"} <= carol


async def test_prompts_and_resources_are_filtered(gateway_url: str) -> None:
    async with client(gateway_url, "alice") as mcp:
        assert [p.name for p in (await mcp.list_prompts()).prompts] == ["local_greet"]
        assert [r.uri for r in (await mcp.list_resources()).resources] == ["local+fixture://info"]
    async with client(gateway_url, "bob") as mcp:
        assert (await mcp.list_prompts()).prompts == []
        assert (await mcp.list_resources()).resources == []


async def test_calls_outside_the_rules_are_refused(gateway_url: str) -> None:
    async with client(gateway_url, "alice") as mcp:
        echoed = await mcp.call_tool("local_echo", {"text": "hi"})
        assert echoed.content[0].text == "local: hi"  # type: ignore[union-attr]
        with pytest.raises(MCPError):  # hidden: reported as unknown
            await mcp.call_tool("remote_echo", {"text": "hi"})
    async with client(gateway_url, "carol") as mcp:
        assert (await mcp.call_tool("remote_add", {"a": 500, "b": 1})).structured_content == {"result": 501}


async def test_condition_on_tool_arguments_allows_one_call_and_refuses_another(gateway_url: str) -> None:
    async with client(gateway_url, "bob") as mcp:
        assert (await mcp.call_tool("remote_add", {"a": 2, "b": 3})).structured_content == {"result": 5}
        with pytest.raises(MCPError) as refused:
            await mcp.call_tool("remote_add", {"a": 500, "b": 3})
        assert refused.value.error.code == FORBIDDEN
        assert "remote/add" in refused.value.error.message


async def test_mcp_without_credentials_is_401_with_resource_metadata(gateway_url: str) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"{gateway_url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        )
    assert response.status_code == 401
    assert "/.well-known/oauth-protected-resource/mcp" in response.headers["www-authenticate"]
