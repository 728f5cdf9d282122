"""Every downstream request reported to the hooks, and the hooks' trace context carried upstream.

:class:`RequestMiddleware` wraps each request the SDK server dispatches (lists included, which
:class:`~federation.lists.ListMiddleware` answers further in) in :meth:`FederationHooks.started` and
:meth:`FederationHooks.finished`, and makes the :class:`~federation.hooks.ClientRequest` available
to the call handlers (:func:`current_request`), which run in the same task.

:func:`upstream_context` makes the carrier :meth:`FederationHooks.calling` returned the current
OpenTelemetry context while a call goes upstream: the SDK client injects the current context into
the request's ``params._meta`` (SEP-414), and :func:`inject_headers` into an HTTP request's headers,
so both carry the same ``traceparent``, whatever the transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import httpx2
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult
from opentelemetry import context as otel_context
from opentelemetry import propagate
from pydantic import ValidationError

from federation.hooks import Call, Caller, ClientRequest, FederationHooks, NoHooks

__all__ = ["STARTED", "RequestMiddleware", "current_request", "inject_headers", "upstream_context"]

STARTED = "federation.started"
"""Set in the ASGI scope of an HTTP request once a JSON-RPC request it carried reached the hooks: an
error status answered for it then is the hooks' to report, not the transport's
(:class:`~federation.http.DownstreamHttp`'s ``refused``)."""

_DEFAULTS = NoHooks()
_current: ContextVar[ClientRequest | None] = ContextVar("federation_request", default=None)


def current_request() -> ClientRequest | None:
    """The client request being handled in this task, if any."""
    return _current.get()


class RequestMiddleware:
    """A ``Server.middleware`` telling the hooks when each request starts and ends.

    Hooks written before the observation methods existed (structurally, without subclassing
    :class:`FederationHooks`) get its no-op defaults.
    """

    def __init__(
        self, hooks: FederationHooks, caller: Callable[[ServerRequestContext[Any, Any]], Caller]
    ) -> None:
        self._caller = caller
        self.started: Callable[[Caller, ClientRequest], None] = getattr(hooks, "started", _DEFAULTS.started)
        """The hooks' :meth:`~FederationHooks.started` (also called by :mod:`federation.fastpath`)."""
        self.finished: Callable[[Caller, ClientRequest], None] = getattr(
            hooks, "finished", _DEFAULTS.finished
        )
        """The hooks' :meth:`~FederationHooks.finished`."""
        self.calling: Callable[[Caller, ClientRequest | None, Call], Mapping[str, str]] = getattr(
            hooks, "calling", _DEFAULTS.calling
        )
        """The hooks' :meth:`~FederationHooks.calling`."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification: nothing is answered
            return await call_next(ctx)
        params = ctx.params or {}
        meta = params.get("_meta")
        target = params.get("name", params.get("uri"))
        request = ClientRequest(
            ctx.method,
            ctx.request_id,
            meta if isinstance(meta, dict) else {},
            target if isinstance(target, str) else None,
        )
        caller = self._caller(ctx)
        if caller.request is not None:
            caller.request.scope[STARTED] = True
        self.started(caller, request)
        token = _current.set(request)
        try:
            result = await call_next(ctx)
            # Handlers' results reach here in wire form; a short-circuiting middleware may return a model.
            request.is_error = (isinstance(result, dict) and result.get("isError") is True) or (
                isinstance(result, CallToolResult) and bool(result.is_error)
            )
            return result
        except MCPError as exc:
            request.error_code = exc.code
            raise
        except ValidationError:
            request.error_code = INVALID_PARAMS  # as the SDK answers malformed params
            raise
        except Exception:
            request.error_code = INTERNAL_ERROR
            raise
        except BaseException:
            request.cancelled = True
            raise
        finally:
            _current.reset(token)
            self.finished(caller, request)


@contextlib.contextmanager
def upstream_context(carrier: Mapping[str, str]) -> Iterator[None]:
    """Make the trace context in ``carrier`` current (nothing when it is empty)."""
    if not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)


async def inject_headers(request: httpx2.Request) -> None:
    """An ``httpx2`` request hook: the current trace context into the request's headers."""
    propagate.inject(request.headers)
