"""The hand-written OTLP span encoding, decoded with the official opentelemetry-proto classes."""

from __future__ import annotations

import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agentgw.exchange import Exchange, UpstreamCall, Usage
from agentgw.telemetry.observer import TelemetryObserver
from agentgw.telemetry.otlp import OTLPSpanSink, encode_spans
from agentgw.telemetry.propagation import parse_traceparent
from agentgw.telemetry.spans import CLIENT, SERVER, FrozenSpan, new_span, span_attributes, span_name
from tests.support.servers import free_port


def _value(kv: object) -> object:
    value = kv.value  # type: ignore[attr-defined]
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(v.string_value for v in value.array_value.values)
    return getattr(value, kind)


def test_spans_decode_with_the_official_classes() -> None:
    parent = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v")
    attributes = {
        "gen_ai.request.model": "gpt-4o-mini ✓",
        "gen_ai.request.stream": True,
        "gen_ai.usage.input_tokens": 300,
        "gen_ai.request.temperature": 0.25,
        "gen_ai.response.finish_reasons": ("stop", "length"),
        "negative": -5,
    }
    server = new_span("chat gpt-4o-mini", SERVER, 1_700_000_000_000_000_000, attributes, parent=parent)
    client = new_span(
        "chat gpt-4o-mini", CLIENT, 1_700_000_000_000_000_100, {"server.port": 443}, parent=server
    )
    client.error = True
    client.end()
    server.end()

    request = ExportTraceServiceRequest.FromString(
        encode_spans([client.frozen(), server.frozen()], {"service.name": "agentgw"}, "agentgw", "0.1.0")
    )
    (resource_spans,) = request.resource_spans
    assert {a.key: a.value.string_value for a in resource_spans.resource.attributes} == {
        "service.name": "agentgw"
    }
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("agentgw", "0.1.0")
    decoded_client, decoded_server = scope_spans.spans

    assert decoded_server.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert decoded_server.parent_span_id.hex() == "b7ad6b7169203331"
    assert decoded_server.span_id == server.span_id.to_bytes(8, "big")
    assert decoded_server.trace_state == "k=v"
    assert decoded_server.kind == Span.SPAN_KIND_SERVER
    assert decoded_server.name == "chat gpt-4o-mini"
    assert decoded_server.start_time_unix_nano == 1_700_000_000_000_000_000
    assert decoded_server.end_time_unix_nano == server.end_ns
    assert decoded_server.flags == 0x301  # sampled, parent is remote
    assert {kv.key: _value(kv) for kv in decoded_server.attributes} == {
        "gen_ai.request.model": "gpt-4o-mini ✓",
        "gen_ai.request.stream": True,
        "gen_ai.usage.input_tokens": 300,
        "gen_ai.request.temperature": 0.25,
        "gen_ai.response.finish_reasons": ("stop", "length"),
        "negative": -5,
    }
    assert decoded_server.status.code == Status.STATUS_CODE_UNSET

    assert decoded_client.parent_span_id == decoded_server.span_id
    assert decoded_client.trace_id == decoded_server.trace_id
    assert decoded_client.kind == Span.SPAN_KIND_CLIENT
    assert decoded_client.flags == 0x101  # sampled, parent is local
    assert decoded_client.status.code == Status.STATUS_CODE_ERROR
    assert [(kv.key, kv.value.int_value) for kv in decoded_client.attributes] == [("server.port", 443)]


def test_a_root_span_has_no_parent() -> None:
    root = new_span("chat m", SERVER, 1, {}, parent=None)
    root.end()
    (span,) = (
        ExportTraceServiceRequest.FromString(encode_spans([root.frozen()], {}, "agentgw", "x"))
        .resource_spans[0]
        .scope_spans[0]
        .spans
    )
    assert span.parent_span_id == b""
    assert int.from_bytes(span.trace_id, "big") == root.trace_id != 0


@pytest.mark.anyio
async def test_an_unreachable_collector_drops_spans_without_blocking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = OTLPSpanSink(
        f"http://127.0.0.1:{free_port()}",
        headers={},
        resource={"service.name": "agentgw"},
        scope=("agentgw", "x"),
        timeout_s=2,
        delay_s=1.0,
    )
    await sink.start()
    span = new_span("chat m", SERVER, 1, {}, parent=None)
    span.end()
    sink.add(span.frozen())
    started = time.monotonic()
    await sink.stop()
    assert time.monotonic() - started < 2
    assert "OTLP span export" in caplog.text


