"""The hand-written OTLP span encoding, decoded with the official opentelemetry-proto classes."""

from __future__ import annotations

import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from agentgw.telemetry.otlp import OTLPSpanSink, encode_spans
from agentgw.telemetry.propagation import parse_traceparent
from agentgw.telemetry.spans import CLIENT, SERVER, new_span
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
        encode_spans([client, server], {"service.name": "agentgw"}, "agentgw", "0.1.0")
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
        ExportTraceServiceRequest.FromString(encode_spans([root], {}, "agentgw", "x"))
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
    )
    await sink.start()
    span = new_span("chat m", SERVER, 1, {}, parent=None)
    span.end()
    sink.add(span)
    started = time.monotonic()
    await sink.stop()
    assert time.monotonic() - started < 2
    assert "OTLP span export" in caplog.text
