"""Principals x models x allow/deny through the real openai SDK: list filtering and call refusal.

Principals: API keys (created with the CLI helpers) and JWTs from the test issuer, with one role
each or several (deny in one role wins over allow in another).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import openai
import pytest

from agentgw import create_app
from agentgw.auth.api_keys import create_key
from agentgw.config import load_config
from tests.agentgw.auth.gateways import MODELS, gateway_yaml, jwt_auth
from tests.agentgw.auth.issuer import Issuer
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app

MESSAGES = [{"role": "user", "content": "hi"}]

ALLOWED = {
    "alice (developer, key)": {"gpt-4o-mini", "claude-sonnet"},
    "bob (analyst, jwt)": {"gpt-4o-mini"},
    "carol (admin, key)": set(MODELS),
    "dave (developer+analyst, jwt)": {"gpt-4o-mini", "claude-sonnet"},
    "erin (no roles, jwt)": set(),
}


@dataclass
class Setup:
    url: str
    credentials: dict[str, str]


@pytest.fixture
def setup(tmp_path: Path, issuer: Issuer, fake_openai_url: str) -> Iterator[Setup]:
    keys_file = tmp_path / "keys.yaml"
    auth = jwt_auth(issuer.jwks_url) + f"  api_keys_file: {keys_file}\n"
    path = tmp_path / "gateway.yaml"
    path.write_text(gateway_yaml(fake_openai_url, auth=auth))
    credentials = {
        "alice (developer, key)": create_key(keys_file, "alice", ["developer"], team="apps"),
        "bob (analyst, jwt)": issuer.token(sub="bob", roles=["analyst"]),
        "carol (admin, key)": create_key(keys_file, "carol", ["admin"]),
        "dave (developer+analyst, jwt)": issuer.token(sub="dave", roles=["developer", "analyst"]),
        "erin (no roles, jwt)": issuer.token(sub="erin"),
    }
    with serve_app(create_app(load_config(path), config_path=str(path))) as url:
        yield Setup(url, credentials)


@pytest.mark.parametrize("who", list(ALLOWED))
def test_models_list_shows_only_allowed_models(setup: Setup, who: str) -> None:
    client = openai.OpenAI(base_url=f"{setup.url}/v1", api_key=setup.credentials[who], max_retries=0)
    assert {model.id for model in client.models.list()} == ALLOWED[who]
    for model in MODELS:
        if model in ALLOWED[who]:
            assert client.models.retrieve(model).id == model
        else:
            with pytest.raises(openai.NotFoundError):
                client.models.retrieve(model)


@pytest.mark.parametrize("who", list(ALLOWED))
def test_calls_outside_the_rules_are_refused(setup: Setup, who: str, fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=f"{setup.url}/v1", api_key=setup.credentials[who], max_retries=0)
    for model in MODELS:
        sent = len(fake_openai.requests)
        if model in ALLOWED[who]:
            reply = client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
            assert reply.choices[0].message.content == "echo: hi"
            stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "echo: hi"
            assert len(fake_openai.requests) == sent + 2
        else:
            with pytest.raises(openai.PermissionDeniedError) as refused:
                client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
            assert refused.value.status_code == 403
            assert refused.value.code == "permission_denied"
            assert refused.value.body == {
                "message": f"You do not have permission to use the model '{model}'.",
                "type": "invalid_request_error",
                "param": "model",
                "code": "permission_denied",
            }
            with pytest.raises(openai.PermissionDeniedError):
                client.embeddings.create(model=model, input="hi")
            assert len(fake_openai.requests) == sent  # nothing reached the upstream


def test_audit_lines_name_principal_action_resource_and_rule(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="agentgw.audit")
    headers = {"x-api-key": setup.credentials["alice (developer, key)"]}
    body = {"model": "gpt-4o", "messages": MESSAGES}
    assert httpx2.post(f"{setup.url}/v1/chat/completions", json=body, headers=headers).status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "agentgw.audit"]
    assert lines == [
        '{"event":"authz","principal":"key:alice","key":"alice","team":"apps","auth":"api_key",'
        '"action":"llm.chat/completions","resource":"models:gpt-4o","decision":"deny","rule":"default-deny"}'
    ]
