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
from agentgw.telemetry.exchange_spans import request_span, upstream_span
from agentgw.telemetry.genai import MCP_PROTOCOL_VERSION, PROMPT_NAME, TOOL_NAME, provider_name
from agentgw.telemetry.metrics import MetricSet
from agentgw.telemetry.native import speedups
from agentgw.telemetry.propagation import TraceParent, continue_from, traceparent_py
from agentgw.telemetry.spans import InFlight, SpanSink

__all__ = ["TelemetryObserver"]

_KEY = "telemetry"
_NS = 1_000_000_000
_time_ns = time.time_ns
_traceparent = traceparent_py if speedups is None else speedups.traceparent
_random_bits = random.getrandbits if speedups is None else speedups.random_bits
_record_llm = None if speedups is None else speedups.record_llm
_count = None if speedups is None else speedups.count


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
        if speedups is not None:
            # The hooks in C for LLM exchanges (no Python frame per request); they hand the rest
            # to this class's methods, the reference, which tests compare them with.
            hooks = speedups.Hooks(
                self,
                TelemetryObserver.start,
                TelemetryObserver.upstream_start,
                TelemetryObserver.upstream_end,
                TelemetryObserver.end,
                spans.add if spans is not None else None,
                metrics,
                self._record_metrics,
                _random_bits,
                _time_ns,
                self._sample_all,
                capture_content,
                access_log is not None,
            )
            self.start = hooks.start  # type: ignore[method-assign]
            self.upstream_start = hooks.upstream_start  # type: ignore[method-assign]
            self.upstream_end = hooks.upstream_end  # type: ignore[method-assign]
            self.end = hooks.end  # type: ignore[method-assign]

    # -- ExchangeObserver ----------------------------------------------------------------------------

    def start(self, exchange: Exchange) -> None:
        state = exchange.state
        if _KEY in state:
            return
        headers = exchange.headers
        parent = continue_from(headers) if "traceparent" in headers else None
        if self._spans is None:
            state[_KEY] = parent
            return
        # The span in flight is a plain tuple (InFlight), not an object: building one costs less
        # than the rest of the span's request-path work. Not sampled: the client's TraceParent.
        if parent is None:
            if not (self._sample_all or _random_bits(64) < self._sample_below):
                state[_KEY] = None
                return
            state[_KEY] = (
                _random_bits(128) or 1,
                _random_bits(64) or 1,
                None,
                int(exchange.started_at * _NS),
                False,
                "",
            )
        elif parent.sampled:
            state[_KEY] = (
                parent.trace_id,
                _random_bits(64) or 1,
                parent.span_id,
                int(exchange.started_at * _NS),
                True,
                parent.tracestate,
            )
        else:
            state[_KEY] = parent
            return
        if self._capture_content:
            exchange.capture_content = True

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        span: InFlight | TraceParent | None = exchange.state.get(_KEY)
        if span is None:
            return
        if isinstance(span, TraceParent):  # not sampled: the client's context, passed on
            call.headers["traceparent"] = span.header
            if span.tracestate:
                call.headers["tracestate"] = span.tracestate
            return
        span_id = _random_bits(64) or 1
        call.state[_KEY] = (span_id, _time_ns())
        call.headers["traceparent"] = _traceparent(span[0], span_id)
        if span[5]:
            call.headers["tracestate"] = span[5]

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        child: tuple[int, int] | None = call.state.pop(_KEY, None)
        if child is not None:
            assert self._spans is not None
            self._spans.add(
                upstream_span(exchange, call, exchange.state[_KEY], child[0], child[1], _time_ns())
            )
        if exchange.protocol == "a2a" and self.agent_outcome is not None:
            self.agent_outcome(call.backend, call.error_type)
        metrics = self._metrics
        if metrics is not None:
            labels = (exchange.protocol, call.backend, call.status, call.error_type)
            if _count is None or not _count(metrics.upstream_requests.series, labels):
                metrics.upstream_requests.add(1, labels)

    def end(self, exchange: Exchange) -> None:
        state = exchange.state
        if _KEY not in state:
            self.start(exchange)
        span: InFlight | TraceParent | None = state[_KEY]
        trace_id: int | None = None
        if span is not None:
            trace_id = span[0]
            if not isinstance(span, TraceParent):
                assert self._spans is not None
                self._spans.add(request_span(exchange, self._capture_content, span, _time_ns()))
        metrics = self._metrics
        if metrics is not None and (
            _record_llm is None or not _record_llm(metrics.requests.series, metrics.llm, exchange)
        ):
            self._record_metrics(metrics, exchange)
        if self._access_log is not None:
            self._access_log.info(access_record(exchange, trace_id).decode())

    def rejected(self, exchange: Exchange) -> None:
        """A request refused before any route took it (:mod:`agentgw.refusals`): counted and logged;
        it has no span, no operation having started."""
        if self._metrics is not None:
            self._metrics.requests.add(
                1, (exchange.protocol, exchange.route, exchange.status, exchange.team, exchange.error_type)
            )
        if self._access_log is not None:
            self._access_log.info(access_record(exchange, None).decode())

    def _record_metrics(self, metrics: MetricSet, exchange: Exchange) -> None:
        protocol, error = exchange.protocol, exchange.error_type
        duration = exchange.duration_s
        metrics.requests.add(1, (protocol, exchange.route, exchange.status, exchange.team, error))
        if protocol == "llm":
            # One lookup for the series of all four GenAI histograms (MetricSet.llm_series).
            operation, provider, model, response_model = (
                exchange.operation,
                exchange.provider,
                exchange.target,
                exchange.response_model,
            )
            key = (operation, provider, model, response_model, error)
            series = metrics.llm.get(key)
            if series is None:
                name = provider_name(provider) if provider is not None else None
                series = metrics.llm_series(key, (operation, name, model, response_model))
            usage, first_chunk = exchange.usage, exchange.first_chunk
            series.record(
                duration,
                usage.input_tokens,
                usage.output_tokens,
                first_chunk - exchange.started if first_chunk is not None else None,
            )
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