def _observed_spans(
    request: dict[str, object], response_id: str, *, traceparent: bool = True, failed: bool = True
) -> list[FrozenSpan]:
    """The two spans the observer makes of a finished chat exchange (continuing a client's trace)."""
    spans: list[FrozenSpan] = []

    class Sink:
        def add(self, span: FrozenSpan) -> None:
            spans.append(span)

        async def start(self) -> None:
            return None

        async def stop(self) -> None:
            return None

    observer = TelemetryObserver(spans=Sink(), metrics=None, access_log=None, capture_content=False)
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "k=v"}
    exchange = Exchange("llm", "/v1/chat/completions", "chat", headers if traceparent else {})
    exchange.target, exchange.backend, exchange.provider = "alias ✓", "main", "azure_openai"
    exchange.request = request
    observer.start(exchange)
    call = UpstreamCall("main", "gpt-4o-mini", "https://api.example.com/v1")
    exchange.upstream.append(call)
    observer.upstream_start(exchange, call)
    if traceparent:
        assert call.headers["tracestate"] == "k=v"
        assert call.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    call.status, call.error_type = (503, "upstream_error") if failed else (200, None)
    call.ended = time.perf_counter()
    observer.upstream_end(exchange, call)
    exchange.status, exchange.response_id, exchange.response_model = 200, response_id, "gpt-4o-mini"
    exchange.finish_reasons = ["stop", "length"]
    exchange.usage = Usage(200, 40, 20_000, None, 0)
    exchange.first_chunk = exchange.started + 0.25
    exchange.attributes["a2a.task.id"] = "t-1"
    exchange.ended = time.perf_counter()
    observer.end(exchange)
    return spans


@pytest.mark.parametrize(
    ("request_body", "response_id", "parameters"),
    [
        (
            {"model": "alias", "temperature": 0.5, "max_tokens": 64, "stop": ["a", "b"], "n": 2},
            "chatcmpl-1",
            {
                "gen_ai.request.temperature": 0.5,
                "gen_ai.request.max_tokens": 64,
                "gen_ai.request.stop_sequences": ("a", "b"),
                "gen_ai.request.choice.count": 2,
            },
        ),
        ({"model": "alias", "seed": 7}, "chatcmpl-" + "é" * 200, {"gen_ai.request.seed": 7}),
        (
            {"model": "alias", "n": 1, "stop": "x", "top_k": True},
            "",
            {"gen_ai.request.stop_sequences": ("x",)},
        ),
    ],
)
def test_observed_spans_encode_as_their_sdk_attributes(
    request_body: dict[str, object], response_id: str, parameters: dict[str, object]
) -> None:
    """The encoder's fast paths (cached fixed blocks, token counts, short and long strings) write
    what the SDK path (``span_attributes``) makes of the same span."""
    spans = _observed_spans(request_body, response_id)
    for _ in range(2):  # the second time from the encoder's caches
        decoded = ExportTraceServiceRequest.FromString(encode_spans(spans, {}, "agentgw", "x"))
        client, server = decoded.resource_spans[0].scope_spans[0].spans
        for span, frozen in ((client, spans[0]), (server, spans[1])):
            assert span.name == span_name(frozen)
            assert {kv.key: _value(kv) for kv in span.attributes} == span_attributes(frozen)
            assert len(span.attributes) == len(span_attributes(frozen))  # no key twice
    assert (server.name, client.name) == ("chat alias ✓", "chat gpt-4o-mini")
    assert server.trace_state == client.trace_state == "k=v"
    assert server.parent_span_id.hex() == "b7ad6b7169203331"
    assert client.parent_span_id == server.span_id
    assert client.status.code == Status.STATUS_CODE_ERROR
    assert server.status.code == Status.STATUS_CODE_UNSET
    attributes = span_attributes(spans[1])
    assert attributes["gen_ai.usage.input_tokens"] == 200
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 20_000
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 0
    assert attributes["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.25)
    assert attributes["gen_ai.response.id"] == response_id
    assert attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert attributes["a2a.task.id"] == "t-1"
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes
    found = {k: v for k, v in attributes.items() if k.startswith("gen_ai.request.")}
    assert found == {"gen_ai.request.model": "alias ✓", "gen_ai.request.stream": False, **parameters}
    upstream = span_attributes(spans[0])
    assert (upstream["server.address"], upstream["server.port"]) == ("api.example.com", 443)
    assert (upstream["http.response.status_code"], upstream["error.type"]) == (503, "upstream_error")


def test_a_plain_upstream_span_encodes_whole() -> None:
    """A root request and an upstream call with no trace state, no error: the encoder's one-call path."""
    spans = _observed_spans({"model": "alias"}, "chatcmpl-2", traceparent=False, failed=False)
    for _ in range(2):
        decoded = ExportTraceServiceRequest.FromString(encode_spans(spans, {}, "agentgw", "x"))
        client, server = decoded.resource_spans[0].scope_spans[0].spans
        for span, frozen in ((client, spans[0]), (server, spans[1])):
            assert span.name == span_name(frozen)
            assert {kv.key: _value(kv) for kv in span.attributes} == span_attributes(frozen)
            assert (span.start_time_unix_nano, span.end_time_unix_nano) == frozen[4:6]
            assert span.trace_state == ""
            assert span.status.code == Status.STATUS_CODE_UNSET
    assert server.parent_span_id == b""
    assert client.parent_span_id == server.span_id
    assert client.trace_id == server.trace_id == spans[1][0].to_bytes(16, "big")
    assert (client.flags, server.flags) == (0x101, 0x101)
    assert client.kind == Span.SPAN_KIND_CLIENT
    assert "error.type" not in span_attributes(spans[0])
