"""The gateway's own failures, in A2A's form for each binding (spec 1.0 sections 5.4, 9.5, 11.6)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from a2a.client import ClientConfig, create_client
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, Role, SendMessageRequest
from a2a.utils.errors import InternalError, MethodNotFoundError, VersionNotSupportedError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.a2a.conftest import Agents
from tests.support.servers import serve_app

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
SEND = {
    "jsonrpc": "2.0",
    "id": "req-1",
    "method": "SendMessage",
    "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
}
V1 = {"A2A-Version": "1.0"}


def rpc_error(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 200  # JSON-RPC errors ride on 200, as the reference server sends them
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    error: dict[str, Any] = body["error"]
    assert error["data"][0]["@type"] == ERROR_INFO
    return {
        "id": body["id"],
        **error,
        "reason": error["data"][0]["reason"],
        "domain": error["data"][0]["domain"],
    }


def rest_error(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == status
    assert error["details"][0]["@type"] == ERROR_INFO
    return {**error, "reason": error["details"][0]["reason"], "domain": error["details"][0]["domain"]}


def test_unknown_agent(gateway_url: str) -> None:
    error = rpc_error(httpx2.post(f"{gateway_url}/a2a/nobody", json=SEND, headers=V1))
    assert (error["id"], error["code"], error["reason"]) == ("req-1", -32601, "AGENT_NOT_FOUND")
    assert error["message"] == "no agent named 'nobody' is configured"
    error = rest_error(httpx2.get(f"{gateway_url}/a2a/nobody/tasks", headers=V1), 404)
    assert (error["status"], error["reason"], error["domain"]) == ("NOT_FOUND", "AGENT_NOT_FOUND", "agentgw")
    rest_error(httpx2.get(f"{gateway_url}/a2a/nobody/.well-known/agent-card.json"), 404)


def test_unreachable_agent(gateway_url: str) -> None:
    error = rpc_error(httpx2.post(f"{gateway_url}/a2a/dead", json=SEND, headers=V1))
    assert (error["code"], error["reason"], error["domain"]) == (-32603, "UPSTREAM_UNREACHABLE", "agentgw")
    assert error["message"].startswith("agent 'dead' is unreachable")
    assert error["data"][0]["metadata"] == {"agent": "dead"}
    error = rest_error(
        httpx2.post(f"{gateway_url}/a2a/dead/message:send", json=SEND["params"], headers=V1), 502
    )
    assert error["status"] == "UNAVAILABLE"
    rest_error(httpx2.get(f"{gateway_url}/a2a/dead/.well-known/agent-card.json"), 502)


def test_agent_refusing_the_gateways_credential_is_not_the_clients_401(gateway_url: str) -> None:
    error = rpc_error(httpx2.post(f"{gateway_url}/a2a/keyless", json=SEND, headers=V1))
    assert (error["code"], error["reason"]) == (-32603, "UPSTREAM_STATUS")
    assert "HTTP 401" in error["message"]
    assert error["data"][0]["metadata"] == {"agent": "keyless", "status": "401"}
    error = rest_error(httpx2.get(f"{gateway_url}/a2a/keyless/tasks", headers=V1), 502)
    assert error["reason"] == "UPSTREAM_STATUS"


@pytest.mark.parametrize(
    ("body", "request_id", "code", "reason"),
    [
        (b'{"jsonrpc": "2.0", "id": 5, "method": "Send', None, -32700, "INVALID_JSON"),
        (b'[{"jsonrpc": "2.0", "id": 5, "method": "GetTask"}]', None, -32600, "INVALID_REQUEST"),
        (b'{"id": 5, "method": "GetTask", "params": {}}', 5, -32600, "INVALID_REQUEST"),
        (b'{"jsonrpc": "2.0", "id": 5, "params": {}}', 5, -32600, "INVALID_REQUEST"),
        (
            b'{"jsonrpc": "2.0", "id": 5, "method": "tasks/destroy", "params": {}}',
            5,
            -32601,
            "METHOD_NOT_FOUND",
        ),
        (b'{"jsonrpc": "2.0", "id": "x", "method": "GetTask", "params": [1]}', "x", -32602, "INVALID_PARAMS"),
        (
            b'{"jsonrpc": "2.0", "id": 5, "method": "GetTask", "params": {"id": "' + b"x" * 5000 + b'"}}',
            None,
            -32600,
            "REQUEST_TOO_LARGE",
        ),
    ],
)
def test_malformed_json_rpc(gateway_url: str, body: bytes, request_id: Any, code: int, reason: str) -> None:
    response = httpx2.post(
        f"{gateway_url}/a2a/echo", content=body, headers={**V1, "content-type": "application/json"}
    )
    error = rpc_error(response)
    assert (error["id"], error["code"], error["reason"]) == (request_id, code, reason)


def test_unsupported_version_in_both_bindings(gateway_url: str) -> None:
    error = rpc_error(httpx2.post(f"{gateway_url}/a2a/echo", json=SEND, headers={"A2A-Version": "2.1"}))
    assert (error["code"], error["reason"], error["domain"]) == (
        -32009,
        "VERSION_NOT_SUPPORTED",
        "a2a-protocol.org",
    )
    assert "supported: 1.0, 0.3" in error["message"]
    error = rest_error(httpx2.get(f"{gateway_url}/a2a/task/tasks?A2A-Version=banana"), 400)
    assert (error["status"], error["reason"]) == ("FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED")


def test_not_an_a2a_operation(gateway_url: str) -> None:
    error = rest_error(httpx2.post(f"{gateway_url}/a2a/task/admin/shutdown", headers=V1), 404)
    assert (error["reason"], error["domain"]) == ("METHOD_NOT_FOUND", "a2a-protocol.org")
    rest_error(httpx2.delete(f"{gateway_url}/a2a/task/tasks/abc", headers=V1), 404)
    error = rest_error(httpx2.get(f"{gateway_url}/a2a/task"), 405)
    assert error["reason"] == "METHOD_NOT_ALLOWED"


@pytest.mark.anyio
async def test_the_sdk_client_raises_the_gateways_errors(gateway_url: str) -> None:
    def card(agent: str, version: str = "1.0") -> AgentCard:
        interface = AgentInterface(
            url=f"{gateway_url}/a2a/{agent}", protocol_binding="JSONRPC", protocol_version=version
        )
        return AgentCard(
            name=agent, supported_interfaces=[interface], capabilities=AgentCapabilities(streaming=False)
        )

    request = SendMessageRequest(message=new_text_message("hi", role=Role.ROLE_USER))
    config = ClientConfig(streaming=False)
    async with await create_client(card("dead"), client_config=config) as client:
        with pytest.raises(InternalError, match="agent 'dead' is unreachable"):
            await anext(client.send_message(request))
    async with await create_client(card("nobody"), client_config=config) as client:
        with pytest.raises(MethodNotFoundError, match="no agent named 'nobody'"):
            await anext(client.send_message(request))
    async with await create_client(card("echo"), client_config=config) as client:
        client._transport.httpx_client.headers["A2A-Version"] = "3.0"  # type: ignore[attr-defined]
        with pytest.raises(VersionNotSupportedError):
            await anext(client.send_message(request))


def test_an_agent_answering_something_else_than_a2a(agents: Agents) -> None:
    async def html(request: Request) -> Response:
        return HTMLResponse("<html>bad gateway from a proxy</html>", status_code=502)

    async def moved(request: Request) -> Response:
        return RedirectResponse("http://elsewhere.internal/", status_code=307)

    broken = Starlette(routes=[Route("/", html, methods=["POST"]), Route("/rest/tasks", moved)])
    with serve_app(broken) as agent_url:
        text = f'server: {{reload: false}}\na2a: {{agents: {{odd: {{url: "{agent_url}", rest_url: "{agent_url}/rest"}}}}}}'
        with serve_app(create_app(parse_config(text))) as url:
            error = rpc_error(httpx2.post(f"{url}/a2a/odd", json=SEND, headers=V1))
            assert (error["code"], error["reason"]) == (-32603, "UPSTREAM_STATUS")
            assert (
                error["message"] == "upstream 'odd' answered HTTP 502: <html>bad gateway from a proxy</html>"
            )
            redirect = httpx2.get(f"{url}/a2a/odd/tasks", headers=V1)
            error = rest_error(redirect, 502)
            assert error["details"][0]["metadata"] == {"agent": "odd", "status": "307"}
            assert "location" not in redirect.headers
