"""Agent cards behind the gateway: fetched, cached, and rewritten to point at the gateway."""

from __future__ import annotations

from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentgw import create_app
from agentgw.a2a.card import CardSecurity, card_security, rewrite_card
from agentgw.config import parse_config
from agentgw.config.auth import AuthConfig
from tests.agentgw.a2a.conftest import Agents
from tests.support.servers import serve_app, serve_app_at

REWRITTEN = {"supportedInterfaces", "url", "securitySchemes", "securityRequirements", "security", "skills"}


def test_card_is_the_agents_own_but_for_endpoints_and_security(gateway_url: str, agents: Agents) -> None:
    upstream = httpx2.get(f"{agents.task.url}/.well-known/agent-card.json").json()
    response = httpx2.get(f"{gateway_url}/a2a/task/.well-known/agent-card.json")
    assert response.status_code == 200
    card = response.json()
    endpoint = f"{gateway_url}/a2a/task"
    # Everything else is the agent's, key for key.
    assert {k: v for k, v in card.items() if k not in REWRITTEN} == {
        k: v for k, v in upstream.items() if k not in REWRITTEN | {"signatures"}
    }
    assert card["name"] == "task" and card["version"] == "1.2.3"
    assert card["capabilities"] == {"streaming": True, "pushNotifications": True, "extendedAgentCard": True}
    # 1.0 interfaces: the proxied bindings at every version the agent offers, at the gateway; no gRPC.
    assert card["supportedInterfaces"] == [
        {"url": endpoint, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        {"url": endpoint, "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
        {"url": endpoint, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
    ]
    # 0.3 fields, which the a2a-sdk server adds for older clients.
    assert card["url"] == endpoint
    assert card["preferredTransport"] == "JSONRPC"
    assert card["protocolVersion"] == "0.3"
    # The agent's API-key scheme is what the gateway presents to it, not what clients present.
    assert "apikey" in upstream["securitySchemes"]
    for key in ("securitySchemes", "securityRequirements", "security"):
        assert key not in card
    assert card["skills"] == upstream["skills"]
    assert agents.task.url not in response.text


def test_card_under_its_pre_0_3_name_and_caching_headers(gateway_url: str) -> None:
    new = httpx2.get(f"{gateway_url}/a2a/echo/.well-known/agent-card.json")
    old = httpx2.get(f"{gateway_url}/a2a/echo/.well-known/agent.json")
    assert new.json() == old.json()
    assert new.headers["cache-control"] == "private, max-age=300"
    etag = new.headers["etag"]
    again = httpx2.get(f"{gateway_url}/a2a/echo/.well-known/agent-card.json", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag


def test_card_is_fetched_once_per_ttl(agents: Agents) -> None:
    with serve_app(create_app(parse_config(_one_agent(agents.echo.url, "card_ttl_s: 600")))) as url:
        before = _card_fetches(agents)
        for _ in range(3):
            assert httpx2.get(f"{url}/a2a/solo/.well-known/agent-card.json").status_code == 200
        assert _card_fetches(agents) == before + 1


def test_listing_names_descriptions_and_skills(gateway_url: str) -> None:
    listing = httpx2.get(f"{gateway_url}/a2a").json()["agents"]
    by_id = {entry["id"]: entry for entry in listing}
    assert set(by_id) == {"echo", "task", "dead", "keyless"}
    echo = by_id["echo"]
    assert echo["url"] == f"{gateway_url}/a2a/echo"
    assert echo["agentCardUrl"] == f"{gateway_url}/a2a/echo/.well-known/agent-card.json"
    assert (echo["name"], echo["description"], echo["version"]) == ("echo", "the echo agent", "1.2.3")
    assert echo["skills"] == [
        {"id": "echo-main", "name": "echo main", "description": "does the thing", "tags": ["main"]},
        {"id": "echo-extra", "name": "echo extra", "description": "does more", "tags": ["extra"]},
    ]
    # One unreachable agent does not spoil the listing; it says why.
    assert "unreachable" in by_id["dead"]["error"]
    assert "skills" not in by_id["dead"]


LEGACY_CARD: dict[str, Any] = {
    "name": "old",
    "description": "an A2A 0.2 agent",
    "version": "0.1",
    "protocolVersion": "0.2.6",
    "url": "http://agent.internal:9000/rpc",
    "preferredTransport": "JSONRPC",
    "additionalInterfaces": [
        {"url": "http://agent.internal:9000/rpc", "transport": "JSONRPC"},
        {"url": "agent.internal:9001", "transport": "GRPC"},
        {"url": "http://agent.internal:9000/rest", "transport": "HTTP+JSON"},
    ],
    "capabilities": {"streaming": False},
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "security": [{"bearer": []}],
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [{"id": "s1", "name": "one", "description": "d", "tags": [], "security": [{"bearer": []}]}],
    "signatures": [{"protected": "x", "signature": "y"}],
}


def test_agents_before_0_3_publish_agent_json() -> None:
    async def legacy(request: Request) -> JSONResponse:
        return JSONResponse(LEGACY_CARD)

    upstream = Starlette(routes=[Route("/.well-known/agent.json", legacy)])
    with (
        serve_app_at(lambda url: upstream) as agent_url,
        serve_app(create_app(parse_config(_one_agent(agent_url)))) as url,
    ):
        card = httpx2.get(f"{url}/a2a/solo/.well-known/agent-card.json").json()
    endpoint = f"{url}/a2a/solo"
    assert card["url"] == endpoint
    assert card["additionalInterfaces"] == [
        {"url": endpoint, "transport": "JSONRPC"},
        {"url": endpoint, "transport": "HTTP+JSON"},
    ]
    assert card["protocolVersion"] == "0.2.6"
    assert "security" not in card and "securitySchemes" not in card and "signatures" not in card
    assert card["skills"] == [{"id": "s1", "name": "one", "description": "d", "tags": []}]


def test_rewrite_presents_the_gateways_security_and_hides_skills() -> None:
    security = CardSecurity(
        schemes={
            "gateway": {"httpAuthSecurityScheme": {"scheme": "Bearer"}, "type": "http", "scheme": "bearer"}
        },
        requirements=[{"schemes": {"gateway": {"list": []}}}],
        legacy_requirements=[{"gateway": []}],
    )
    card = {**LEGACY_CARD, "preferredTransport": "GRPC", "url": "agent.internal:9001"}
    out = rewrite_card(
        card, endpoint="https://gw/a2a/x", security=security, skill_visible=lambda s: s != "s1"
    )
    assert out["securitySchemes"] == security.schemes
    assert out["securityRequirements"] == [{"schemes": {"gateway": {"list": []}}}]
    assert out["security"] == [{"gateway": []}]
    # The gateway proxies no gRPC: a gRPC-preferring card now prefers the JSON-RPC binding it serves.
    assert (out["url"], out["preferredTransport"]) == ("https://gw/a2a/x", "JSONRPC")
    assert out["skills"] == []
    assert card["url"] == "agent.internal:9001"  # the cached original is left alone


def test_cards_describe_the_gateways_own_auth_in_each_cards_form() -> None:
    auth = AuthConfig.model_validate(
        {
            "api_keys": [{"name": "k", "key_sha256": "0" * 64, "roles": []}],
            "jwt": {"issuer": "https://idp", "audiences": ["gw"], "jwks_url": "https://idp/jwks"},
        }
    )
    security = card_security(auth)
    modern = {
        "name": "x",
        "supportedInterfaces": [
            {"url": "http://agent:1/", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "securitySchemes": {"agent-oauth": {"oauth2SecurityScheme": {}}},
        "securityRequirements": [{"schemes": {"agent-oauth": {}}}],
    }
    out = rewrite_card(modern, endpoint="https://gw/a2a/x", security=security, skill_visible=lambda s: True)
    assert out["securitySchemes"] == {
        "bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer", "bearerFormat": "JWT"}},
        "apiKey": {"apiKeySecurityScheme": {"location": "header", "name": "x-api-key"}},
    }
    assert out["securityRequirements"] == [{"schemes": {"bearer": {}}}, {"schemes": {"apiKey": {}}}]
    legacy = rewrite_card(
        LEGACY_CARD, endpoint="https://gw/a2a/x", security=security, skill_visible=lambda s: True
    )
    assert legacy["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    }
    assert legacy["security"] == [{"bearer": []}, {"apiKey": []}]
    # No auth configured: the cards ask for no credential, and carry none of the agent's.
    assert "securitySchemes" not in rewrite_card(
        modern,
        endpoint="https://gw/a2a/x",
        security=card_security(AuthConfig()),
        skill_visible=lambda s: True,
    )


def test_card_url_can_be_configured(agents: Agents) -> None:
    extra = f'card_url: "{agents.task.url}/.well-known/agent-card.json"'
    with serve_app(create_app(parse_config(_one_agent("http://127.0.0.1:9", extra)))) as url:
        card = httpx2.get(f"{url}/a2a/solo/.well-known/agent-card.json").json()
    assert card["name"] == "task"
    assert card["url"] == f"{url}/a2a/solo"


def _one_agent(agent_url: str, extra: str = "") -> str:
    return f"""
server: {{reload: false}}
a2a:
  agents:
    solo:
      url: "{agent_url}"
      {extra}
"""


def _card_fetches(agents: Agents) -> int:
    return sum(1 for seen in agents.echo.seen if seen["path"] == "/.well-known/agent-card.json")
