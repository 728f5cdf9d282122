"""The record of a request refused before any route took it, for the request metric and the access log.

Such a request has no :class:`~agentgw.exchange.Exchange` of a route's making (see
:mod:`agentgw.refusals` for where they are reported from): :func:`rejection` makes one from the
ASGI scope, for :meth:`TelemetryObserver.rejected` (the request counter and the access log; no span:
no operation was started). Its duration is not measured: the refusal is the gateway's own answer,
and timing every request just in case it is refused is what issue 9 asked to stop paying for.

The route template stays low-cardinality whatever path was asked: ``/v1/chat/completions``-style
paths keep their known template, the others become their protocol's prefix or ``unmatched``.
"""

from __future__ import annotations

import time

from starlette.datastructures import Headers
from starlette.types import Scope

from agentgw.accounting.routes import USAGE_PATH
from agentgw.auth.principal import principal_of
from agentgw.auth.resource_metadata import METADATA_PATH
from agentgw.exchange import Exchange, WireProtocol
from agentgw.refusals import RECEIVED_AT

__all__ = ["rejection"]


# The routes' own templates; any other path is reported by its protocol's prefix.
_ROUTES = frozenset(
    {
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/responses",
        "/v1/messages",
        "/v1/models",
        "/healthz",
        "/readyz",
        "/metrics",
        USAGE_PATH,
    }
)
_ERROR_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


def rejection(scope: Scope, status: int) -> Exchange:
    """The exchange of a request of ``scope`` answered ``status`` (ended now) before any route took it."""
    path: str = scope["path"]
    protocol: WireProtocol
    if path == "/mcp" or path.startswith("/mcp/"):
        protocol, route = "mcp", "/mcp"
    elif path == "/sse":  # the 2024-11-05 HTTP+SSE transport: its stream, then its POSTs
        protocol, route = "mcp", "/sse"
    elif path.startswith("/messages/"):
        protocol, route = "mcp", "/messages/"
    elif path == "/a2a" or path.startswith("/a2a/"):
        protocol, route = "a2a", "/a2a/{agent}"
    else:
        # The gateway's own endpoints (/readyz answers 503 when not ready) are under the protocol
        # the record needs, "llm", with their own route.
        protocol = "llm"
        if path in _ROUTES:
            route = path
        elif path.startswith("/v1/models/"):
            route = "/v1/models/{model}"
        elif path.startswith(METADATA_PATH):
            route = METADATA_PATH
        else:
            route = "unmatched"
    now = time.perf_counter()
    started: float = scope.get(RECEIVED_AT, now)
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
