"""OTLP/HTTP (protobuf) export to a collector on 127.0.0.1, decoded with the OTLP protobuf types."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import anyio
import openai
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.telemetry.otlp import OTLPSpanSink
from agentgw.telemetry.spans import SERVER, new_span
from tests.agentgw.telemetry.conftest import telemetry_yaml
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app, wait_for


@dataclass
class Collector:
    """Accepts OTLP/HTTP exports as an OpenTelemetry Collector does, and keeps their bodies."""

    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)
    auth: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            self._note(request)
            self.traces.append(ExportTraceServiceRequest.FromString(await request.body()))
            return Response(b"", media_type="application/x-protobuf")

        async def metrics(request: Request) -> Response:
            self._note(request)
            self.metrics.append(ExportMetricsServiceRequest.FromString(await request.body()))
            return Response(b"", media_type="application/x-protobuf")

        return Starlette(
            routes=[
                Route("/v1/traces", traces, methods=["POST"]),
                Route("/v1/metrics", metrics, methods=["POST"]),
            ]
        )

    def _note(self, request: Request) -> None:
        self.content_types.add(request.headers.get("content-type", ""))
        self.auth.add(request.headers.get("x-collector-key", ""))


def test_spans_and_metrics_reach_the_collector(fake_openai_url: str, fake_openai: FakeOpenAI) -> None:
    collector = Collector()
    with serve_app(collector.app()) as endpoint:
        settings = f"{{otlp_endpoint: '{endpoint}', service_name: gw-test, sample_ratio: 1.0, otlp_headers: {{x-collector-key: s3cret}}}}"
        config = parse_config(telemetry_yaml(fake_openai_url, settings))
        with serve_app(create_app(config)) as url:
            sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
            sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        # Leaving the gateway's context ran its shutdown: spans flushed, last metrics pushed.

    assert collector.content_types == {"application/x-protobuf"}
    assert collector.auth == {"s3cret"}
    spans = [
        (span, resource.resource)
        for request in collector.traces
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = sorted(span.name for span, _ in spans)
    assert names == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    (server,) = [span for span, _ in spans if span.kind == Span.SPAN_KIND_SERVER]
    (client,) = [span for span, _ in spans if span.kind == Span.SPAN_KIND_CLIENT]
    assert client.parent_span_id == server.span_id and client.trace_id == server.trace_id
    assert (
        fake_openai.requests[-1].headers["traceparent"]
        == f"00-{client.trace_id.hex()}-{client.span_id.hex()}-01"
    )
    attributes = {kv.key: kv.value for kv in server.attributes}
    assert attributes["gen_ai.usage.input_tokens"].int_value > 0
    assert attributes["gen_ai.request.stream"].bool_value is False
    service = {a.key: a.value.string_value for a in spans[0][1].attributes}["service.name"]
    assert service == "gw-test"

    last = collector.metrics[-1]
    metrics = {
        metric.name: metric
        for resource in last.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    points = usage.histogram.data_points
    assert {p.attributes[-1].value.string_value for p in points} == {"input", "output"}
    assert list(points[0].explicit_bounds)[:3] == [1, 4, 16]
    assert metrics["gen_ai.client.operation.duration"].unit == "s"
    assert metrics["agentgw.requests"].sum.is_monotonic


def test_spans_wait_at_most_the_export_delay(fake_openai_url: str) -> None:
    collector = Collector()
    with serve_app(collector.app()) as endpoint:
        for delay, arrives in ((0.05, True), (3600, False)):
            settings = f"{{otlp_endpoint: '{endpoint}', sample_ratio: 1.0, span_export_delay_s: {delay}}}"
            with serve_app(create_app(parse_config(telemetry_yaml(fake_openai_url, settings)))) as url:
                sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
                sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
                if arrives:  # sent within the delay, while the gateway runs
                    wait_for(lambda: len(collector.traces) == 1, timeout=2)
                else:  # two spans are far from a full batch: they wait, and shutdown sends them
                    time.sleep(1.5)  # longer than the default delay: held by the setting
                    assert len(collector.traces) == 1
            assert len(collector.traces) == (1 if arrives else 2)
    assert all(len(request.resource_spans[0].scope_spans[0].spans) == 2 for request in collector.traces)


@pytest.mark.anyio
async def test_spans_queued_during_an_export_wait_for_a_full_batch_or_the_delay() -> None:
    # Under steady load spans keep arriving while a batch is POSTed: they must make the next
    # batch, not a POST of their own as soon as the last one returns (one every few requests).
    release = threading.Event()
    sizes: list[int] = []

    async def traces(request: Request) -> Response:
        body = ExportTraceServiceRequest.FromString(await request.body())
        sizes.append(len(body.resource_spans[0].scope_spans[0].spans))
        while not release.is_set():  # the first export is held: a slow collector
            await anyio.sleep(0.01)
        return Response(b"", media_type="application/x-protobuf")

    collector = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    span = new_span("chat m", SERVER, 1, {}, parent=None)
    span.end()
    frozen = span.frozen()
    with serve_app(collector) as endpoint:
        sink = OTLPSpanSink(
            endpoint, headers={}, resource={}, scope=("agentgw", "x"), timeout_s=5, delay_s=0.5
        )
        await sink.start()
        try:
            for _ in range(512):
                sink.add(frozen)
            with anyio.fail_after(5):
                while not sizes:
                    await anyio.sleep(0.01)
            for _ in range(5):  # arrive while the full batch is being sent
                sink.add(frozen)
            release.set()
            released = time.monotonic()
            with anyio.fail_after(5):
                while len(sizes) < 2:
                    await anyio.sleep(0.01)
            waited = time.monotonic() - released
        finally:
            await sink.stop()
    assert sizes == [512, 5]
    assert waited >= 0.4  # sent when the delay was up, not right after the first POST
