"""Requests refused before any route took them: still counted and logged (issue 9).

Authentication (401), the router (404, 405) and the first checks of the MCP endpoint (a missing or
mismatched header, an unknown session: 400, 404) answer before a route makes an
:class:`~agentgw.exchange.Exchange`, so no observer hears of them. :class:`RejectionMiddleware`
wraps the whole app and gives each request a mark (:mod:`agentgw.telemetry.marks`) that
:meth:`TelemetryObserver.start` sets; a request that ends with an error status unmarked is reported to :meth:`TelemetryObserver.rejected` (the request counter and the access log; no span: no
operation was started).

The route template stays low-cardinality whatever path was asked: ``/v1/chat/completions``-style
paths keep their known template, the others become their protocol's prefix or ``unmatched``.
"""

from __future__ import annotations

import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentgw.auth.principal import principal_of
from agentgw.exchange import Exchange, WireProtocol
from agentgw.telemetry import marks
from agentgw.telemetry.observer import TelemetryObserver

__all__ = ["RejectionMiddleware"]


# The routes' own templates; any other path is reported by its protocol's prefix.
_LLM_ROUTES = frozenset(
    {"/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages", "/v1/models"}
)
_ERROR_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


class RejectionMiddleware:
    """Reports requests answered with a 4xx or 5xx status that no route observed."""

    def __init__(self, app: ASGIApp, *, observer: TelemetryObserver) -> None:
        self.app = app
        self._observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        mark, token = marks.begin()
        started = time.perf_counter()
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            marks.end(token)
            if status >= 400 and not mark.observed:
                self._observer.rejected(_rejection(scope, status, started))


def _rejection(scope: Scope, status: int, started: float) -> Exchange:
    path: str = scope["path"]
    protocol: WireProtocol
    if path == "/mcp" or path.startswith("/mcp/"):
        protocol, route = "mcp", "/mcp"
    elif path == "/a2a" or path.startswith("/a2a/"):
        protocol, route = "a2a", "/a2a/{agent}"
    else:
        protocol = "llm"
        if path in _LLM_ROUTES:
            route = path
        elif path.startswith("/v1/models/"):
            route = "/v1/models/{model}"
        else:
            route = "unmatched"
    now = time.perf_counter()
    exchange = Exchange(
        protocol, route, scope["method"], Headers(scope=scope), started, time.time() - (now - started)
    )
    principal = principal_of(scope)
    if not principal.anonymous:
        exchange.principal, exchange.team = principal.subject, principal.team
    exchange.status = status
    exchange.error_type = _ERROR_TYPES.get(status, str(status))
    exchange.ended = now
    return exchange
