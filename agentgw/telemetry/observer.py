"""The telemetry observer: spans, metrics and the access log from each :class:`Exchange`.

Spans: the request is a ``SERVER`` span continuing the client's ``traceparent`` and named by its
protocol's convention (``chat gpt-4o-mini``, ``tools/call weather_get``, ``SendMessage``); every
upstream call is a ``CLIENT`` child whose context is sent upstream as ``traceparent``. Attributes are
computed only for recorded (sampled) spans.

Sampling: a client's ``traceparent`` decides for the trace it continues; a new trace is recorded
with probability ``sample_ratio``. A request not sampled costs no span at all, and its client's
``traceparent``, if any, is passed upstream unchanged.
"""

from __future__ import annotations

import logging
import random
import time
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from agentgw.exchange import Exchange, UpstreamCall
from agentgw.telemetry import genai
from agentgw.telemetry.access_log import access_record
from agentgw.telemetry.metrics import Attributes, MetricSet
from agentgw.telemetry.propagation import TraceParent, continue_from
from agentgw.telemetry.spans import CLIENT, SERVER, SpanRecord, SpanSink, new_span

__all__ = ["TelemetryObserver"]

_KEY = "telemetry"
_NS = 1_000_000_000


class TelemetryObserver:
    """An :class:`~agentgw.exchange.ExchangeObserver`; each of its parts may be off (``None``)."""

    def __init__(
        self,
        *,
        spans: SpanSink | None,
        metrics: MetricSet | None,
        access_log: logging.Logger | None,
        capture_content: bool,
        sample_ratio: float = 1.0,
    ) -> None:
        self._spans = spans
        self._metrics = metrics
        self._access_log = access_log
        self._capture_content = capture_content
        self._sample_all = sample_ratio >= 1.0
        self._sample_below = round(sample_ratio * (1 << 64))
        self._servers: dict[str, tuple[str | None, int | None]] = {}

    # -- ExchangeObserver ----------------------------------------------------------------------------

    def start(self, exchange: Exchange) -> None:
        if _KEY in exchange.state:
            return
        parent = continue_from(exchange.headers) if "traceparent" in exchange.headers else None
        if self._spans is None or not self._sampled(parent):
            exchange.state[_KEY] = parent
            return
        start_ns = int(exchange.started_at * _NS)
        attributes = self._start_attributes(exchange)
        exchange.state[_KEY] = new_span(_span_name(exchange), SERVER, start_ns, attributes, parent=parent)

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        span: SpanRecord | TraceParent | None = exchange.state.get(_KEY)
        if span is None:
            return
        if isinstance(span, TraceParent):
            call.headers["traceparent"] = span.header
            if span.tracestate:
                call.headers["tracestate"] = span.tracestate
            return
        child = new_span(
            _call_name(exchange, call),
            CLIENT,
            time.time_ns(),
            self._call_attributes(exchange, call),
            parent=span,
        )
        call.state[_KEY] = child
        call.headers["traceparent"] = child.traceparent
        if child.trace_state:
            call.headers["tracestate"] = child.trace_state

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        child: SpanRecord | None = call.state.pop(_KEY, None)
        if child is not None:
            assert self._spans is not None
            if call.status is not None:
                child.attributes[genai.HTTP_STATUS] = call.status
            if call.error_type is not None:
                child.attributes[genai.ERROR_TYPE] = call.error_type
                child.error = True
            child.end()
            self._spans.add(child)
        if self._metrics is not None:
            attributes: Attributes = ((genai.PROTOCOL, exchange.protocol), (genai.BACKEND, call.backend))
            if call.status is not None:
                attributes += ((genai.HTTP_STATUS, call.status),)
            if call.error_type is not None:
                attributes += ((genai.ERROR_TYPE, call.error_type),)
            self._metrics.upstream_requests.add(1, attributes)

    def end(self, exchange: Exchange) -> None:
        if _KEY not in exchange.state:
            self.start(exchange)
        span: SpanRecord | TraceParent | None = exchange.state[_KEY]
        if isinstance(span, SpanRecord):
            assert self._spans is not None
            if span.name != (name := _span_name(exchange)):
                span.name = name
            span.attributes.update(self._end_attributes(exchange))
            span.error = exchange.error_type is not None
            span.end()
            self._spans.add(span)
        if self._metrics is not None:
            self._record_metrics(exchange)
        if self._access_log is not None:
            trace_id = None if span is None else f"{span.trace_id:032x}"
            self._access_log.info(access_record(exchange, trace_id).decode())

    # -- parts ---------------------------------------------------------------------------------------

    def _sampled(self, parent: TraceParent | None) -> bool:
        if parent is not None:
            return parent.sampled
        return self._sample_all or random.getrandbits(64) < self._sample_below

    def _start_attributes(self, exchange: Exchange) -> dict[str, AttributeValue]:
        protocol = exchange.protocol
        if protocol == "llm":
            attributes = genai.genai_start_attributes(exchange)
            if self._capture_content and exchange.request is not None:
                messages = genai.input_messages(exchange.request)
                if messages is not None:
                    attributes[genai.INPUT_MESSAGES] = messages
        elif protocol == "mcp":
            attributes = {genai.MCP_METHOD_NAME: exchange.operation}
        else:
            attributes = {genai.A2A_METHOD_NAME: exchange.operation}
        attributes[genai.HTTP_ROUTE] = exchange.route
        attributes[genai.PROTOCOL] = protocol
        return attributes

    def _end_attributes(self, exchange: Exchange) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {}
        if exchange.protocol != "mcp":  # MCP: the JSON-RPC outcome (rpc.response.status_code) instead
            attributes[genai.HTTP_STATUS] = exchange.status
        if exchange.protocol == "llm":
            attributes.update(genai.genai_end_attributes(exchange))
            if self._capture_content and exchange.response is not None:
                messages = genai.output_messages(exchange.response)
                if messages is not None:
                    attributes[genai.OUTPUT_MESSAGES] = messages
        if exchange.backend is not None:
            attributes[genai.BACKEND] = exchange.backend
        if exchange.error_type is not None:
            attributes[genai.ERROR_TYPE] = exchange.error_type
        attributes.update(exchange.attributes)
        return attributes

    def _call_attributes(self, exchange: Exchange, call: UpstreamCall) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {genai.BACKEND: call.backend}
        if exchange.protocol == "llm":
            attributes[genai.OPERATION_NAME] = exchange.operation
            if exchange.provider is not None:
                attributes[genai.PROVIDER_NAME] = genai.provider_name(exchange.provider)
            if call.model is not None:
                attributes[genai.REQUEST_MODEL] = call.model
        elif exchange.protocol == "mcp":
            attributes[genai.MCP_METHOD_NAME] = exchange.operation
            if call.target is not None:
                if exchange.operation == "tools/call":
                    attributes[genai.TOOL_NAME] = call.target
                    attributes[genai.OPERATION_NAME] = "execute_tool"
                elif exchange.operation == "prompts/get":
                    attributes[genai.PROMPT_NAME] = call.target
        if call.url is not None:
            address, port = self._server(call.url)
            if address is not None:
                attributes[genai.SERVER_ADDRESS] = address
            if port is not None:
                attributes[genai.SERVER_PORT] = port
        return attributes

    def _server(self, url: str) -> tuple[str | None, int | None]:
        server = self._servers.get(url)
        if server is None:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            server = self._servers[url] = (parts.hostname, port)
        return server

    def _record_metrics(self, exchange: Exchange) -> None:
        metrics = self._metrics
        assert metrics is not None
        duration = exchange.duration_s
        error = exchange.error_type
        requests: Attributes = (
            (genai.PROTOCOL, exchange.protocol),
            (genai.HTTP_ROUTE, exchange.route),
            (genai.HTTP_STATUS, exchange.status),
        )
        if exchange.team is not None:
            requests += ((genai.TEAM, exchange.team),)
        if error is not None:
            requests += ((genai.ERROR_TYPE, error),)
        metrics.requests.add(1, requests)
        if exchange.protocol == "llm":
            base: Attributes = ((genai.OPERATION_NAME, exchange.operation),)
            if exchange.provider is not None:
                base += ((genai.PROVIDER_NAME, genai.provider_name(exchange.provider)),)
            if exchange.target is not None:
                base += ((genai.REQUEST_MODEL, exchange.target),)
            if exchange.response_model is not None:
                base += ((genai.RESPONSE_MODEL, exchange.response_model),)
            metrics.operation_duration.record(
                duration, base if error is None else base + ((genai.ERROR_TYPE, error),)
            )
            usage = exchange.usage
            if usage.input_tokens is not None:
                metrics.token_usage.record(usage.input_tokens, base + ((genai.TOKEN_TYPE, "input"),))
            if usage.output_tokens is not None:
                metrics.token_usage.record(usage.output_tokens, base + ((genai.TOKEN_TYPE, "output"),))
            ttfc = exchange.time_to_first_chunk_s
            if ttfc is not None:
                metrics.time_to_first_chunk.record(ttfc, base)
        elif exchange.protocol == "mcp":
            attributes: Attributes = ((genai.MCP_METHOD_NAME, exchange.operation),)
            for name in (genai.TOOL_NAME, genai.PROMPT_NAME, genai.MCP_PROTOCOL_VERSION):
                value = exchange.attributes.get(name)
                if value is not None:
                    attributes += ((name, value),)
            if error is not None:
                attributes += ((genai.ERROR_TYPE, error),)
            metrics.mcp_operation_duration.record(duration, attributes)


def _span_name(exchange: Exchange) -> str:
    # GenAI: "{gen_ai.operation.name} {gen_ai.request.model}"; MCP: "{mcp.method.name} {target}";
    # A2A: "{a2a.method.name}".
    if exchange.protocol == "a2a" or exchange.target is None:
        return exchange.operation
    return f"{exchange.operation} {exchange.target}"


def _call_name(exchange: Exchange, call: UpstreamCall) -> str:
    if exchange.protocol == "llm" and call.model is not None:
        return f"{exchange.operation} {call.model}"
    if exchange.protocol == "mcp":  # the MCP client span: "{mcp.method.name} {target}", upstream's name
        return exchange.operation if call.target is None else f"{exchange.operation} {call.target}"
    return f"{exchange.operation} {call.backend}"
