"""Vertex AI through the gateway: service-account JWT bearer grant, Gemini (OpenAI-compatible) and
Anthropic models (rawPredict), with the openai and anthropic SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import anyio
import openai
import orjson
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.errors import ConfigError
from tests.fakes.google_token_server import EMAIL, SCOPE, FakeGoogleToken
from tests.fakes.vertex_server import LOCATION, PROJECT, FakeVertex
from tests.support.servers import serve_app

MESSAGES: Any = [{"role": "user", "content": "hello vertex"}]


@dataclass
class Setup:
    url: str
    tokens: FakeGoogleToken
    vertex: FakeVertex


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    tokens = FakeGoogleToken()
    with serve_app(tokens.app()) as token_url:
        tokens.url = token_url
        vertex = FakeVertex(tokens)
        key_file = tmp_path / "key.json"
        key_file.write_text(tokens.key_json())
        with serve_app(vertex.app()) as upstream:
            common = f'project: {PROJECT}, location: {LOCATION}, base_url: "{upstream}"'
            config = parse_config(
                f"""
server: {{reload: false}}
llm:
  backends:
    gemini: {{provider: vertex_ai, {common}, credentials_file: "{key_file}"}}
    claude: {{provider: vertex_ai, {common}, publisher: anthropic, credentials: '{tokens.key_json()}'}}
  models:
    - {{name: gemini-2.5-flash, targets: [{{backend: gemini}}]}}
    - {{name: "claude-*", targets: [{{backend: claude}}]}}
""",
                env={},
            )
            with serve_app(create_app(config)) as url:
                yield Setup(url, tokens, vertex)


def test_gemini_through_the_openai_compatible_endpoint(setup: Setup) -> None:
    client = openai.OpenAI(base_url=f"{setup.url}/v1", api_key="k", max_retries=0)
    completion = client.chat.completions.create(model="gemini-2.5-flash", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: hello vertex"
    stream = client.chat.completions.create(model="gemini-2.5-flash", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "echo: hello vertex"
    sent = setup.vertex.gemini.requests[-1]
    assert sent.path == f"/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
    assert sent.body["model"] == "google/gemini-2.5-flash"
    assert sent.headers["authorization"].removeprefix("Bearer ") in setup.tokens.issued


def test_jwt_bearer_grant_and_one_fetch_for_concurrent_requests(setup: Setup) -> None:
    async def main() -> None:
        client = openai.AsyncOpenAI(base_url=f"{setup.url}/v1", api_key="k", max_retries=0)
        async with client, anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(
                    lambda: client.chat.completions.create(model="gemini-2.5-flash", messages=MESSAGES)
                )

    anyio.run(main)
    assert setup.tokens.token_requests == 1
    form, claims = setup.tokens.forms[0], setup.tokens.claims[0]
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert (claims["iss"], claims["scope"], claims["aud"]) == (EMAIL, SCOPE, f"{setup.tokens.url}/token")
    assert claims["exp"] - claims["iat"] == 3600


def test_claude_on_vertex_translated_from_openai(setup: Setup) -> None:
    client = openai.OpenAI(base_url=f"{setup.url}/v1", api_key="k", max_retries=0)
    completion = client.chat.completions.create(model="claude-vertex-1", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: hello vertex"
    chunks = list(client.chat.completions.create(model="claude-vertex-1", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hello vertex"
    sent = setup.vertex.claude.requests[-1].body
    assert "model" not in sent and sent["anthropic_version"] == "vertex-2023-10-16" and sent["stream"] is True


def test_claude_on_vertex_with_the_anthropic_sdk(setup: Setup) -> None:
    client = anthropic.Anthropic(base_url=setup.url, api_key="k", max_retries=0)
    message = client.messages.create(model="claude-vertex-1", max_tokens=50, messages=MESSAGES)
    assert message.content[0].type == "text" and message.content[0].text == "echo: hello vertex"
    with client.messages.stream(model="claude-vertex-1", max_tokens=50, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "echo: hello vertex"


def test_bad_service_account_key_fails_check_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(orjson.dumps({"type": "authorized_user"}).decode())
    text = f"""
llm:
  backends:
    a: {{provider: vertex_ai, project: p, credentials_file: "{bad}"}}
    b: {{provider: vertex_ai, project: p, credentials_file: "{tmp_path / "absent.json"}"}}
    c: {{provider: vertex_ai, project: p}}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, env={})
    assert [str(issue) for issue in info.value.issues] == [
        'llm.backends.a.credentials_file: not a service-account key (its "type" must be "service_account")',
        "llm.backends.b.credentials_file: cannot read it: No such file or directory",
        "llm.backends.c: set exactly one of credentials or credentials_file",
    ]
