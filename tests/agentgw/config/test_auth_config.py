"""The ``auth:`` and ``rbac:`` sections: validation and cross-references, every issue with its key path."""

from __future__ import annotations

import pytest

from agentgw.auth.api_keys import hash_key
from agentgw.config import parse_config
from agentgw.errors import ConfigError


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return [str(issue) for issue in caught.value.issues]


def test_valid_sections() -> None:
    config = parse_config(f"""
auth:
  api_keys: [{{name: alice, key_sha256: "{hash_key("k").upper()}", roles: [dev], team: platform}}]
  jwt: {{issuer: https://idp, audiences: [gw], jwks_url: https://idp/jwks, roles_claim: groups}}
rbac:
  roles:
    dev:
      allow: {{models: ["gpt-*"], tools: ["weather/*"]}}
      deny: [{{tools: ["*/delete*"]}}, {{models: [o1], when: 'principal.team == "x"'}}]
""")
    assert config.auth.api_keys[0].key_sha256 == hash_key("k")
    assert config.auth.configured and config.auth.enforced
    assert not parse_config("").auth.enforced


def test_every_problem_with_its_path() -> None:
    digest = hash_key("k")
    found = issues(f"""
auth:
  api_keys:
    - {{name: a, key_sha256: "abc", roles: [dev, ghost]}}
    - {{name: a, key_sha256: "{digest}", roles: [dev]}}
  jwt: {{issuer: https://idp, audiences: [gw], jwks_url: https://idp/jwks, algorithms: [RS256, HS256]}}
  anonymous_roles: [nobody]
rbac:
  roles:
    dev:
      allow: {{models: ["*"], when: "request.model =="}}
      deny: {{gadgets: ["x"]}}
""")
    assert "auth.api_keys[0].key_sha256: must be the 64 hex digits of the key's SHA-256" in found
    assert any(i.startswith("auth.jwt.algorithms: algorithm 'HS256' is not accepted") for i in found)
    assert any(
        i.startswith("rbac.roles.dev.allow[0].when: invalid CEL expression: 1:17: Syntax error")
        for i in found
    )
    assert "rbac.roles.dev.deny[0].gadgets: unknown key" in found
    assert "auth.api_keys[0].roles[1]: unknown role 'ghost' (known: dev)" in found
    assert "auth.api_keys[1].name: duplicate name (first at auth.api_keys[0])" in found
    assert "auth.anonymous_roles[0]: unknown role 'nobody' (known: dev)" in found


def test_alg_none_is_refused() -> None:
    found = issues("auth: {jwt: {issuer: i, audiences: [a], jwks_url: 'https://i/j', algorithms: [none]}}")
    assert any(i.startswith("auth.jwt.algorithms: algorithm 'none' is not accepted") for i in found)
