"""The anthropic SDK through the gateway's ``/v1/messages``: native to Anthropic, translated to OpenAI."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.fakes import anthropic_server, openai_server
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app

TOOLS: Any = [
    {
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
CLIENT_KEY = "sk-ant-client-must-not-leak"


@dataclass
class Setup:
    client: anthropic.Anthropic
    url: str
    claude: FakeAnthropic
    openai: FakeOpenAI


@pytest.fixture
def setup() -> Iterator[Setup]:
    claude, gpt = FakeAnthropic(), FakeOpenAI()
    with serve_app(claude.app()) as a, serve_app(gpt.app()) as o:
        config = parse_config(f"""
server: {{reload: false}}
llm:
  backends:
    claude: {{provider: anthropic, base_url: "{a}", api_key: {anthropic_server.API_KEY}}}
    gpt: {{provider: openai, base_url: "{o}/v1", api_key: {openai_server.API_KEY}}}
  models:
    - {{name: "claude-*", targets: [{{backend: claude}}]}}
    - {{name: gpt, targets: [{{backend: gpt, model: gpt-4o-mini}}]}}
    - {{name: either, targets: [{{backend: claude, model: status-529}}, {{backend: gpt, model: gpt-4o-mini, priority: 1}}]}}
""")
        with serve_app(create_app(config)) as url:
            client = anthropic.Anthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0, timeout=10)
            yield Setup(client, url, claude, gpt)


@pytest.mark.parametrize("model", ["claude-fake-1", "gpt"])
def test_message_with_system_and_image(setup: Setup, model: str) -> None:
    image = base64.b64encode(b"\x89PNG fake").decode()
    message = setup.client.messages.create(
        model=model,
        max_tokens=100,
        system="be brief",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
                ],
            }
        ],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("echo: ")
    assert message.usage.output_tokens > 0
    if model == "gpt":
        sent = setup.openai.requests[-1]
        assert sent.body["messages"][0] == {"role": "system", "content": "be brief"}
        assert sent.body["messages"][1]["content"][1] == {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{image}"},
        }
        assert sent.body["max_tokens"] == 100
        assert sent.headers["authorization"] == f"Bearer {openai_server.API_KEY}"
    else:
        sent_a = setup.claude.requests[-1]
        assert sent_a.body["system"] == "be brief"  # passed through as the client sent it
        assert sent_a.headers["x-api-key"] == anthropic_server.API_KEY
        assert message.usage.cache_read_input_tokens == anthropic_server.CACHE_READ


@pytest.mark.parametrize("model", ["claude-fake-1", "gpt"])
def test_tool_use_round_trip(setup: Setup, model: str) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    first = setup.client.messages.create(
        model=model, max_tokens=100, messages=messages, tools=TOOLS, tool_choice={"type": "any"}
    )
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris", "unit": "celsius"}
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}]},
    ]
    second = setup.client.messages.create(model=model, max_tokens=100, messages=messages, tools=TOOLS)
    assert second.content[0].type == "text" and second.content[0].text == "the tool said: 18C"
    if model == "gpt":
        sent = setup.openai.requests[0].body
        assert sent["tool_choice"] == "required"
        assert sent["tools"][0]["function"]["parameters"] == TOOLS[0]["input_schema"]
        follow_up = setup.openai.requests[1].body["messages"]
        assert follow_up[1]["tool_calls"][0]["id"] == call.id
        assert follow_up[2] == {"role": "tool", "tool_call_id": call.id, "content": "18C"}


@pytest.mark.parametrize("model", ["claude-fake-1", "gpt"])
def test_streamed_text(setup: Setup, model: str) -> None:
    with setup.client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "stream this"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: stream this"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


@pytest.mark.parametrize("model", ["claude-fake-1", "gpt"])
def test_streamed_tool_use(setup: Setup, model: str) -> None:
    with setup.client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "weather?"}], tools=TOOLS
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = next(block for block in final.content if block.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris", "unit": "celsius"}


def test_fallback_crosses_from_anthropic_to_openai(setup: Setup) -> None:
    message = setup.client.messages.create(
        model="either", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "echo: hi"
    assert setup.claude.requests[-1].body["model"] == "status-529"


def test_errors_are_anthropic_errors(setup: Setup) -> None:
    with pytest.raises(anthropic.RateLimitError) as limited:
        setup.client.messages.create(
            model="claude-status-429", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.NotFoundError) as missing:
        setup.client.messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": missing.value.body["error"]["message"]},  # type: ignore[index]
    }
    response = httpx2.post(f"{setup.url}/v1/messages", json={"model": "gpt", "messages": []})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "missing required parameter: 'max_tokens'",
    }


def test_stream_error_event(setup: Setup) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        setup.client.messages.stream(
            model="claude-stream-error", max_tokens=100, messages=[{"role": "user", "content": "a b"}]
        ) as stream,
    ):
        for _ in stream.text_stream:
            pass
    assert "Overloaded" in str(info.value)
