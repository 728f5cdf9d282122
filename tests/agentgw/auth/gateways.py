"""Gateway configs with auth and RBAC in front of the fake OpenAI upstream."""

from __future__ import annotations

from tests.agentgw.auth.issuer import AUDIENCE, ISSUER
from tests.fakes.openai_server import API_KEY

MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet", "o3-pro")

ROLES = """
rbac:
  roles:
    developer:
      allow: {models: ["gpt-4o-mini", "claude-*"]}
    analyst:
      allow: {models: ["gpt-*"]}
      deny: {models: ["gpt-4o"]}
    admin:
      allow: {models: ["*"]}
    guest:
      allow: {models: ["gpt-4o-mini"]}
"""


def gateway_yaml(upstream: str, *, auth: str, rbac: str = ROLES, extra: str = "") -> str:
    models = "\n".join(
        f"    - {{name: {name}, targets: [{{backend: fake, model: gpt-4o-mini}}]}}" for name in MODELS
    )
    return f"""
server: {{reload: false}}
llm:
  backends:
    fake: {{provider: openai, base_url: {upstream}/v1, api_key: {API_KEY}}}
  models:
{models}
auth:
{auth}
{rbac}
{extra}
"""


def jwt_auth(jwks_url: str, *, min_refresh_s: float = 30, extra: str = "") -> str:
    return f"""  jwt:
    issuer: {ISSUER}
    audiences: [{AUDIENCE}]
    jwks_url: {jwks_url}
    leeway_s: 30
    jwks_min_refresh_s: {min_refresh_s}
    team_claim: team
{extra}"""
