"""Requests refused before any route made an :class:`~agentgw.exchange.Exchange` of them (issue 9).

Authentication (401), the router (404, 405), the MCP endpoints' first checks (a missing or
mismatched header, an unknown session, a foreign ``Origin``) and the argument checks of a few routes
(an unknown agent or model) answer without an exchange, so no observer hears of them. Each of those
places calls :func:`refused` with the status it answered, and the app's ``state.refused`` (set by
:func:`agentgw.app.create_app` to :meth:`agentgw.telemetry.Telemetry.refused`) counts and logs it.

A bug (an unexpected exception) is answered 500 by the app's outermost error handler, which reports
it the same way unless a route had taken the request: a route marks the request's scope
:data:`OBSERVED` (:func:`observed`) once its own record is sure to end, and records the failure itself.

Reported where they are made, refusals cost nothing to the requests that are served: a middleware
watching every response for an unobserved error status cost each request about 1 µs (issue 9's
budget for all telemetry is about 9 µs). The function is looked up on the app, not imported, so
that the routes, the authentication middleware and the MCP wiring need not import telemetry (which
imports the gateway they are part of).
"""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["OBSERVED", "RECEIVED_AT", "observed", "refused"]

RECEIVED_AT = "agentgw.received_at"
"""Scope key: ``time.perf_counter()`` when the gateway's first layer received the request, so that a
refusal's latency covers what ran before it (a slow JWKS fetch, say)."""

OBSERVED = "agentgw.observed"
"""Scope key: a route's :class:`~agentgw.exchange.Exchange` records this request, whatever its end."""


def observed(scope: Scope) -> None:
    """Mark the request of ``scope`` as recorded by a route (:data:`OBSERVED`)."""
    scope[OBSERVED] = True


def refused(scope: Scope, status: int) -> None:
    """Report that the request of ``scope`` was answered ``status`` before any route observed it.

    Only an error status (400 and up) is a refusal: an A2A JSON-RPC error, answered on HTTP 200, is
    not counted as one. A no-op in an app without ``state.refused`` (routes mounted on their own).
    """
    if status < 400:
        return
    state = getattr(scope.get("app"), "state", None)
    report = getattr(state, "refused", None)
    if report is not None:
        report(scope, status)
