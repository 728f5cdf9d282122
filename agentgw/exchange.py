"""One client request as the gateway saw it, whatever the protocol, and the hooks that observe it.

A route fills an :class:`Exchange` as the request goes (what was asked, where it went, what came
back, the tokens used, how long it took) and tells an :class:`ExchangeObserver` at four points:
start, each upstream call's start and end, and the end. Telemetry (spans, metrics, the access log)
is one observer; usage accounting will be another. Observers run on the request's path: they must
be cheap and must not raise.

The record is plain data, filled with values the route has anyway; nothing here parses or copies
a body. A route's part, in order (``agentgw/llm/routes.py`` is the worked example)::

    exchange = Exchange("mcp", "/mcp", "tools/call", request.headers)   # on arrival
    exchange.target = tool_name; exchange.attributes["gen_ai.tool.name"] = tool_name
    observer.start(exchange)                     # once operation and target are known
    call = UpstreamCall(server_name, url=upstream_url); exchange.upstream.append(call)
    observer.upstream_start(exchange, call)      # then send call.headers (traceparent) upstream
    ...                                          # call.status / call.error_type, then
    call.ended = time.perf_counter(); observer.upstream_end(exchange, call)
    exchange.status = 200; exchange.error_type = "tool_error" if is_error else None
    exchange.ended = time.perf_counter(); observer.end(exchange)   # after the last byte
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["Exchange", "ExchangeObserver", "Observers", "UpstreamCall", "Usage", "finish", "record_abort"]

WireProtocol = Literal["llm", "mcp", "a2a"]


@dataclass(slots=True)
class Usage:
    """Tokens as the upstream reported them; ``None`` where it reported nothing.

    ``input_tokens`` includes the cached ones (``cache_read``/``cache_creation`` are breakdowns of
    it) and ``output_tokens`` includes the reasoning ones, as OpenAI reports them.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None

    @property
    def reported(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


@dataclass(slots=True)
class UpstreamCall:
    """One attempt at an upstream (a retry or a fallback makes another)."""

    backend: str
    """The configured backend, server or agent name."""
    model: str | None = None
    """The model name sent upstream (LLM)."""
    url: str | None = None
    """The upstream's base URL (``server.address``/``server.port`` come from it)."""
    target: str | None = None
    """What the call addresses upstream besides a model: the tool or prompt by its upstream name (MCP)."""
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    status: int | None = None
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """Headers observers want sent upstream with this call (``traceparent``); the route sends them."""
    state: dict[str, Any] = field(default_factory=dict)
    """Per-observer scratch space, keyed by the observer's name."""


@dataclass(slots=True)
class Exchange:
    """One request from a client, from arrival to the last byte of its response."""

    protocol: WireProtocol
    route: str
    """The route template, low-cardinality: ``/v1/chat/completions``, ``/mcp``, ``/a2a/{agent}``."""
    operation: str
    """What was asked: ``chat``/``embeddings`` (``gen_ai.operation.name``), an MCP method
    (``tools/call``), an A2A method (``SendMessage``)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """The client's request headers (read for ``traceparent``; never logged)."""
    started: float = field(default_factory=time.perf_counter)
    started_at: float = field(default_factory=time.time)
    """Wall-clock start (seconds since the epoch), for logs and span timestamps."""
    target: str | None = None
    """What the request addresses: the model, the tool, the agent."""
    principal: str | None = None
    """Who made the request (set by authentication)."""
    team: str | None = None
    key: str | None = None
    """The configured name of the API key the principal authenticated with (``None`` for a JWT)."""
    backend: str | None = None
    provider: str | None = None
    """The upstream's kind (``openai``, ...): ``gen_ai.provider.name`` for LLM calls."""
    stream: bool = False
    request: Mapping[str, Any] | None = None
    """The parsed request body, when the route parsed it anyway (request parameters, opt-in content)."""
    response: Mapping[str, Any] | None = None
    """The parsed response body of a non-streamed answer, when the route parsed it."""
    capture_content: bool = False
    """Set by an observer's ``start`` that records content (opt-in): a streamed response's text is
    then assembled into ``response``, as a non-streamed answer's would be."""
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    request_bytes: int | None = None
    """Size of the client's request body, where the route read it whole."""
    response_bytes: int | None = None
    """Bytes of response body sent to the client (a stream's as relayed so far)."""
    tool_arguments: Mapping[str, Any] | None = None
    """MCP ``tools/call``: the arguments as the client sent them (usage accounting counts their tokens)."""
    tool_result: Any = None
    """MCP ``tools/call``: the upstream's result (``CallToolResult``), for the tokens it will cost in
    the model's context."""
    first_chunk: float | None = None
    """``perf_counter`` time of the first body chunk of a streamed response."""
    ended: float | None = None
    status: int = 0
    """HTTP status sent to the client (a stream that fails mid-way keeps its 200)."""
    error_type: str | None = None
    """Why the request failed, low-cardinality (``upstream_timeout``, ``tool_error``, ``500``)."""
    attributes: dict[str, str | bool | int | float] = field(default_factory=dict)
    """Protocol-specific attributes by their semantic-convention name (``mcp.session.id``,
    ``a2a.task.id``, ``gen_ai.tool.name``), put on the request's span as they are."""
    upstream: list[UpstreamCall] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    """Per-observer scratch space, keyed by the observer's name."""

    @property
    def duration_s(self) -> float:
        end = self.ended if self.ended is not None else time.perf_counter()
        return end - self.started

    @property
    def time_to_first_chunk_s(self) -> float | None:
        return None if self.first_chunk is None else self.first_chunk - self.started


class ExchangeObserver(Protocol):
    """Told about every exchange. Implementations must be cheap and must not raise."""

    def start(self, exchange: Exchange) -> None:
        """The request arrived and was routed far enough to fill ``operation`` and ``target``."""
        ...

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        """``call`` is about to be sent; headers added to ``call.headers`` are sent with it."""
        ...

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        """``call`` ended (its response was read or relayed to the end, or it failed)."""
        ...

    def end(self, exchange: Exchange) -> None:
        """The response is complete; the record is final."""
        ...


class Observers:
    """Several observers as one, called in order.

    Nested :class:`Observers` are flattened, and each hook's bound methods are looked up once: the
    four calls run on every request, for every observer (telemetry, accounting, limits).
    """

    _observers: tuple[ExchangeObserver, ...]

    def __init__(self, observers: Sequence[ExchangeObserver]) -> None:
        flat: list[ExchangeObserver] = []
        for observer in observers:
            flat.extend(observer._observers if isinstance(observer, Observers) else (observer,))
        self._observers = tuple(flat)
        self._starts = tuple(o.start for o in flat)
        self._upstream_starts = tuple(o.upstream_start for o in flat)
        self._upstream_ends = tuple(o.upstream_end for o in flat)
        self._ends = tuple(o.end for o in flat)

    def start(self, exchange: Exchange) -> None:
        for start in self._starts:
            start(exchange)

    def upstream_start(self, exchange: Exchange, call: UpstreamCall) -> None:
        for upstream_start in self._upstream_starts:
            upstream_start(exchange, call)

    def upstream_end(self, exchange: Exchange, call: UpstreamCall) -> None:
        for upstream_end in self._upstream_ends:
            upstream_end(exchange, call)

    def end(self, exchange: Exchange) -> None:
        for end in self._ends:
            end(exchange)


def finish(observer: ExchangeObserver, exchange: Exchange) -> None:
    """End ``exchange`` now: close any upstream call still open, then tell ``observer`` it ended."""
    now = time.perf_counter()
    for call in exchange.upstream:
        if call.ended is None:
            call.ended = now
            observer.upstream_end(exchange, call)
    exchange.ended = now
    observer.end(exchange)


def record_abort(exchange: Exchange, exc: BaseException) -> None:
    """Record a request that ended by cancellation (the client left: 499) or by a bug (500)."""
    cancelled = isinstance(exc, asyncio.CancelledError)
    exchange.status = 499 if cancelled else 500
    exchange.error_type = "client_disconnected" if cancelled else type(exc).__qualname__
