"""The accounting observer: every finished exchange becomes one :class:`UsageRecord` in a buffer.

It runs on the request's path, so it only reads the exchange and does arithmetic: tokens the
upstream reported are taken as they are; missing ones are estimated (``accounting.estimate``) from
text the route already holds; the record goes into the writer's buffer, whose background task does
the I/O. Non-request MCP traffic (``initialize``, lists, pings) is not recorded: it is not usage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentgw.accounting.estimate import json_tokens, prompt_tokens, response_tokens, tool_result_tokens
from agentgw.accounting.prices import Prices
from agentgw.accounting.record import UsageRecord, next_record_id
from agentgw.exchange import Exchange, UpstreamCall, Usage
from agentgw.llm.usage_tap import STATE_KEY as STREAM_TEXT

__all__ = ["AccountingObserver", "RECORDED_MCP_METHODS"]

RECORDED_MCP_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
_CHARS_PER_TOKEN = 4


class AccountingObserver:
    """An :class:`~agentgw.exchange.ExchangeObserver` handing each record (:meth:`row`) to ``sink``."""

    def __init__(self, prices: Prices, sink: Callable[[tuple[Any, ...]], None], *, estimate: bool) -> None:
        self._prices = prices
        self._sink = sink
        self._estimate = estimate

    def start(self, exchange: Exchange) -> None:
        pass

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        pass

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        pass

    def end(self, exchange: Exchange) -> None:
        protocol = exchange.protocol
        if protocol == "mcp" and exchange.operation not in RECORDED_MCP_METHODS:
            return
        self._sink(self.row(exchange))

    def record(self, exchange: Exchange) -> UsageRecord:
        """The usage record of a finished ``exchange``."""
        return UsageRecord._make(self.row(exchange))

    def row(self, exchange: Exchange) -> tuple[Any, ...]:
        """The usage record of a finished ``exchange`` as a plain tuple, in :class:`UsageRecord`'s
        field order: what the writer buffers and the ledger takes as a row.

        Made on every request's path, so it is a tuple display rather than a named tuple: a plain
        tuple of numbers and strings is one allocation, and the garbage collector stops tracking it
        at its first pass (it does not untrack tuple subclasses), while it waits in the buffer.
        """
        protocol = exchange.protocol
        usage = exchange.usage
        estimated = False
        arg_tokens = result_tokens = None
        if protocol == "llm":
            if usage.input_tokens is None or usage.output_tokens is None:
                usage, estimated = self._llm_usage(exchange)
        elif protocol == "mcp" and exchange.operation == "tools/call":
            arg_tokens = json_tokens(exchange.tool_arguments) if exchange.tool_arguments is not None else 0
            result_tokens = (
                tool_result_tokens(exchange.tool_result) if exchange.tool_result is not None else 0
            )
        cost = self._prices.cost(kind=protocol, target=exchange.target, usage=usage)
        status = exchange.status
        error_type = exchange.error_type
        if protocol != "llm" and error_type is not None and status >= 400:
            cost = 0.0  # a refused or failed call is not billed per call
        started = exchange.started
        end = exchange.ended
        return (
            next_record_id(),
            exchange.started_at,
            exchange.principal or "anonymous",
            exchange.team,
            exchange.key,
            protocol,
            exchange.operation,
            exchange.target,
            exchange.backend,
            status,
            error_type,
            ((started if end is None else end) - started) * 1000.0,
            exchange.stream,
            exchange.request_bytes,
            exchange.response_bytes,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
            usage.reasoning_output_tokens,
            arg_tokens,
            result_tokens,
            estimated,
            cost,
        )

    def _llm_usage(self, exchange: Exchange) -> tuple[Usage, bool]:
        usage = exchange.usage
        complete = usage.input_tokens is not None and usage.output_tokens is not None
        # Nothing reached the upstream (refused, invalid) or it answered an error: nothing to estimate.
        if complete or not self._estimate or not exchange.upstream or exchange.request is None:
            return usage, False
        if exchange.status >= 400 and not exchange.stream:
            return usage, False
        input_tokens = usage.input_tokens
        if input_tokens is None:
            input_tokens = prompt_tokens(exchange.request)
        output_tokens = usage.output_tokens
        if output_tokens is None:
            if exchange.operation == "embeddings":
                output_tokens = 0
            elif exchange.stream:
                delivered = exchange.state.get(STREAM_TEXT, 0)
                output_tokens = (delivered + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN
            else:
                output_tokens = response_tokens(exchange.response) if exchange.response is not None else 0
        return (
            Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                reasoning_output_tokens=usage.reasoning_output_tokens,
            ),
            True,
        )
