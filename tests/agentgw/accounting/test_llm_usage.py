"""LLM usage records: tokens as the upstream reported them, through the official SDKs; the usage
chunk the gateway asked for and the client did not is withheld; estimates are marked."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.accounting.support import accounting_yaml, read_records, sqlite_url
from tests.agentgw.llm.conftest import gateway_yaml
from tests.fakes.anthropic_server import API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic_server import CACHE_READ, CACHE_WRITE, FakeAnthropic
from tests.fakes.bedrock_server import ACCESS_KEY as BEDROCK_ACCESS_KEY
from tests.fakes.bedrock_server import REGION as BEDROCK_REGION
from tests.fakes.bedrock_server import SECRET_KEY as BEDROCK_SECRET_KEY
from tests.fakes.bedrock_server import FakeBedrock
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app, wait_for

PRICES = "{models: {gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.60}}}"


def test_token_totals_equal_what_the_upstream_reported(
    fake_openai: FakeOpenAI, fake_openai_url: str, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    config = parse_config(gateway_yaml(fake_openai_url) + accounting_yaml(url, prices=PRICES))
    seen_usage: list[Any] = []
    with serve_app(create_app(config)) as gateway:
        sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=10)

        def one(i: int) -> None:
            messages: Any = [{"role": "user", "content": " ".join(["word"] * (i % 7)) + f" n{i}"}]
            if i % 3 == 0:
                completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=messages)
                assert completion.choices[0].message.content == f"echo: {messages[0]['content']}"
                return
            asked = i % 3 == 2
            stream = sdk.chat.completions.create(
                model="gpt-4o-mini",
                messages=messages,
                stream=True,
                **({"stream_options": {"include_usage": True}} if asked else {}),
            )
            chunks = list(stream)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == f"echo: {messages[0]['content']}"
            if asked:  # the client asked: it sees the usage chunk, last, with no choices
                assert chunks[-1].choices == [] and chunks[-1].usage is not None
                seen_usage.append(chunks[-1].usage)
            else:  # it did not: no chunk without choices, and no usage anywhere
                assert all(c.choices for c in chunks)
                assert all(c.usage is None for c in chunks)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(30)))
    records = read_records(url)
    reported = fake_openai.usage_reported
    assert len(records) == len(reported) == 30
    assert len(seen_usage) == 10
    # The gateway asked every stream for usage, whatever the client asked.
    assert all(
        r.body.get("stream_options") == {"include_usage": True}
        for r in fake_openai.requests
        if r.body.get("stream")
    )
    assert sum(r.input_tokens or 0 for r in records) == sum(u["prompt_tokens"] for u in reported)
    assert sum(r.output_tokens or 0 for r in records) == sum(u["completion_tokens"] for u in reported)
    assert not any(r.estimated for r in records)
    assert {r.kind for r in records} == {"llm"} and {r.target for r in records} == {"gpt-4o-mini"}
    assert sum(r.stream for r in records) == 20
    assert all(r.principal == "anonymous" and r.status == 200 and r.bytes_in and r.bytes_out for r in records)
    expected_cost = sum(u["prompt_tokens"] * 0.15e-6 + u["completion_tokens"] * 0.60e-6 for u in reported)
    assert sum(r.cost_usd for r in records) == pytest.approx(expected_cost)


def _no_usage_upstream() -> Starlette:
    """An OpenAI-compatible server that reports no usage at all (as some local servers do)."""

    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        reply = "a reply of some forty characters, or so."
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": reply}
            payload = {
                **head,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
            return Response(orjson.dumps(payload), media_type="application/json")

        async def events() -> Any:
            for piece in (reply[:20], reply[20:]):
                choice = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                yield (
                    b"data: "
                    + orjson.dumps({**head, "object": "chat.completion.chunk", "choices": [choice]})
                    + b"\n\n"
                )
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def test_missing_usage_is_estimated_and_marked(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with serve_app(_no_usage_upstream()) as upstream:
        config = parse_config(f"""
