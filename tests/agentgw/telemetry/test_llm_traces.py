"""Spans of the OpenAI-compatible route, through the real ``openai`` SDK, in front of the fake upstream."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.telemetry.conftest import Traced, telemetry_yaml, traced_gateway
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app

MESSAGES = [{"role": "user", "content": "a secret prompt"}]


def _client(traced: Traced, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{traced.url}/v1", api_key="k", max_retries=0, default_headers=headers)


def _pair(spans: list[ReadableSpan]) -> tuple[ReadableSpan, ReadableSpan]:
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    (client,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    return server, client


def test_chat_completion_makes_a_server_span_and_an_upstream_child(
    traced: Traced, fake_openai: FakeOpenAI
) -> None:
    completion = _client(traced).chat.completions.create(
        model="alias", messages=MESSAGES, temperature=0.5, max_tokens=10, top_p=0.9, seed=7
    )
    server, client = _pair(traced.finished(2))

    assert server.name == "chat alias"
    assert client.name == "chat gpt-4o-mini"  # the model name sent upstream
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    assert server.status.status_code == StatusCode.UNSET
    attributes = dict(server.attributes or {})
    assert completion.usage is not None
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "alias",
        "gen_ai.request.stream": False,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 10,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 7,
        "gen_ai.provider.name": "openai",
        "gen_ai.response.id": completion.id,
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": completion.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": completion.usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": 0,
        "gen_ai.usage.reasoning.output_tokens": 0,
        "http.route": "/v1/chat/completions",
        "http.response.status_code": 200,
        "agentgw.protocol": "llm",
        "agentgw.backend": "fake",
    }
    upstream = dict(client.attributes or {})
    assert upstream["gen_ai.request.model"] == "gpt-4o-mini"
    assert upstream["gen_ai.provider.name"] == "openai"
    assert upstream["server.address"] == "127.0.0.1"
    assert isinstance(upstream["server.port"], int)
    assert upstream["http.response.status_code"] == 200

    # The upstream call's own span is the upstream's parent (W3C traceparent).
    sent = fake_openai.requests[-1].headers["traceparent"]
    assert sent == f"00-{client.context.trace_id:032x}-{client.context.span_id:016x}-01"


def test_streamed_chat_records_usage_from_the_final_chunk(traced: Traced) -> None:
    stream = _client(traced).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    usage = chunks[-1].usage
    assert usage is not None
    server, client = _pair(traced.finished(2))

    assert server.name == "chat gpt-4o-mini"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    attributes = dict(server.attributes or {})
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.response.id"] == chunks[0].id
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    ttfc = attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttfc, float) and 0 < ttfc < (server.end_time or 0) - (server.start_time or 0)
    assert "error.type" not in attributes


def test_stream_without_include_usage_has_no_usage(fake_openai_url: str) -> None:
    # Usage accounting (issue 8) asks every stream for its usage: without it, the client decides.
    with traced_gateway(fake_openai_url, extra="accounting: {enabled: false}\n") as traced:
        list(_client(traced).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
        server, _ = _pair(traced.finished(2))
    attributes = dict(server.attributes or {})
    assert "gen_ai.usage.input_tokens" not in attributes
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_the_client_trace_is_continued(traced: Traced, fake_openai: FakeOpenAI) -> None:
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    client = _client(traced, traceparent=f"00-{trace_id}-{parent_id}-01", tracestate="vendor=opaque")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    server, upstream = _pair(traced.finished(2))

    assert f"{server.context.trace_id:032x}" == trace_id
    assert server.parent is not None and f"{server.parent.span_id:016x}" == parent_id
    assert server.parent.is_remote
    headers = fake_openai.requests[-1].headers
    assert headers["traceparent"] == f"00-{trace_id}-{upstream.context.span_id:016x}-01"
    assert headers["tracestate"] == "vendor=opaque"


def test_an_invalid_traceparent_starts_a_new_trace(traced: Traced) -> None:
    client = _client(traced, traceparent="00-00000000000000000000000000000000-b7ad6b7169203331-01")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    server, _ = _pair(traced.finished(2))
    assert server.parent is None


def test_upstream_error_status_is_the_error_type(traced: Traced) -> None:
    with pytest.raises(openai.RateLimitError):
        _client(traced).chat.completions.create(model="rate-limited", messages=MESSAGES)
    server, client = _pair(traced.finished(2))
    assert server.status.status_code == StatusCode.ERROR
    assert dict(server.attributes or {})["error.type"] == "429"
    assert dict(server.attributes or {})["http.response.status_code"] == 429
    assert dict(client.attributes or {})["error.type"] == "429"


def test_unreachable_upstream_and_unknown_model(traced: Traced) -> None:
    with pytest.raises(openai.APIStatusError):
        _client(traced).chat.completions.create(model="unreachable", messages=MESSAGES)
    with pytest.raises(openai.NotFoundError):
        _client(traced).chat.completions.create(model="no-such-model", messages=MESSAGES)
    spans = traced.finished(3)
    unreachable = next(s for s in spans if s.name == "chat unreachable")
    assert dict(unreachable.attributes or {})["error.type"] == "upstream_unreachable"
    # No model was resolved: the span is named by the operation alone (no client-chosen names).
    not_found = next(s for s in spans if s.name == "chat")
    assert dict(not_found.attributes or {})["error.type"] == "model_not_found"


def test_a_stream_broken_upstream_is_an_error_on_the_span(traced: Traced) -> None:
    stream = _client(traced).chat.completions.create(model="broken-stream", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError):
        list(stream)
    server, client = _pair(traced.finished(2))
    assert server.status.status_code == StatusCode.ERROR
    assert dict(server.attributes or {})["error.type"] == "upstream_unreachable"
    assert dict(client.attributes or {})["error.type"] == "upstream_unreachable"


def test_content_is_not_captured_by_default(traced: Traced) -> None:
    _client(traced).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    for span in traced.finished(2):
        text = repr(dict(span.attributes or {}))
        assert "secret prompt" not in text
        assert "gen_ai.input.messages" not in text and "gen_ai.output.messages" not in text


def test_content_is_captured_when_enabled(fake_openai_url: str) -> None:
    with traced_gateway(fake_openai_url, "{capture_content: true}") as traced:
        _client(traced).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        server, _ = _pair(traced.finished(2))
    attributes = dict(server.attributes or {})
    assert attributes["gen_ai.input.messages"] == (
        '[{"role":"user","parts":[{"type":"text","content":"a secret prompt"}]}]'
    )
    assert '"content":"echo: a secret prompt"' in str(attributes["gen_ai.output.messages"])


def test_streamed_content_is_assembled_when_enabled(fake_openai_url: str) -> None:
    with traced_gateway(fake_openai_url, "{capture_content: true}") as traced:
        chunks = list(
            _client(traced).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        )
        server, _ = _pair(traced.finished(2))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1  # really in pieces
    attributes = dict(server.attributes or {})
    assert '"content":"a secret prompt"' in str(attributes["gen_ai.input.messages"])
    assert attributes["gen_ai.output.messages"] == (
        f'[{{"role":"assistant","parts":[{{"type":"text","content":"{streamed}"}}],"finish_reason":"stop"}}]'
    )


def test_streamed_content_is_not_captured_by_default(traced: Traced) -> None:
    list(_client(traced).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    server, _ = _pair(traced.finished(2))
    assert "gen_ai.output.messages" not in dict(server.attributes or {})


def test_embeddings_span(traced: Traced) -> None:
    _client(traced).embeddings.create(model="text-embedding-3-small", input="hello world", dimensions=8)
    server, _ = _pair(traced.finished(2))
    assert server.name == "embeddings text-embedding-3-small"
    attributes = dict(server.attributes or {})
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.embeddings.dimension.count"] == 8
    assert attributes["gen_ai.usage.input_tokens"] == 2
    assert "gen_ai.usage.output_tokens" not in attributes


def test_without_a_tracer_the_client_traceparent_is_passed_on(
    fake_openai_url: str, fake_openai: FakeOpenAI
) -> None:
    value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with serve_app(create_app(parse_config(telemetry_yaml(fake_openai_url, "{}")))) as url:
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="k", default_headers={"traceparent": value})
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert fake_openai.requests[-1].headers["traceparent"] == value


def test_sampling_follows_the_client_then_the_ratio(fake_openai_url: str, fake_openai: FakeOpenAI) -> None:
    sampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    not_sampled = "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    with traced_gateway(fake_openai_url, "{sample_ratio: 0}") as traced:
        _client(traced).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert "traceparent" not in fake_openai.requests[-1].headers
        _client(traced, traceparent=not_sampled).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
        assert fake_openai.requests[-1].headers["traceparent"] == not_sampled
        _client(traced, traceparent=sampled).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        spans = traced.finished(2)
    assert len(spans) == 2  # only the trace the client sampled
    assert {f"{s.context.trace_id:032x}" for s in spans} == {sampled[3:35]}
