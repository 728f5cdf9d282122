"""The downstream HTTP transports, as Starlette routes around the SDK's server transports.

- ``/mcp``: Streamable HTTP. The SDK's session manager serves both eras on one path: requests with
  a handshake-era ``MCP-Protocol-Version`` (or none) get sessions (``initialize``,
  ``Mcp-Session-Id``, the GET stream, DELETE); 2026-07-28 requests are served statelessly with
  the ``_meta`` envelope and header checks.
- ``/sse`` + ``/messages/``: the 2024-11-05 HTTP+SSE transport.

2026-07-28 list requests, and ``tools/call`` to a 2026-07-28 Streamable HTTP upstream, are answered
by :class:`~federation.fastpath.FastPath` ahead of the SDK's handler, when one is given.

Both check ``Host`` and ``Origin`` first (MCP 2025-06-18 basic/transports, "Security Warning":
servers MUST validate the Origin header to prevent DNS rebinding). With ``allowed_hosts`` set, a
request naming another host is refused with 421 (a rebound DNS name reaches a loopback server with
its own name in ``Host``); a browser page from another origin is refused with 403; a request without
``Origin`` (not from a browser) is let through.

Such refusals, and those of the SDK's transports (a missing or mismatched header, an unknown
session, a body too large), are answered before any JSON-RPC request reaches the hooks, so the
hooks' observation methods never hear of them: ``refused`` is told of each, with the HTTP status.
The fast path needs no watching (it answers only what reached the hooks; the rest it hands to the
SDK's handler, which is watched).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from mcp.server import Server
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation.events import MemoryEventStore
from federation.fastpath import FastPath
from federation.observing import STARTED

__all__ = ["DownstreamHttp", "Refused"]

# Host checks are left to the deployment (the gateway may sit behind any name); Origin is checked
# here, where same-origin requests are recognised as such.
_NO_HOST_CHECK = TransportSecuritySettings(enable_dns_rebinding_protection=False)


Refused = Callable[[Scope, int], None]
"""Told of an HTTP request answered with an error status before any JSON-RPC request in it reached
the hooks: its ASGI scope and the status."""


class DownstreamHttp:
    """The ``/mcp`` and ``/sse`` endpoints for ``server``; run :meth:`run` for their lifetime.

    ``refused`` is told of the HTTP requests refused before the hooks saw them (see above).
    """

    def __init__(
        self,
        server: Server[Any],
        *,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] | None = None,
        max_request_bytes: int = 4 * 1024 * 1024,
        session_idle_timeout_s: float | None = 30 * 60,
        max_sessions: int | None = 10_000,
        max_stored_events: int = 10_000,
        fast_path: FastPath | None = None,
        refused: Refused | None = None,
    ) -> None:
        self._server = server
        self._fast_path = fast_path
        self._origins = tuple(allowed_origins)
        self._hosts = tuple(allowed_hosts) if allowed_hosts is not None else None
        self._refused = refused
        self.manager = StreamableHTTPSessionManager(
            server,
            security_settings=_NO_HOST_CHECK,
            # Handshake-era sessions resume broken SSE streams with Last-Event-ID.
            event_store=MemoryEventStore(max_stored_events),
            max_request_body_size=max_request_bytes,
            session_idle_timeout=session_idle_timeout_s,
            max_sessions=max_sessions,
        )
        self._sse = SseServerTransport(
            "/messages/", security_settings=_NO_HOST_CHECK, max_request_body_size=max_request_bytes
        )
        self._sdk: ASGIApp = self.manager.handle_request
        self._post_message: ASGIApp = self._sse.handle_post_message
        if refused is not None:
            self._sdk = _watched(self._sdk, refused)
            self._post_message = _watched(self._post_message, refused)

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    def routes(self, path: str = "/mcp", *, sse: bool = True) -> list[BaseRoute]:
        """Streamable HTTP at ``path``; with ``sse``, HTTP+SSE at ``/sse`` and ``/messages/``."""

        def guard(app: ASGIApp) -> _OriginGuard:
            return _OriginGuard(app, self._origins, self._hosts, self._refused)

        routes: list[BaseRoute] = [Route(path, endpoint=guard(self._serve_mcp))]
        if sse:
            routes.append(Route("/sse", endpoint=guard(self._serve_sse)))
            routes.append(Mount("/messages", app=guard(self._post_message)))
        return routes

    async def _serve_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self._fast_path
        if fast is not None and fast.accepts(scope):
            await fast.serve(scope, receive, send, self._sdk)
        else:
            await self._sdk(scope, receive, send)

    async def _serve_sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            if self._refused is not None:
                self._refused(scope, 405)
            await Response(status_code=405, headers={"allow": "GET"})(scope, receive, send)
            return
        async with self._sse.connect_sse(scope, receive, send) as (read, write):
            await self._server.run(read, write, self._server.create_initialization_options())


class _OriginGuard:
    """Refuses cross-origin browser requests before they reach ``app`` (an ASGI app, so Starlette routes to it as one)."""

    def __init__(
        self, app: ASGIApp, allowed: Sequence[str], hosts: Sequence[str] | None, refused: Refused | None
    ) -> None:
        self._app = app
        self._allowed = allowed
        self._hosts = hosts
        self._refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        host = headers.get("host")
        if self._hosts is not None and not _matches(host or "", self._hosts):
            await self._refuse(421, f"Host not allowed: {host}", scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and not _origin_allowed(origin, host, scope, self._allowed):
            await self._refuse(403, f"Origin not allowed: {origin}", scope, receive, send)
            return
        await self._app(scope, receive, send)

    async def _refuse(self, status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refused is not None:
            self._refused(scope, status)
        await _refuse(status, message, scope, receive, send)


def _watched(app: ASGIApp, refused: Refused) -> ASGIApp:
    """``app`` (one of the SDK's transports), telling ``refused`` of the error statuses it answers
    before any JSON-RPC request reached the hooks (:data:`~federation.observing.STARTED`)."""

    async def watched(scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400 and STARTED not in scope:
                refused(scope, message["status"])
            await send(message)

        await app(scope, receive, watch)

    return watched


async def _refuse(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    error = ErrorData(code=INVALID_REQUEST, message=message)
    body = JSONRPCError(jsonrpc="2.0", id=None, error=error)
    response = Response(
        body.model_dump_json(by_alias=True, exclude_none=True),
        status_code=status,
        media_type="application/json",
    )
    await response(scope, receive, send)


def _origin_allowed(origin: str, host: str | None, scope: Scope, allowed: Sequence[str]) -> bool:
    scheme = "https" if scope.get("scheme") in {"https", "wss"} else "http"
    if host is not None and origin == f"{scheme}://{host}":
        return True  # same origin (the Host itself was checked first, when hosts are restricted)
    return _matches(origin, allowed)


def _matches(value: str, patterns: Sequence[str]) -> bool:
    """``value`` equals a pattern, or a ``...:*`` pattern with any port, or a pattern is ``*``."""
    for pattern in patterns:
        if pattern == "*" or value == pattern:
            return True
        if pattern.endswith(":*") and value.startswith(pattern[:-1]) and value[len(pattern) - 1 :].isdigit():
            return True
    return False
