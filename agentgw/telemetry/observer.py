"""The telemetry observer: spans, metrics and the access log from each :class:`Exchange`.

Spans: the request is a ``SERVER`` span continuing the client's ``traceparent`` and named by its
protocol's convention (``chat gpt-4o-mini``, ``tools/call weather_get``, ``SendMessage``); every
upstream call is a ``CLIENT`` child whose context is sent upstream as ``traceparent``.

On the request path a span costs its ids, two clock reads and a snapshot of the exchange's values
(:mod:`agentgw.telemetry.exchange_spans`); names and attributes are made from the snapshot when the
span is encoded. Metrics are one call into :class:`MetricSet` per request and per upstream call.

Sampling: a client's ``traceparent`` decides for the trace it continues; a new trace is recorded
with probability ``sample_ratio``. A request not sampled costs no span at all, and its client's
``traceparent``, if any, is passed upstream unchanged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from agentgw.exchange import Exchange, UpstreamCall
from agentgw.telemetry.access_log import access_record
from agentgw.telemetry.exchange_spans import request_values, upstream_values
from agentgw.telemetry.genai import MCP_PROTOCOL_VERSION, PROMPT_NAME, TOOL_NAME, provider_name
from agentgw.telemetry.marks import mark_observed
from agentgw.telemetry.metrics import MetricSet
from agentgw.telemetry.propagation import TraceParent, continue_from
from agentgw.telemetry.spans import CLIENT, SERVER, SpanRecord, SpanSink, child_of

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
        self.agent_outcome: Callable[[str, str | None], None] | None = None
        """Told each A2A call's backend and error type (the agents' ``agentgw.upstream.up``)."""

    # -- ExchangeObserver ----------------------------------------------------------------------------

    def start(self, exchange: Exchange) -> None:
        state = exchange.state
        if _KEY in state:
            return
        mark_observed()
        headers = exchange.headers
        parent = continue_from(headers) if "traceparent" in headers else None
        if self._spans is None or not self._sampled(parent):
            state[_KEY] = parent
            return
        state[_KEY] = child_of(parent, SERVER, int(exchange.started_at * _NS))
        if self._capture_content:
            exchange.capture_content = True

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        span: SpanRecord | TraceParent | None = exchange.state.get(_KEY)
        if span is None:
            return
        if type(span) is not SpanRecord:
            assert isinstance(span, TraceParent)
            call.headers["traceparent"] = span.header
            if span.tracestate:
                call.headers["tracestate"] = span.tracestate
            return
        child = child_of(span, CLIENT, time.time_ns())
        call.state[_KEY] = child
        call.headers["traceparent"] = child.traceparent
        if child.trace_state:
            call.headers["tracestate"] = child.trace_state

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        child: SpanRecord | None = call.state.pop(_KEY, None)
        if child is not None:
            assert self._spans is not None
            child.end_ns = time.time_ns()
            child.fixed = upstream_values(exchange, call)
            child.error = call.error_type is not None
            self._spans.add(child)
        if exchange.protocol == "a2a" and self.agent_outcome is not None:
            self.agent_outcome(call.backend, call.error_type)
        if self._metrics is not None:
            self._metrics.upstream_requests.add(
                1, (exchange.protocol, call.backend, call.status, call.error_type)
            )

    def end(self, exchange: Exchange) -> None:
        state = exchange.state
        if _KEY not in state:
            self.start(exchange)
        span: SpanRecord | TraceParent | None = state[_KEY]
        trace_id: int | None = None
        if span is not None:
            trace_id = span.trace_id
            if type(span) is SpanRecord:
                assert self._spans is not None
                span.end_ns = time.time_ns()
                span.fixed, span.variable = request_values(exchange, self._capture_content)
                span.error = exchange.error_type is not None
                self._spans.add(span)
        if self._metrics is not None:
            self._record_metrics(self._metrics, exchange)
        if self._access_log is not None:
            self._access_log.info(access_record(exchange, trace_id).decode())

    def rejected(self, exchange: Exchange) -> None:
        """A request refused before any route took it (:mod:`agentgw.telemetry.rejections`): counted
        and logged; it has no span, no operation having started."""
        if self._metrics is not None:
            self._metrics.requests.add(
                1, (exchange.protocol, exchange.route, exchange.status, exchange.team, exchange.error_type)
            )
        if self._access_log is not None:
            self._access_log.info(access_record(exchange, None).decode())

    def _sampled(self, parent: TraceParent | None) -> bool:
        if parent is not None:
            return parent.sampled
        return self._sample_all or random.getrandbits(64) < self._sample_below

    def _record_metrics(self, metrics: MetricSet, exchange: Exchange) -> None:
        protocol, error = exchange.protocol, exchange.error_type
        duration = exchange.duration_s
        metrics.requests.add(1, (protocol, exchange.route, exchange.status, exchange.team, error))
        if protocol == "llm":
            operation, model, response_model = exchange.operation, exchange.target, exchange.response_model
            provider = exchange.provider
            if provider is not None:
                provider = provider_name(provider)
            metrics.operation_duration.record(duration, (operation, provider, model, response_model, error))
            usage = exchange.usage
            if usage.input_tokens is not None:
                metrics.token_usage.record(
                    usage.input_tokens, (operation, provider, model, response_model, "input")
                )
            if usage.output_tokens is not None:
                metrics.token_usage.record(
                    usage.output_tokens, (operation, provider, model, response_model, "output")
                )
            if exchange.first_chunk is not None:
                ttfc = exchange.first_chunk - exchange.started
                metrics.time_to_first_chunk.record(ttfc, (operation, provider, model, response_model))
        elif protocol == "mcp":
            attributes = exchange.attributes
            metrics.mcp_operation_duration.record(
                duration,
                (
                    exchange.operation,
                    attributes.get(TOOL_NAME),
                    attributes.get(PROMPT_NAME),
                    attributes.get(MCP_PROTOCOL_VERSION),
                    error,
                ),
            )
