"""CEL conditions through the gateway: one request allowed, another refused, by what it asks and who asks."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.auth.gateways import gateway_yaml, jwt_auth
from tests.agentgw.auth.issuer import Issuer
from tests.support.servers import serve_app

MESSAGES = [{"role": "user", "content": "hi"}]
RBAC = """
rbac:
  roles:
    frugal:
      allow:
        - models: ["gpt-4o"]
          when: 'has(request.body.max_tokens) && request.body.max_tokens <= 100'
        - models: ["o3-pro"]
          when: 'claims.department == "research" && principal.team == "lab"'
"""


@pytest.fixture
def gateway(issuer: Issuer, fake_openai_url: str) -> Iterator[str]:
    config = parse_config(gateway_yaml(fake_openai_url, auth=jwt_auth(issuer.jwks_url), rbac=RBAC))
    with serve_app(create_app(config)) as url:
        yield url


def test_condition_on_the_request_body(gateway: str, issuer: Issuer) -> None:
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=issuer.token(roles=["frugal"]), max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=50)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "echo: hi"
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=500)  # type: ignore[arg-type]
    with pytest.raises(openai.PermissionDeniedError):  # no max_tokens: the condition does not hold
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    # Conditionally allowed models are listed; each call is judged on its own.
    assert {m.id for m in client.models.list()} == {"gpt-4o", "o3-pro"}


def test_condition_on_claims_and_team(gateway: str, issuer: Issuer) -> None:
    def call(**claims: object) -> None:
        token = issuer.token(roles=["frugal"], **claims)
        client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=token, max_retries=0)
        client.chat.completions.create(model="o3-pro", messages=MESSAGES)  # type: ignore[arg-type]

    call(department="research", team="lab")
    with pytest.raises(openai.PermissionDeniedError):
        call(department="sales", team="lab")
    with pytest.raises(openai.PermissionDeniedError):  # no department claim at all
        call(team="lab")
