"""Sending one request along its :class:`~agentgw.llm.router.Plan`: fallback, retries, health.

An attempt fails over to the next target when its failure is one of the model's ``fallback_on``
conditions (an upstream 429 or 5xx, a timeout, a connection that could not be made) and the retry
budget (``retry.attempts``) is not spent. Only failures before the response started count: a
stream's first chunk is awaited before the response is handed back, so a stream that breaks before
its first byte falls back too, and one that breaks later is the relay's to report in-band.

Retry-After: a target that answers with one is out for that long; when the budget sends the same
target a second time, its Retry-After (up to ``retry.max_retry_after_s``) or an exponential backoff
with jitter is waited out first.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from agentgw.config.providers import BackendConfig
from agentgw.config.routing import FallbackCondition
from agentgw.errors import (
    GatewayError,
    InvalidRequest,
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from agentgw.exchange import Exchange, ExchangeObserver, UpstreamCall
from agentgw.llm.providers.base import UpstreamResponse
from agentgw.llm.request import LLMRequest
from agentgw.llm.router import Plan, Route

__all__ = ["Attempts", "ExchangeAttempts", "send_with_fallback"]

log = logging.getLogger("agentgw")

_ERROR_BODY_LIMIT = 64 * 1024


class Attempts(Protocol):
    """Told about each upstream attempt (telemetry records one upstream call per attempt)."""

    def start(self, route: Route) -> Mapping[str, str] | None:
        """An attempt at ``route`` begins; returns headers to send with it (``traceparent``)."""
        ...

    def end(self, route: Route, status: int | None, error: UpstreamError | None) -> None:
        """The attempt got its response (``status``), or failed (``error``)."""
        ...


class ExchangeAttempts:
    """:class:`Attempts` that records each attempt as an :class:`UpstreamCall` of ``exchange``.

    The successful attempt's call is left open: the route ends it when the response has been relayed.
    """

    def __init__(
        self, exchange: Exchange, observer: ExchangeObserver, backends: Mapping[str, BackendConfig]
    ) -> None:
        self._exchange = exchange
        self._observer = observer
        self._backends = backends
        self.call: UpstreamCall | None = None

    def start(self, route: Route) -> Mapping[str, str] | None:
        backend = self._backends[route.provider.name]
        self._exchange.backend = route.provider.name
        self._exchange.provider = backend.provider
        self.call = UpstreamCall(route.provider.name, route.upstream_model, backend.base_url)
        self._exchange.upstream.append(self.call)
        self._observer.upstream_start(self._exchange, self.call)
        return self.call.headers

    def end(self, route: Route, status: int | None, error: UpstreamError | None) -> None:
        call = self.call
        if call is None:
            return
        call.status = status
        if error is not None:
            call.status = error.status if isinstance(error, UpstreamStatus) else status
            call.error_type = str(error.status) if isinstance(error, UpstreamStatus) else error.code
            call.ended = time.perf_counter()
            self._observer.upstream_end(self._exchange, call)


async def send_with_fallback(
    plan: Plan, operation: str, request: LLMRequest, *, stream: bool, attempts: Attempts | None = None
) -> tuple[Route, UpstreamResponse]:
    """Send ``request`` to the plan's targets in turn until one answers with a success status.

    Raises:
        UpstreamStatus: the last target answered with an error status (relayed to the client).
        UpstreamTimeout, UpstreamUnreachable: the last target failed before answering.
        InvalidRequest: no target of the model serves ``operation``.
    """
    routes = [r for r in plan.routes if operation in r.provider.operations]
    if not routes:
        raise InvalidRequest(f"model '{request.model}' has no backend that serves /v1/{operation}")
    model, health = plan.model, plan.health
    budget = model.retry.attempts or len(routes)
    last: UpstreamError | None = None
    for attempt in range(budget):
        route = routes[attempt % len(routes)]
        round_ = attempt // len(routes)
        if round_ > 0:
            wait = _backoff(plan, round_)
            pause = health.out_until(route.key) - health.now()
            if pause > model.retry.max_retry_after_s:
                break
            await asyncio.sleep(max(wait, pause))
        headers = attempts.start(route) if attempts is not None else None
        try:
            upstream = await _attempt(route, operation, request, stream=stream, headers=headers)
        except UpstreamError as error:
            if attempts is not None:
                attempts.end(route, None, error)
            condition = _condition(error)
            if condition is None:
                raise
            _count_failure(plan, route, error)
            last = error
            if condition not in model.fallback_on:
                raise
            log.info("model %r: %s; trying the next target", model.name, error.message)
            continue
        health.success(route.key)
        if attempts is not None:
            attempts.end(route, upstream.status, None)
        return route, upstream
    assert last is not None
    raise last


async def _attempt(
    route: Route, operation: str, request: LLMRequest, *, stream: bool, headers: Mapping[str, str] | None
) -> UpstreamResponse:
    upstream = await route.provider.send(
        operation, request.body_for(route.upstream_model), stream=stream, headers=headers
    )
    if upstream.status >= 400:
        try:
            error_body = await upstream.read(_ERROR_BODY_LIMIT)
        except GatewayError:
            error_body = b""
        finally:
            await upstream.aclose()
        raise UpstreamStatus(
            upstream.status,
            error_body,
            upstream.content_type,
            backend=route.provider.name,
            headers=upstream.relay_headers,
        )
    if not stream:
        return upstream
    primed = _Primed(upstream, route.provider.name)
    try:
        await primed.prime()
    except BaseException:
        await upstream.aclose()
        raise
    return primed


def _condition(error: UpstreamError) -> FallbackCondition | None:
    if isinstance(error, UpstreamStatus):
        if error.status == 429:
            return "429"
        return "5xx" if error.status >= 500 else None
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamUnreachable):
        return "connect"
    return None


def _count_failure(plan: Plan, route: Route, error: UpstreamError) -> None:
    health = plan.model.health
    plan.health.failure(route.key, threshold=health.failures, cooldown_s=health.cooldown_s)
    if isinstance(error, UpstreamStatus):
        seconds = _retry_after_s(error.headers.get("retry-after"))
        if seconds is not None:
            plan.health.retry_after(route.key, seconds)


def _retry_after_s(value: str | None) -> float | None:
    # RFC 9110 10.2.3: delay-seconds or an HTTP-date; providers send seconds, dates are rare.
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _backoff(plan: Plan, round_: int) -> float:
    retry = plan.model.retry
    base = min(retry.max_backoff_s, retry.backoff_s * 2.0 ** (round_ - 1))
    return base * (0.5 + random.random() / 2)


class _Primed:
    """A streamed response whose first chunk has been read (so failures before it can fall back)."""

    def __init__(self, upstream: UpstreamResponse, backend: str) -> None:
        self._upstream = upstream
        self._backend = backend
        self._chunks = upstream.aiter_bytes()
        self._first: bytes | None = None
        self.status = upstream.status
        self.content_type = upstream.content_type
        self.deadline = upstream.deadline

    @property
    def relay_headers(self) -> dict[str, str]:
        return self._upstream.relay_headers

    async def prime(self) -> None:
        """Raises: UpstreamTimeout, UpstreamUnreachable."""
        try:
            async with asyncio.timeout_at(self.deadline):
                self._first = await anext(self._chunks)
        except StopAsyncIteration:
            self._first = b""
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"backend '{self._backend}' did not start its stream in time", backend=self._backend
            ) from exc

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        if self._first:
            yield self._first
        self._first = None
        async for chunk in self._chunks:
            yield chunk

    async def read(self, limit: int) -> bytes:
        body = bytearray(self._first or b"")
        async for chunk in self._chunks:
            body += chunk
            if len(body) > limit:
                raise UpstreamUnreachable(
                    f"backend '{self._backend}' sent a response over the {limit}-byte limit",
                    backend=self._backend,
                )
        return bytes(body)

    async def aclose(self) -> None:
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()
        await self._upstream.aclose()
