"""Every error reaches the client in OpenAI's error format with the right status."""

from __future__ import annotations

import httpx2
import openai
import pytest

from tests.agentgw.llm.conftest import Gateway
from tests.agentgw.llm.test_chat_completions import MESSAGES, client


def post(gateway: Gateway, content: bytes, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json", **(headers or {})},
    )


def error_of(response: httpx2.Response) -> dict[str, object]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, object] = body["error"]
    return error


def test_unknown_model_is_404_model_not_found(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(gateway).chat.completions.create(model="gpt-nope", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"
    assert "gpt-nope" in info.value.message


@pytest.mark.parametrize(
    ("content", "needle", "param"),
    [
        (b"{not json", "not valid JSON", None),
        (b"[1, 2]", "must be a JSON object, got array", None),
        (b"", "empty", None),
        (b'{"messages": []}', "missing required parameter: 'model'", "model"),
        (b'{"model": 5, "messages": []}', "'model' must be a non-empty string, got number", "model"),
        (b'{"model": "gpt-4o-mini"}', "missing required parameter: 'messages'", "messages"),
        (
            b'{"model": "gpt-4o-mini", "messages": "hi"}',
            "'messages' must be an array, got string",
            "messages",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [], "stream": "yes"}',
            "'stream' must be a boolean",
            "stream",
        ),
    ],
)
def test_malformed_requests_are_400_with_a_reason(
    gateway: Gateway, content: bytes, needle: str, param: str | None
) -> None:
    response = post(gateway, content)
    assert response.status_code == 400
    error = error_of(response)
    assert needle in str(error["message"])
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_missing_embedding_input_via_sdk(gateway: Gateway) -> None:
    response = httpx2.post(f"{gateway.url}/v1/embeddings", json={"model": "text-embedding-3-small"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "input"


def test_oversized_body_is_413(gateway: Gateway) -> None:
    big = [{"role": "user", "content": "x" * 5000}]
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway).chat.completions.create(model="gpt-4o-mini", messages=big)  # type: ignore[arg-type]
    assert info.value.status_code == 413
    assert info.value.code == "request_too_large"


def test_oversized_chunked_body_is_413(gateway: Gateway) -> None:
    def chunks() -> object:
        for _ in range(10):
            yield b"x" * 1000

    response = httpx2.post(f"{gateway.url}/v1/chat/completions", content=chunks())  # type: ignore[arg-type]
    assert response.status_code == 413


def test_oversized_upstream_response_is_502_not_truncated(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway).embeddings.create(
            model="text-embedding-3-small", input="x", encoding_format="float", dimensions=400
        )
    assert info.value.status_code == 502
    assert "over the 2048-byte limit" in info.value.message


def test_upstream_rate_limit_is_relayed(gateway: Gateway) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client(gateway).chat.completions.create(model="rate-limited", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "20"


@pytest.mark.parametrize(("model", "status"), [("broken", 500), ("overloaded", 503)])
def test_upstream_5xx_is_relayed_with_its_status(gateway: Gateway, model: str, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client(gateway).chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == status
    assert info.value.type == "server_error"


def test_upstream_non_json_error_is_wrapped(gateway: Gateway) -> None:
    response = post(gateway, b'{"model": "html", "messages": [{"role": "user", "content": "x"}]}')
    assert response.status_code == 502
    error = error_of(response)
    assert error["type"] == "upstream_error"
    assert "502 Bad Gateway" in str(error["message"])


def test_streaming_request_upstream_error_keeps_its_status(gateway: Gateway) -> None:
    with pytest.raises(openai.RateLimitError):
        client(gateway).chat.completions.create(model="rate-limited", messages=MESSAGES, stream=True)  # type: ignore[arg-type]


def test_unreachable_upstream_is_502(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway).chat.completions.create(model="unreachable", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    assert info.value.code == "upstream_unreachable"
    assert "dead" in info.value.message


def test_upstream_timeout_is_504(gateway: Gateway) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client(gateway).chat.completions.create(model="slow", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 504
    assert info.value.code == "upstream_timeout"


def test_stream_broken_mid_way_raises_in_the_sdk(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(model="broken-stream", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3  # role and two words: what the upstream sent before it dropped
    assert "broke the connection" in info.value.message


def test_unknown_route_and_method_are_json(gateway: Gateway) -> None:
    missing = httpx2.get(f"{gateway.url}/v1/nothing")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = httpx2.get(f"{gateway.url}/v1/chat/completions")
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"
