"""Limits on /mcp (through the ``mcp`` SDK client) and on the A2A routes: JSON-RPC and A2A refusals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import httpx2
import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.errors import A2AError
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import Role, SendMessageRequest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentgw import create_app
from agentgw.auth.api_keys import hash_key
from agentgw.config import parse_config
from agentgw.limits.errors import LIMIT_EXCEEDED
from tests.agentgw.a2a.conftest import Agents, agents, gateway_yaml  # noqa: F401 (the agents fixture)
from tests.support.mcp_fixture import http_app
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio

KEYS = {"alice": "sk-alice", "bob": "sk-bob"}
AUTH = f"""
auth:
  api_keys:
    - {{name: alice, key_sha256: {hash_key(KEYS["alice"])}, roles: [user], team: platform}}
    - {{name: bob, key_sha256: {hash_key(KEYS["bob"])}, roles: [user], team: platform}}
rbac:
  roles:
    user: {{allow: {{tools: ["*"], agents: ["*"]}}}}
"""


@pytest.fixture
def mcp_gateway() -> Iterator[str]:
    with serve_app(http_app("remote")) as remote:
        config = parse_config(f"""
server: {{reload: false}}
mcp:
  prefix: always
  servers:
    remote: {{url: "{remote}/mcp"}}
accounting: {{enabled: false, prices: {{tools: {{remote_add: 1.0}}}}}}
limits:
  rate_limits: [{{scope: key, requests_per_minute: 4, kinds: [mcp]}}]
  budgets: [{{scope: team, period: day, cost_usd: 2, kinds: [mcp]}}]
{AUTH}""")
        with serve_app(create_app(config)) as url:
            yield url


@contextlib.asynccontextmanager
async def mcp_client(url: str, who: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"x-api-key": KEYS[who]}, timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as mcp,
    ):
        yield mcp


async def test_mcp_tool_calls_over_a_limit_are_json_rpc_errors(mcp_gateway: str) -> None:
    async with mcp_client(mcp_gateway, "alice") as alice:
        results = await asyncio.gather(
            *(alice.call_tool("remote_echo", {"text": str(i)}) for i in range(9)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, MCPError)]
        assert len(refused) == 5 and len(results) - len(refused) == 4
        error = refused[0].error
        assert error.code == LIMIT_EXCEEDED
        assert "Rate limit reached for requests per minute for key 'alice'" in error.message
        assert error.data["type"] == "rate_limit_exceeded"
        assert error.data["limit"] == 4 and 1 <= error.data["retry_after_s"] <= 60


async def test_a_money_budget_counts_priced_tool_calls(mcp_gateway: str) -> None:
    async with mcp_client(mcp_gateway, "alice") as alice, mcp_client(mcp_gateway, "bob") as bob:
        assert (await alice.call_tool("remote_add", {"a": 1, "b": 2})).structured_content == {"result": 3}
        assert (await bob.call_tool("remote_add", {"a": 1, "b": 2})).structured_content == {"result": 3}
        with pytest.raises(MCPError) as spent:  # $2 a day for the team, $1 a call: bob spent the rest
            await bob.call_tool("remote_add", {"a": 1, "b": 2})
        assert spent.value.error.code == LIMIT_EXCEEDED
        assert spent.value.error.data["type"] == "insufficient_quota"
        assert spent.value.error.data["scope"] == "team" and spent.value.error.data["value"] == "platform"
        await bob.call_tool("remote_echo", {"text": "free"})  # an unpriced tool costs nothing


@pytest.fixture
def a2a_gateway(agents: Agents) -> Iterator[str]:  # noqa: F811
    limits = "limits: {rate_limits: [{scope: principal, requests_per_minute: 2, kinds: [a2a]}]}"
    with serve_app(create_app(parse_config(gateway_yaml(agents, extra=AUTH + limits)))) as url:
        yield url


def send(url: str, agent: str, who: str) -> httpx2.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "SendMessage",
        "params": {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
    }
    headers = {"x-api-key": KEYS[who], "a2a-version": "1.0"}
    return httpx2.post(f"{url}/a2a/{agent}", json=body, headers=headers, timeout=10)


def test_a2a_requests_over_a_limit_are_refused_in_a2a_form(a2a_gateway: str) -> None:
    assert "result" in send(a2a_gateway, "echo", "alice").json()
    assert "result" in send(a2a_gateway, "echo", "alice").json()
    refused = send(a2a_gateway, "echo", "alice")
    assert refused.status_code == 200  # JSON-RPC binding: errors travel in a 200
    error = refused.json()["error"]
    assert refused.json()["id"] == 7
    assert error["code"] == LIMIT_EXCEEDED
    assert error["data"][0]["reason"] == "RATE_LIMIT_EXCEEDED" and error["data"][0]["domain"] == "agentgw"
    assert "result" in send(a2a_gateway, "echo", "bob").json()  # bob has his own minute
    rest = httpx2.post(
        f"{a2a_gateway}/a2a/task/message:send",
        json={"message": {"messageId": "m2", "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
        headers={"x-api-key": KEYS["alice"], "a2a-version": "1.0"},
        timeout=10,
    )
    assert rest.status_code == 429
    assert rest.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert 1 <= int(rest.headers["retry-after"]) <= 60
    assert rest.headers["x-ratelimit-remaining-requests"] == "0"


async def test_the_a2a_sdk_client_sees_the_refusal(a2a_gateway: str) -> None:
    async with httpx.AsyncClient(headers={"x-api-key": KEYS["alice"]}, timeout=10) as http:
        config = ClientConfig(streaming=False, supported_protocol_bindings=["JSONRPC"], httpx_client=http)
        async with await create_client(f"{a2a_gateway}/a2a/echo", client_config=config) as client:
            request = SendMessageRequest(message=new_text_message("hi", role=Role.ROLE_USER))
            for _ in range(2):
                assert [event async for event in client.send_message(request)]
            with pytest.raises(A2AError) as refused:
                [event async for event in client.send_message(request)]
    assert "Rate limit reached" in str(refused.value)
