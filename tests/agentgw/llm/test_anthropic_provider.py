"""The openai SDK through the gateway to an Anthropic backend: requests and answers translated."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.fakes.anthropic_server import API_KEY, CACHE_READ, CACHE_WRITE, VERSION, FakeAnthropic
from tests.support.servers import serve_app

CLIENT_KEY = "sk-client-must-not-leak"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


@pytest.fixture
def fake_anthropic() -> FakeAnthropic:
    return FakeAnthropic()


@pytest.fixture
def sdk(fake_anthropic: FakeAnthropic) -> Iterator[openai.OpenAI]:
    with serve_app(fake_anthropic.app()) as upstream:
        config = parse_config(f"""
server: {{reload: false}}
llm:
  backends:
    claude: {{provider: anthropic, base_url: "{upstream}", api_key: {API_KEY}, default_max_tokens: 1000}}
  models:
    - {{name: "claude-*", owned_by: anthropic, targets: [{{backend: claude}}]}}
    - {{name: sonnet, targets: [{{backend: claude, model: claude-sonnet-4-5}}]}}
""")
        with serve_app(create_app(config)) as url:
            yield openai.OpenAI(base_url=f"{url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10)


def test_chat_is_translated_both_ways(sdk: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    completion = sdk.chat.completions.create(
        model="sonnet",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}],
        temperature=0.2,
        stop=["END"],
        user="u-1",
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("msg_")
    assert completion.model == "claude-sonnet-4-5"
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.completion_tokens == 3
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == CACHE_READ
    sent = fake_anthropic.requests[-1]
    assert sent.body == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
        "system": "be brief",
        "max_tokens": 1000,
        "temperature": 0.2,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    assert sent.headers["x-api-key"] == API_KEY and sent.headers["anthropic-version"] == VERSION
    assert all(CLIENT_KEY not in value for value in sent.headers.values())
    raw = usage.model_dump()
    assert raw["prompt_tokens"] == sent_input_tokens(sent.body) + CACHE_READ + CACHE_WRITE


def sent_input_tokens(body: dict[str, Any]) -> int:
    return len(orjson.dumps(body["messages"])) // 10


def test_wildcard_sends_the_requested_name_and_images_become_blocks(
    sdk: openai.OpenAI, fake_anthropic: FakeAnthropic
) -> None:
    completion = sdk.chat.completions.create(
        model="claude-haiku-4-5",
        max_tokens=50,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            },
        ],
    )
    assert completion.choices[0].message.content == "echo: what is this (+1 image)"
    body = fake_anthropic.requests[-1].body
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == 50
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    image = body["messages"][2]["content"][1]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG[22:]},
    }


def test_max_tokens_stop_is_length(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="sonnet", max_tokens=2, messages=[{"role": "user", "content": "one two three four"}]
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.choices[0].message.content == "echo: one"


def test_tool_call_round_trip(sdk: openai.OpenAI, fake_anthropic: FakeAnthropic) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    first = sdk.chat.completions.create(
        model="sonnet", messages=messages, tools=TOOLS, tool_choice="required", parallel_tool_calls=False
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    call = calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    sent = fake_anthropic.requests[-1].body
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "input_schema": TOOLS[0]["function"]["parameters"],
            "description": "Weather in a city",
        }
    ]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C"},
    ]
    second = sdk.chat.completions.create(model="sonnet", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "the tool said: 18C"
    sent = fake_anthropic.requests[-1].body
    assert sent["messages"][1]["content"][1] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": {"city": "Paris", "unit": "celsius"},
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "18C"}]}
        ],
    }


def test_streamed_text_with_usage(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "stream me please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_streamed_tool_call_deltas(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True
    )
    name, arguments, finish, ident = "", "", None, None
    for chunk in stream:
        assert chunk.usage is None
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            assert call.index == 0
            ident = ident or call.id
            name += (call.function.name or "") if call.function else ""
            arguments += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert name == "get_weather" and ident is not None and ident.startswith("toolu_")
    assert orjson.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    assert finish == "tool_calls"


def test_errors_are_openai_errors_with_their_status(sdk: openai.OpenAI) -> None:
    message: Any = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(model="claude-status-429", messages=message)
    assert limited.value.code == "rate_limit_error"
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    with pytest.raises(openai.InternalServerError) as overloaded:
        sdk.chat.completions.create(model="claude-status-529", messages=message)
    assert overloaded.value.status_code == 529 and overloaded.value.type == "overloaded_error"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(
            model="sonnet", messages=[{"role": "assistant", "content": "no user turn"}]
        )
    assert "first message must use the user role" in bad.value.message


def test_untranslatable_request_is_400(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "x"}], n=2)
    assert info.value.param == "n"


def test_stream_error_event_is_raised(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="claude-stream-error", messages=[{"role": "user", "content": "a b c"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
    assert "Overloaded" in info.value.message
    assert len(received) == 2  # the role chunk and the first word


def test_responses_api_is_refused_for_a_backend_without_it(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.responses.create(model="sonnet", input="hi")
    assert "has no backend that serves /v1/responses" in info.value.message