server: {{reload: false}}
llm:
  backends: {{local: {{provider: openai, base_url: "{upstream}/v1"}}}}
  models: [{{name: local-model, targets: [{{backend: local}}]}}]
{accounting_yaml(url)}
""")
        with serve_app(create_app(config)) as gateway:
            sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=10)
            prompt = [{"role": "user", "content": "x" * 400}]
            sdk.chat.completions.create(model="local-model", messages=prompt)  # type: ignore[arg-type]
            chunks = list(sdk.chat.completions.create(model="local-model", messages=prompt, stream=True))  # type: ignore[arg-type]
            assert (
                "".join(c.choices[0].delta.content or "" for c in chunks)
                == "a reply of some forty characters, or so."
            )
    records = read_records(url)
    assert len(records) == 2
    for record in records:
        assert record.estimated
        assert 100 <= (record.input_tokens or 0) <= 110  # 400 characters, about 4 per token, plus framing
        assert record.output_tokens == 10  # 40 characters


def test_a_stream_cut_short_is_recorded_with_what_was_delivered(
    fake_openai: FakeOpenAI, fake_openai_url: str, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    config = parse_config(gateway_yaml(fake_openai_url) + accounting_yaml(url))
    body = {"model": "slow-stream", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    with serve_app(create_app(config)) as gateway:
        sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=10)
        with pytest.raises(openai.APIError):  # the upstream drops the connection after two words
            for _ in sdk.chat.completions.create(
                model="broken-stream",
                messages=[{"role": "user", "content": "one two three four"}],
                stream=True,
            ):
                pass
        # A client that leaves after a few chunks.
        with httpx2.stream("POST", f"{gateway}/v1/chat/completions", json=body, timeout=10) as response:
            lines = response.iter_lines()
            for _ in range(6):
                next(line for line in lines if line.startswith("data: "))
        wait_for(fake_openai.stream_disconnected.is_set, timeout=5)
    broken, left = sorted(read_records(url), key=lambda r: r.target or "")
    assert broken.target == "broken-stream" and broken.error_type is not None
    assert broken.estimated and (broken.input_tokens or 0) > 0
    assert broken.output_tokens == 3  # "echo:" and " one" delivered: 9 characters, 4 a token
    assert left.error_type == "client_disconnected" and left.estimated
    assert (left.output_tokens or 0) >= 1 and (left.bytes_out or 0) > 0


def test_anthropic_usage_counts_cache_tokens_as_input(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    fake = FakeAnthropic()
    with serve_app(fake.app()) as upstream:
        config = parse_config(f"""
server: {{reload: false}}
llm:
  backends:
    claude: {{provider: anthropic, base_url: "{upstream}", api_key: {ANTHROPIC_KEY}, default_max_tokens: 100}}
  models: [{{name: "claude-*", targets: [{{backend: claude}}]}}]
{accounting_yaml(url)}
""")
        with serve_app(create_app(config)) as gateway:
            client = anthropic.Anthropic(base_url=gateway, api_key="k", max_retries=0, timeout=10)
            messages: Any = [{"role": "user", "content": "hello there claude"}]
            created = client.messages.create(model="claude-x", max_tokens=50, messages=messages)
            with client.messages.stream(model="claude-x", max_tokens=50, messages=messages) as stream:
                streamed = stream.get_final_message()
            sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=10)
            chunks = list(sdk.chat.completions.create(model="claude-x", messages=messages, stream=True))
            assert all(c.choices for c in chunks)  # translated stream: the usage chunk withheld too
    records = read_records(url)
    assert len(records) == 3 and not any(r.estimated for r in records)
    for record, usage in zip(records[:2], (created.usage, streamed.usage), strict=True):
        assert record.input_tokens == usage.input_tokens + CACHE_READ + CACHE_WRITE
        assert record.cached_tokens == CACHE_READ
        assert record.output_tokens == usage.output_tokens
    # The chat request reaches the fake as another Messages body: the same answer, its own input count.
    assert records[2].output_tokens == records[0].output_tokens
    assert (records[2].input_tokens or 0) > CACHE_READ + CACHE_WRITE and records[
        2
    ].cached_tokens == CACHE_READ


def test_bedrock_stream_usage_comes_from_its_metadata_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", BEDROCK_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", BEDROCK_SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", BEDROCK_REGION)
    url = sqlite_url(tmp_path)
    with serve_app(FakeBedrock().app()) as upstream:
        config = parse_config(f"""
server: {{reload: false}}
llm:
  backends: {{aws: {{provider: bedrock, base_url: "{upstream}"}}}}
  models: [{{name: claude-bedrock, targets: [{{backend: aws, model: "anthropic.claude-3-5-sonnet-20240620-v1:0"}}]}}]
{accounting_yaml(url)}
""")
        with serve_app(create_app(config)) as gateway:
            sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=10)
            messages: Any = [{"role": "user", "content": "tell me about the sea"}]
            completion = sdk.chat.completions.create(model="claude-bedrock", messages=messages)
            chunks = list(sdk.chat.completions.create(model="claude-bedrock", messages=messages, stream=True))
            assert all(c.choices for c in chunks)  # the usage chunk the gateway asked for is withheld
    assert completion.usage is not None
    plain, streamed = read_records(url)
    for record in (plain, streamed):
        assert not record.estimated
        assert record.input_tokens == completion.usage.prompt_tokens
        assert record.output_tokens == completion.usage.completion_tokens
    assert streamed.stream and not plain.stream
