"""RBAC on the A2A routes, through the a2a-sdk client: agents and skills hidden or refused per principal."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import httpx2
import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.errors import AgentCardResolutionError
from a2a.helpers.proto_helpers import new_text_message
from a2a.types import Role, SendMessageRequest

from agentgw import create_app
from agentgw.auth.api_keys import hash_key
from agentgw.config import parse_config
from tests.agentgw.a2a.conftest import Agents, agents, gateway_yaml  # noqa: F401 (the agents fixture)
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio

KEYS = {"alice": "sk-alice", "bob": "sk-bob", "carol": "sk-carol"}
AUTH = f"""
auth:
  api_keys:
    - {{name: alice, key_sha256: {hash_key(KEYS["alice"])}, roles: [echo-user]}}
    - {{name: bob, key_sha256: {hash_key(KEYS["bob"])}, roles: [task-main]}}
    - {{name: carol, key_sha256: {hash_key(KEYS["carol"])}, roles: [all-agents]}}
rbac:
  roles:
    echo-user: {{allow: {{agents: [echo]}}, deny: {{agents: [echo/echo-extra]}}}}
    task-main: {{allow: {{agents: [task/task-main]}}}}
    all-agents: {{allow: {{agents: ["*"]}}}}
"""


@pytest.fixture(scope="module")
def gateway(agents: Agents) -> Iterator[str]:  # noqa: F811
    with serve_app(create_app(parse_config(gateway_yaml(agents, extra=AUTH)))) as url:
        yield url


def listing(url: str, who: str) -> dict[str, list[str]]:
    response = httpx2.get(f"{url}/a2a", headers={"x-api-key": KEYS[who]})
    assert response.status_code == 200
    return {a["id"]: sorted(s["id"] for s in a.get("skills", [])) for a in response.json()["agents"]}


def test_listing_and_cards_show_only_allowed_agents_and_skills(gateway: str) -> None:
    assert listing(gateway, "alice") == {"echo": ["echo-main"]}
    assert listing(gateway, "bob") == {"task": ["task-main"]}
    assert set(listing(gateway, "carol")) == {"echo", "task", "dead", "keyless"}
    card = httpx2.get(f"{gateway}/a2a/task/.well-known/agent-card.json", headers={"x-api-key": KEYS["alice"]})
    assert card.status_code == 404
    assert httpx2.get(f"{gateway}/a2a").status_code == 401


@pytest.mark.parametrize(("who", "agent", "allowed"), [
    ("alice", "echo", True), ("alice", "task", False),
    ("bob", "task", True), ("bob", "echo", False),
    ("carol", "echo", True), ("carol", "task", True),
])  # fmt: skip
async def test_send_message_through_the_sdk(gateway: str, who: str, agent: str, allowed: bool) -> None:
    async with httpx.AsyncClient(headers={"x-api-key": KEYS[who]}, timeout=10) as http:
        config = ClientConfig(streaming=False, supported_protocol_bindings=["JSONRPC"], httpx_client=http)
        if not allowed:
            # A hidden agent is reported as one that does not exist: its card is a 404.
            with pytest.raises(AgentCardResolutionError, match="404"):
                await create_client(f"{gateway}/a2a/{agent}", client_config=config)
            return
        async with await create_client(f"{gateway}/a2a/{agent}", client_config=config) as client:
            request = SendMessageRequest(message=new_text_message("hi", role=Role.ROLE_USER))
            events = [event async for event in client.send_message(request)]
    assert events


def test_a_denied_skill_is_refused_in_json_rpc_form(gateway: str) -> None:
    def send(skill: str) -> httpx2.Response:
        body = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "SendMessage",
            "params": {
                "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]},
                "metadata": {"skillId": skill},
            },
        }
        headers = {"x-api-key": KEYS["alice"], "a2a-version": "1.0"}
        return httpx2.post(f"{gateway}/a2a/echo", json=body, headers=headers, timeout=10)

    assert "result" in send("echo-main").json()
    refused = send("echo-extra")
    assert refused.status_code == 200
    error = refused.json()["error"]
    assert refused.json()["id"] == 7
    assert error["message"] == "You do not have permission to use the agent 'echo/echo-extra'."
    assert error["data"][0]["reason"] == "PERMISSION_DENIED"
