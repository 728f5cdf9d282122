"""JWT bearer tokens signed by a test identity provider on 127.0.0.1, through the real gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.auth.gateways import gateway_yaml, jwt_auth
from tests.agentgw.auth.issuer import (
    Issuer,
    Keys,
    hs256_with_public_key,
    serve_issuer,
    tampered,
    unsigned_token,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_app(fake.app()) as url:
        yield fake, url


@pytest.fixture(scope="module")
def shared_issuer(keys: Keys) -> Iterator[Issuer]:
    """One issuer for the tests that do not rotate its keys."""
    with serve_issuer(keys) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def shared_gateway(shared_issuer: Issuer, upstream: tuple[FakeOpenAI, str]) -> Iterator[str]:
    config = parse_config(gateway_yaml(upstream[1], auth=jwt_auth(shared_issuer.jwks_url, min_refresh_s=0)))
    with serve_app(create_app(config)) as url:
        yield url


@pytest.fixture
def gateway(shared_gateway: str) -> str:
    return shared_gateway


@pytest.fixture
def issuer(shared_issuer: Issuer) -> Issuer:
    return shared_issuer


def chat(url: str, token: str | None) -> httpx2.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return httpx2.post(f"{url}/v1/chat/completions", json=CHAT, headers=headers, timeout=10)


def test_valid_token_through_the_openai_sdk(
    gateway: str, issuer: Issuer, upstream: tuple[FakeOpenAI, str]
) -> None:
    token = issuer.token(roles=["developer"], team="platform")
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=token, max_retries=0, timeout=10)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
    # The client's token never reaches the upstream.
    assert all(token not in value for value in upstream[0].requests[-1].headers.values())


def test_ec_key_and_space_separated_roles(gateway: str, issuer: Issuer) -> None:
    assert chat(gateway, issuer.token(issuer.keys.ec, roles="guest other")).status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "no_exp",
        "tampered",
        "unknown_kid",
        "alg_none",
        "hs256_with_rsa_public_key",
        "garbage",
        "not_bearer",
    ],
)
def test_bad_tokens_get_the_same_401(
    case: str, gateway: str, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    now = int(time.time())
    good = issuer.token(roles=["admin"])
    tokens: dict[str, str | None] = {
        "missing": None,
        "expired": issuer.token(roles=["admin"], iat=now - 7200, exp=now - 3600),
        "not_yet_valid": issuer.token(roles=["admin"], nbf=now + 3600),
        "wrong_issuer": issuer.token(roles=["admin"], iss="https://evil.example"),
        "wrong_audience": issuer.token(roles=["admin"], aud="someone-else"),
        "no_exp": issuer.token(roles=["admin"], exp=None),
        "tampered": tampered(issuer.token(roles=["guest"])),
        "unknown_kid": issuer.token(issuer.keys.rsa_b, roles=["admin"]),
        "alg_none": unsigned_token(roles=["admin"]),
        "hs256_with_rsa_public_key": hs256_with_public_key(issuer, issuer.keys.rsa_a),
        "garbage": "eyJhbGciOi.not-a.token",
        "not_bearer": good,
    }
    token = tokens[case]
    if case == "not_bearer":
        response = httpx2.post(
            f"{gateway}/v1/chat/completions", json=CHAT, headers={"authorization": f"Basic {token}"}
        )
    else:
        response = chat(gateway, token)
    assert response.status_code == 401
    # The same answer whatever went wrong: nothing that helps an attacker.
    assert response.json() == {
        "error": {
            "message": "Invalid or missing credentials.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{gateway}/.well-known/oauth-protected-resource"' in challenge
    assert ('error="invalid_token"' in challenge) == (case != "missing")
    # ... and an audit line that tells the operator what it was.
    audit = [r.getMessage() for r in caplog.records if r.name == "agentgw.audit"]
    assert len(audit) == 1 and '"event":"authn"' in audit[0] and '"decision":"deny"' in audit[0]
    assert token is None or token not in audit[0]


def test_the_openai_sdk_raises_authentication_error(gateway: str, issuer: Issuer) -> None:
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="eyJ.bad.token", max_retries=0, timeout=10)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_key_rotation_is_picked_up(keys: Keys, upstream: tuple[FakeOpenAI, str]) -> None:
    with serve_issuer(keys) as issuer:
        config = parse_config(gateway_yaml(upstream[1], auth=jwt_auth(issuer.jwks_url, min_refresh_s=0)))
        with serve_app(create_app(config)) as gateway:
            rotate(gateway, issuer)


def rotate(gateway: str, issuer: Issuer) -> None:
    assert chat(gateway, issuer.token(roles=["admin"])).status_code == 200
    fetches = issuer.fetches
    # The issuer rotates: rsa-a retires, rsa-b signs. A token with the new kid makes the gateway refetch.
    issuer.published = [issuer.keys.rsa_b]
    assert chat(gateway, issuer.token(issuer.keys.rsa_b, roles=["admin"])).status_code == 200
    assert issuer.fetches == fetches + 1
    assert chat(gateway, issuer.token(issuer.keys.rsa_b, roles=["admin"])).status_code == 200
    assert issuer.fetches == fetches + 1  # cached
    assert chat(gateway, issuer.token(issuer.keys.rsa_a, roles=["admin"])).status_code == 401


def test_roles_come_from_a_nested_claim(issuer: Issuer, upstream: tuple[FakeOpenAI, str]) -> None:
    auth = jwt_auth(issuer.jwks_url, extra="    roles_claim: realm_access.roles\n")
    config = parse_config(gateway_yaml(upstream[1], auth=auth))
    with serve_app(create_app(config)) as url:
        assert chat(url, issuer.token(realm_access={"roles": ["guest"]})).status_code == 200
        assert chat(url, issuer.token(roles=["guest"])).status_code == 403
