"""The official openai SDK, sync and async, against the gateway in front of a fake OpenAI."""

from __future__ import annotations

import anyio
import httpx2
import openai
import pytest

from tests.agentgw.llm.conftest import Gateway
from tests.fakes.openai_server import API_KEY, FakeOpenAI

CLIENT_KEY = "sk-client-key-that-must-not-leak"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello gateway"}]


def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0, timeout=10)


def test_chat_non_streaming_matches_upstream(gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    completion = client(gateway).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.choices[0].message.content == "echo: hello gateway"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 3
    sent = fake_openai.requests[-1]
    assert sent.body["messages"] == MESSAGES


def test_client_credential_is_replaced_by_the_backend_key(gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": MESSAGES},
        headers={"authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY, "cookie": "session=abc"},
    ).raise_for_status()
    headers = fake_openai.requests[-1].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-api-key" not in headers and "cookie" not in headers
    assert all(CLIENT_KEY not in value for value in headers.values())


def test_alias_sends_the_target_model_upstream(gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    completion = client(gateway).chat.completions.create(model="alias", messages=MESSAGES)  # type: ignore[arg-type]
    assert fake_openai.requests[-1].body["model"] == "gpt-4o-mini"
    assert completion.model == "gpt-4o-mini"


def test_chat_streaming_passes_every_chunk_through(gateway: Gateway) -> None:
    direct = openai.OpenAI(base_url=f"{gateway.upstream}/v1", api_key=API_KEY, max_retries=0)
    via_gateway = list(
        client(gateway).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    )
    upstream = list(direct.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert len(via_gateway) == len(upstream) == 5  # role, three words, finish
    text = "".join(chunk.choices[0].delta.content or "" for chunk in via_gateway if chunk.choices)
    assert text == "echo: hello gateway"
    assert via_gateway[-1].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in via_gateway)


def test_chat_streaming_usage_when_asked(gateway: Gateway) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


@pytest.mark.anyio
async def test_async_client_chat_and_stream(gateway: Gateway) -> None:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0) as aclient:
        completion = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "echo: hello gateway"
        stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        assert "".join(parts) == "echo: hello gateway"


def test_concurrent_requests_each_get_their_own_answer(gateway: Gateway) -> None:
    async def main() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=f"{gateway.url}/v1", api_key=CLIENT_KEY, max_retries=0
        ) as aclient:
            results: list[str] = [""] * 40

            async def one(i: int) -> None:
                completion = await aclient.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}]
                )
                results[i] = completion.choices[0].message.content or ""

            async with anyio.create_task_group() as group:
                for i in range(40):
                    group.start_soon(one, i)
            return results

    assert anyio.run(main) == [f"echo: n{i}" for i in range(40)]


def test_embeddings_float_and_base64(gateway: Gateway) -> None:
    sdk = client(gateway)
    default = sdk.embeddings.create(
        model="text-embedding-3-small", input=["abc", "hello"]
    )  # base64 on the wire
    assert [d.embedding for d in default.data] == [[3.0, 4.0, 5.0, 6.0], [5.0, 6.0, 7.0, 8.0]]
    floats = sdk.embeddings.create(
        model="text-embedding-3-small", input="abc", encoding_format="float", dimensions=2
    )
    assert floats.data[0].embedding == [3.0, 4.0]
    assert floats.usage.prompt_tokens == 1


def test_models_list_and_retrieve(gateway: Gateway) -> None:
    sdk = client(gateway)
    ids = [model.id for model in sdk.models.list()]
    assert ids[:3] == ["gpt-4o-mini", "text-embedding-3-small", "alias"]
    assert len(ids) == 11
    model = sdk.models.retrieve("gpt-4o-mini")
    assert (model.id, model.object, model.owned_by) == ("gpt-4o-mini", "model", "openai")
    with pytest.raises(openai.NotFoundError) as info:
        sdk.models.retrieve("gpt-5-nonexistent")
    assert info.value.code == "model_not_found"
