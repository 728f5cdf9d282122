"""Bedrock through the gateway: Converse and ConverseStream, SigV4-signed, with the openai and
anthropic SDKs; credentials from the config or the AWS environment variables."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.errors import ConfigError
from tests.fakes.bedrock_server import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock
from tests.support.servers import serve_app

MODEL_ID = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {}}}},
    }
]
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


@pytest.fixture
def fake_bedrock() -> FakeBedrock:
    return FakeBedrock()


@pytest.fixture
def url(fake_bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Credentials from the environment, as the AWS SDKs read them.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE")
    monkeypatch.setenv("AWS_REGION", REGION)
    with serve_app(fake_bedrock.app()) as upstream:
        config = parse_config(f"""
server: {{reload: false}}
llm:
  backends:
    aws: {{provider: bedrock, base_url: "{upstream}"}}
  models:
    - {{name: claude-bedrock, targets: [{{backend: aws, model: "{MODEL_ID}"}}]}}
    - {{name: "bedrock/*", targets: [{{backend: aws}}]}}
""")
        with serve_app(create_app(config)) as gateway:
            yield gateway


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=10)


def test_converse_with_system_image_and_settings(url: str, fake_bedrock: FakeBedrock) -> None:
    completion = sdk(url).chat.completions.create(
        model="claude-bedrock",
        messages=[
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            },
        ],
        max_tokens=64,
        temperature=0.5,
        stop="END",
    )
    assert completion.choices[0].message.content == "echo: look (+1 image)"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    sent = fake_bedrock.requests[-1]
    assert sent.path == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert sent.model == MODEL_ID
    assert sent.body["system"] == [{"text": "be brief"}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 64, "temperature": 0.5, "stopSequences": ["END"]}
    assert sent.body["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"bytes": PNG[22:]}}
    }
    assert sent.headers["x-amz-security-token"] == "FwoGZXIvYXdzEXAMPLE"
    assert f"Credential={ACCESS_KEY}/" in sent.headers["authorization"]


def test_tool_round_trip_and_streamed_tool_call(url: str, fake_bedrock: FakeBedrock) -> None:
    client = sdk(url)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(
        model="claude-bedrock", messages=messages, tools=TOOLS, tool_choice="required"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert orjson.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert fake_bedrock.requests[-1].body["toolConfig"]["toolChoice"] == {"any": {}}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18C"},
    ]
    second = client.chat.completions.create(model="claude-bedrock", messages=messages, tools=TOOLS)
    assert second.choices[0].message.content == "the tool said: 18C"

    stream = client.chat.completions.create(
        model="claude-bedrock", messages=messages[:1], tools=TOOLS, stream=True
    )
    name = arguments = ""
    finish = None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            if delta_call.function:
                name += delta_call.function.name or ""
                arguments += delta_call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, orjson.loads(arguments), finish) == (
        "get_weather",
        {"city": "Paris", "unit": "celsius"},
        "tool_calls",
    )


def test_converse_stream_text_with_usage(url: str, fake_bedrock: FakeBedrock) -> None:
    chunks = list(
        sdk(url).chat.completions.create(
            model="claude-bedrock",
            messages=[{"role": "user", "content": "stream this"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: stream this"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert fake_bedrock.requests[-1].path.endswith("/converse-stream")


def test_messages_api_through_bedrock(url: str) -> None:
    client = anthropic.Anthropic(base_url=url, api_key="k", max_retries=0)
    message = client.messages.create(
        model="claude-bedrock", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "echo: hi"
    with client.messages.stream(
        model="claude-bedrock", max_tokens=20, messages=[{"role": "user", "content": "yo"}]
    ) as s:
        assert "".join(s.text_stream) == "echo: yo"


def test_errors(url: str) -> None:
    client = sdk(url)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(
            model="bedrock/x-status-429", messages=[{"role": "user", "content": "x"}]
        )
    assert limited.value.code == "ThrottlingException"
    stream = client.chat.completions.create(
        model="bedrock/stream-error", messages=[{"role": "user", "content": "a b"}], stream=True
    )
    with pytest.raises(openai.APIError) as info:
        for _ in stream:
            pass
    assert "The model stream failed." in info.value.message


def test_a_wrong_secret_is_refused_by_the_signature_check(fake_bedrock: FakeBedrock) -> None:
    with serve_app(fake_bedrock.app()) as upstream:
        config = parse_config(f"""
llm:
  backends:
    aws: {{provider: bedrock, region: {REGION}, base_url: "{upstream}", access_key_id: {ACCESS_KEY}, secret_access_key: wrong}}
  models: [{{name: m, targets: [{{backend: aws, model: "{MODEL_ID}"}}]}}]
server: {{reload: false}}
""")
        with serve_app(create_app(config)) as gateway, pytest.raises(openai.PermissionDeniedError) as info:
            sdk(gateway).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "InvalidSignatureException"


def test_missing_credentials_fail_check_with_the_key_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as info:
        parse_config("llm: {backends: {aws: {provider: bedrock, region: us-east-1}}}", env={})
    assert [str(i) for i in info.value.issues] == [
        "llm.backends.aws.access_key_id: required (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment)"
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(
            "llm: {backends: {aws: {provider: bedrock, access_key_id: a, secret_access_key: b}}}", env={}
        )
    assert [str(i) for i in info.value.issues] == [
        "llm.backends.aws.region: required (or AWS_REGION in the environment)"
    ]
