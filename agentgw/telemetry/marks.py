"""Whether a route observed the current request: a mark per request, in a context variable.

:class:`~agentgw.telemetry.rejections.RejectionMiddleware` puts a fresh mark in place for each HTTP
request and :meth:`~agentgw.telemetry.observer.TelemetryObserver.start` sets it; a request that ends
with its mark unset was answered before any route made an exchange of it. The route runs in the
middleware's task, so it sees the middleware's context (MCP requests handed to a session's task do
not, but those are answered with HTTP 200 whatever the JSON-RPC outcome).
"""

from __future__ import annotations

from contextvars import ContextVar, Token

__all__ = ["RequestMark", "begin", "end", "mark_observed"]


class RequestMark:
    __slots__ = ("observed",)

    def __init__(self) -> None:
        self.observed = False


_CURRENT: ContextVar[RequestMark | None] = ContextVar("agentgw_request_mark", default=None)


def begin() -> tuple[RequestMark, Token[RequestMark | None]]:
    """A fresh mark for the request starting in the current context."""
    mark = RequestMark()
    return mark, _CURRENT.set(mark)


def end(token: Token[RequestMark | None]) -> None:
    _CURRENT.reset(token)


def mark_observed() -> None:
    """The current request was observed (no-op outside :class:`RejectionMiddleware`)."""
    mark = _CURRENT.get()
    if mark is not None:
        mark.observed = True
