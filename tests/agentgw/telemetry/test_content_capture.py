"""Opt-in content capture through the gateway, for the Anthropic Messages and OpenAI Responses APIs
(chat completions: ``test_llm_traces.py``), streamed and not, driven by the official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.telemetry import Telemetry
from tests.fakes import anthropic_server, openai_server
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app, wait_for

TOOLS: Any = [
    {
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


class Gateway:
    def __init__(self, url: str, spans: InMemorySpanExporter) -> None:
        self.url = url
        self.spans = spans

    def server_span(self) -> dict[str, Any]:
        """The attributes of the one request (SERVER) span, once it has ended."""
        wait_for(lambda: len(self._servers()) >= 1, timeout=5)
        (span,) = self._servers()
        return dict(span.attributes or {})

    def _servers(self) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.kind.name == "SERVER"]


def _gateway(capture: bool) -> Iterator[Gateway]:
    claude, gpt = FakeAnthropic(), FakeOpenAI()
    with serve_app(claude.app()) as a, serve_app(gpt.app()) as o:
        config = parse_config(f"""
server: {{reload: false}}
telemetry: {{capture_content: {str(capture).lower()}, sample_ratio: 1.0}}
llm:
  backends:
    claude: {{provider: anthropic, base_url: "{a}", api_key: {anthropic_server.API_KEY}}}
    gpt: {{provider: openai, base_url: "{o}/v1", api_key: {openai_server.API_KEY}}}
  models:
    - {{name: "claude-*", targets: [{{backend: claude}}]}}
    - {{name: gpt, targets: [{{backend: gpt, model: gpt-4o-mini}}]}}
""")
        spans = InMemorySpanExporter()
        with serve_app(create_app(config, telemetry=Telemetry(config.telemetry, span_exporter=spans))) as url:
            yield Gateway(url, spans)


@pytest.fixture
def captured() -> Iterator[Gateway]:
    yield from _gateway(True)


@pytest.fixture
def uncaptured() -> Iterator[Gateway]:
    yield from _gateway(False)


def _claude(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="sk-ant-client", max_retries=0, timeout=10)


def _openai(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages_content(captured: Gateway, stream: bool) -> None:
    client = _claude(captured)
    kwargs: Any = {
        "model": "claude-fake-1",
        "max_tokens": 100,
        "system": "You are terse.",
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "what is the weather in Paris?"}],
    }
    if stream:
        with client.messages.stream(**kwargs) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**kwargs)
    text = "".join(block.text for block in message.content if block.type == "text")
    (call,) = [block for block in message.content if block.type == "tool_use"]

    attributes = captured.server_span()
    assert orjson.loads(str(attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "You are terse."}
    ]
    assert orjson.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "what is the weather in Paris?"}]}
    ]
    # What the client received, text and tool call, whether it came whole or in events.
    assert orjson.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": text},
                {"type": "tool_call", "id": call.id, "name": "get_weather", "arguments": call.input},
            ],
            "finish_reason": "tool_use",
        }
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_content(captured: Gateway, stream: bool) -> None:
    client = _openai(captured)
    if stream:
        with client.responses.stream(model="gpt", input="a secret prompt", instructions="Be kind.") as events:
            text = events.get_final_response().output_text
    else:
        text = client.responses.create(
            model="gpt", input="a secret prompt", instructions="Be kind."
        ).output_text
    assert text == "echo: a secret prompt"

    attributes = captured.server_span()
    assert orjson.loads(str(attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Be kind."}
    ]
    assert orjson.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "a secret prompt"}]}
    ]
    assert orjson.loads(str(attributes["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
    ]


def test_nothing_captured_by_default(uncaptured: Gateway) -> None:
    with _claude(uncaptured).messages.stream(
        model="claude-fake-1",
        max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "a secret prompt"}],
    ) as events:
        events.get_final_message()
    attributes = uncaptured.server_span()
    assert "secret" not in repr(attributes) and "terse" not in repr(attributes)
    assert not {"gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"} & set(
        attributes
    )
