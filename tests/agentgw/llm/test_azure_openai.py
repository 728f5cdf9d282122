"""Azure OpenAI through the gateway: deployment URLs, api-key, Entra ID tokens (single flight, expiry,
rotation on reload), and the Responses API passed through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest

from agentgw import create_app
from agentgw.config import load_config, parse_config
from tests.fakes.azure_openai_server import API_KEY, API_VERSION, FakeAzureOpenAI
from tests.fakes.entra_server import CLIENT_ID, SCOPE, TENANT, FakeEntra
from tests.support.servers import serve_app, wait_for

MESSAGES: Any = [{"role": "user", "content": "hello azure"}]


def config_text(azure: str, credential: str) -> str:
    return f"""
server: {{reload: true}}
llm:
  backends:
    az:
      provider: azure_openai
      endpoint: "{azure}"
      api_version: "{API_VERSION}"
      deployments: {{gpt-4o: prod-4o}}
      {credential}
  models:
    - {{name: gpt-4o, targets: [{{backend: az}}]}}
    - {{name: missing, targets: [{{backend: az, model: not-deployed}}]}}
"""


def entra(url: str, secret: str) -> str:
    return (
        f"entra: {{tenant_id: {TENANT}, client_id: {CLIENT_ID}, client_secret: {secret},"
        f' authority_url: "{url}"}}'
    )


@pytest.fixture
def fake_entra() -> Iterator[tuple[FakeEntra, str]]:
    fake = FakeEntra()
    with serve_app(fake.app()) as url:
        yield fake, url


@pytest.fixture
def fake_azure(fake_entra: tuple[FakeEntra, str]) -> Iterator[tuple[FakeAzureOpenAI, str]]:
    fake = FakeAzureOpenAI(entra=fake_entra[0])
    with serve_app(fake.app()) as url:
        yield fake, url


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0, timeout=10)


def test_api_key_and_deployment_url(fake_azure: tuple[FakeAzureOpenAI, str]) -> None:
    azure, url = fake_azure
    with serve_app(create_app(parse_config(config_text(url, f"api_key: {API_KEY}")))) as gateway:
        completion = sdk(gateway).chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert completion.choices[0].message.content == "echo: hello azure"
        chunks = list(sdk(gateway).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hello azure"
        with pytest.raises(openai.NotFoundError) as info:
            sdk(gateway).chat.completions.create(model="missing", messages=MESSAGES)
        assert info.value.code == "DeploymentNotFound"
    sent = azure.requests[0]
    assert (sent.path, sent.query) == (
        "/openai/deployments/prod-4o/chat/completions",
        f"api-version={API_VERSION}",
    )
    assert sent.headers["api-key"] == API_KEY
    assert "authorization" not in sent.headers


def test_responses_api_is_passed_through(fake_azure: tuple[FakeAzureOpenAI, str]) -> None:
    azure, url = fake_azure
    with serve_app(create_app(parse_config(config_text(url, f"api_key: {API_KEY}")))) as gateway:
        response = sdk(gateway).responses.create(model="gpt-4o", input="hi there")
    assert response.output_text == "echo: hi there"
    assert azure.requests[-1].path == "/openai/responses"


def test_entra_token_is_fetched_once_for_concurrent_requests(
    fake_azure: tuple[FakeAzureOpenAI, str], fake_entra: tuple[FakeEntra, str]
) -> None:
    (azure, url), (tokens, token_url) = fake_azure, fake_entra
    config = parse_config(config_text(url, entra(token_url, tokens.client_secret)))
    with serve_app(create_app(config)) as gateway:

        async def main() -> list[str]:
            async with openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0) as client:
                replies: list[str] = []

                async def one() -> None:
                    completion = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                    replies.append(completion.choices[0].message.content or "")

                async with anyio.create_task_group() as group:
                    for _ in range(20):
                        group.start_soon(one)
                return replies

        assert anyio.run(main) == ["echo: hello azure"] * 20
    assert tokens.token_requests == 1
    assert tokens.forms[0] == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": "entra-secret-1",
        "scope": SCOPE,
    }
    assert all(r.headers["authorization"].removeprefix("Bearer ") in tokens.issued for r in azure.requests)
    assert all("api-key" not in r.headers for r in azure.requests)


def test_entra_token_is_refreshed_after_expiry(
    fake_azure: tuple[FakeAzureOpenAI, str], fake_entra: tuple[FakeEntra, str]
) -> None:
    (_, url), (tokens, token_url) = fake_azure, fake_entra
    tokens.expires_in = 1
    with serve_app(
        create_app(parse_config(config_text(url, entra(token_url, tokens.client_secret))))
    ) as gateway:
        client = sdk(gateway)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert tokens.token_requests == 1
        time.sleep(1.0)  # the token's lifetime passing, not a readiness wait
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert tokens.token_requests == 2


def test_refused_grant_is_a_502_naming_the_reason(
    fake_azure: tuple[FakeAzureOpenAI, str], fake_entra: tuple[FakeEntra, str]
) -> None:
    (_, url), (_, token_url) = fake_azure, fake_entra
    config = parse_config(config_text(url, entra(token_url, "wrong")))
    with serve_app(create_app(config)) as gateway, pytest.raises(openai.APIStatusError) as info:
        sdk(gateway).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert info.value.status_code == 502
    assert "refused the grant (HTTP 401, invalid_client)" in info.value.message
    assert "wrong" not in info.value.message


def test_rotated_secret_is_picked_up_on_reload(
    tmp_path: Path, fake_azure: tuple[FakeAzureOpenAI, str], fake_entra: tuple[FakeEntra, str]
) -> None:
    (_, url), (tokens, token_url) = fake_azure, fake_entra
    path = tmp_path / "gateway.yaml"
    path.write_text(config_text(url, entra(token_url, '"${SECRET_A:-entra-secret-1}"')))
    app = create_app(load_config(path), config_path=str(path))
    with serve_app(app) as gateway:
        client = sdk(gateway)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        tokens.client_secret = "entra-secret-2"  # rotated at the identity provider...
        path.write_text(config_text(url, entra(token_url, "entra-secret-2")))  # ...and in the config

        def rotated() -> bool:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            return tokens.forms[-1]["client_secret"] == "entra-secret-2"

        wait_for(rotated, timeout=10, interval=0.1)
    assert [form["client_secret"] for form in tokens.forms] == ["entra-secret-1", "entra-secret-2"]
