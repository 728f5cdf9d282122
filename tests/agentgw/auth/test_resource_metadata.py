"""RFC 9728 protected-resource metadata and the challenges that point MCP clients to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.auth.gateways import gateway_yaml, jwt_auth
from tests.agentgw.auth.issuer import ISSUER, Issuer
from tests.support.servers import serve_app


@pytest.fixture
def gateway(issuer: Issuer, fake_openai_url: str) -> Iterator[str]:
    config = parse_config(gateway_yaml(fake_openai_url, auth=jwt_auth(issuer.jwks_url)))
    with serve_app(create_app(config)) as url:
        yield url


def test_metadata_documents(gateway: str) -> None:
    root = httpx2.get(f"{gateway}/.well-known/oauth-protected-resource")
    assert root.status_code == 200
    assert root.json() == {
        "resource": gateway,
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
        "resource_name": "agentgw",
        "resource_signing_alg_values_supported": ["RS256", "ES256"],
    }
    mcp = httpx2.get(f"{gateway}/.well-known/oauth-protected-resource/mcp").json()
    assert mcp["resource"] == f"{gateway}/mcp" and mcp["authorization_servers"] == [ISSUER]


def test_401_on_mcp_points_to_the_mcp_metadata(gateway: str) -> None:
    response = httpx2.post(f"{gateway}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{gateway}/.well-known/oauth-protected-resource/mcp"'
    )
    assert response.json()["error"]["code"] == -32001


def test_401_on_the_legacy_sse_transport_is_mcp_too(gateway: str) -> None:
    response = httpx2.get(f"{gateway}/sse")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].endswith('/.well-known/oauth-protected-resource/mcp"')
    assert response.json()["error"]["code"] == -32001


def test_403_carries_insufficient_scope(gateway: str, issuer: Issuer) -> None:
    token = issuer.token(roles=["guest"])
    response = httpx2.post(
        f"{gateway}/v1/chat/completions",
        json={"model": "o3-pro", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", resource_metadata="{gateway}/.well-known/oauth-protected-resource"'
    )


def test_public_paths_need_no_credentials(gateway: str) -> None:
    assert httpx2.get(f"{gateway}/healthz").status_code == 200


def test_configured_resource_url_and_no_metadata_without_auth(fake_openai_url: str, issuer: Issuer) -> None:
    auth = jwt_auth(issuer.jwks_url) + "  resource: https://gw.example.com/\n"
    with serve_app(create_app(parse_config(gateway_yaml(fake_openai_url, auth=auth)))) as url:
        document = httpx2.get(f"{url}/.well-known/oauth-protected-resource/mcp").json()
        assert document["resource"] == "https://gw.example.com/mcp"
        challenge = httpx2.get(f"{url}/v1/models").headers["www-authenticate"]
        assert 'resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource"' in challenge
    with serve_app(create_app(parse_config(gateway_yaml(fake_openai_url, auth="  {}", rbac="")))) as url:
        assert httpx2.get(f"{url}/.well-known/oauth-protected-resource").status_code == 404
