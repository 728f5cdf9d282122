"""Every provider, through both SDKs, streamed and not, with a tool call and its result."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.fakes import anthropic_server, azure_openai_server, bedrock_server, openai_server
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.azure_openai_server import FakeAzureOpenAI
from tests.fakes.bedrock_server import FakeBedrock
from tests.fakes.google_token_server import FakeGoogleToken
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.vertex_server import LOCATION, PROJECT, FakeVertex
from tests.support.servers import serve_app

MODELS = ["m-openai", "m-azure", "m-anthropic", "m-bedrock", "m-gemini", "m-vertex-claude"]
ARGUMENTS = {"city": "Paris", "unit": "celsius"}
OPENAI_TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
]
ANTHROPIC_TOOLS: Any = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tokens = FakeGoogleToken()
    with contextlib.ExitStack() as stack:
        tokens.url = stack.enter_context(serve_app(tokens.app()))
        gpt = stack.enter_context(serve_app(FakeOpenAI().app()))
        azure = stack.enter_context(serve_app(FakeAzureOpenAI().app()))
        claude = stack.enter_context(serve_app(FakeAnthropic().app()))
        bedrock = stack.enter_context(serve_app(FakeBedrock().app()))
        vertex = stack.enter_context(serve_app(FakeVertex(tokens).app()))
        key: Path = tmp_path_factory.mktemp("vertex") / "key.json"
        key.write_text(tokens.key_json())
        where = f'project: {PROJECT}, location: {LOCATION}, base_url: "{vertex}", credentials_file: "{key}"'
        config = parse_config(
            f"""
server: {{reload: false}}
llm:
  backends:
    openai: {{provider: openai, base_url: "{gpt}/v1", api_key: {openai_server.API_KEY}}}
    azure: {{provider: azure_openai, endpoint: "{azure}", api_key: {azure_openai_server.API_KEY}}}
    anthropic: {{provider: anthropic, base_url: "{claude}", api_key: {anthropic_server.API_KEY}}}
    bedrock:
      provider: bedrock
      region: {bedrock_server.REGION}
      base_url: "{bedrock}"
      access_key_id: {bedrock_server.ACCESS_KEY}
      secret_access_key: {bedrock_server.SECRET_KEY}
    gemini: {{provider: vertex_ai, {where}}}
    vertex-claude: {{provider: vertex_ai, publisher: anthropic, {where}}}
  models:
    - {{name: m-openai, targets: [{{backend: openai, model: gpt-4o-mini}}]}}
    - {{name: m-azure, targets: [{{backend: azure, model: prod-4o}}]}}
    - {{name: m-anthropic, targets: [{{backend: anthropic, model: claude-fake}}]}}
    - {{name: m-bedrock, targets: [{{backend: bedrock, model: "anthropic.claude-3-5-sonnet-20240620-v1:0"}}]}}
    - {{name: m-gemini, targets: [{{backend: gemini, model: gemini-2.5-flash}}]}}
    - {{name: m-vertex-claude, targets: [{{backend: vertex-claude, model: claude-fake}}]}}
""",
            env={},
        )
        yield stack.enter_context(serve_app(create_app(config)))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_openai_sdk_tool_call_and_result(gateway: str, model: str, stream: bool) -> None:
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=10)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        name = arguments = ""
        ident = finish = None
        for chunk in client.chat.completions.create(
            model=model, messages=messages, tools=OPENAI_TOOLS, stream=True
        ):
            if not chunk.choices:
                continue
            for call in chunk.choices[0].delta.tool_calls or []:
                ident = ident or call.id
                if call.function is not None:
                    name += call.function.name or ""
                    arguments += call.function.arguments or ""
            finish = chunk.choices[0].finish_reason or finish
        assert (name, orjson.loads(arguments), finish) == ("get_weather", ARGUMENTS, "tool_calls")
        assert ident
        tool_calls = [{"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}]
    else:
        reply = client.chat.completions.create(model=model, messages=messages, tools=OPENAI_TOOLS)
        assert reply.choices[0].finish_reason == "tool_calls"
        calls = reply.choices[0].message.tool_calls
        assert calls is not None and calls[0].function.name == "get_weather"
        assert orjson.loads(calls[0].function.arguments) == ARGUMENTS
        ident = calls[0].id
        tool_calls = [call.model_dump() for call in calls]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": tool_calls},
        {"role": "tool", "tool_call_id": ident, "content": "18C"},
    ]
    answer = client.chat.completions.create(model=model, messages=messages, tools=OPENAI_TOOLS)
    assert answer.choices[0].message.content == "the tool said: 18C"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_anthropic_sdk_tool_use_and_result(gateway: str, model: str, stream: bool) -> None:
    client = anthropic.Anthropic(base_url=gateway, api_key="k", max_retries=0, timeout=10)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        with client.messages.stream(
            model=model, max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS
        ) as events:
            first = events.get_final_message()
    else:
        first = client.messages.create(model=model, max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert first.stop_reason == "tool_use"
    use = next(block for block in first.content if block.type == "tool_use")
    assert use.name == "get_weather" and use.input == ARGUMENTS
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]},
    ]
    answer = client.messages.create(model=model, max_tokens=100, messages=messages, tools=ANTHROPIC_TOOLS)
    assert answer.content[0].type == "text" and answer.content[0].text == "the tool said: 18C"
