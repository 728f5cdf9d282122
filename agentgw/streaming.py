"""Relay an upstream SSE stream to the client chunk by chunk, as an ASGI response.

Bytes are forwarded as they arrive, never buffered. The client's disconnect is watched for
concurrently: it cancels the relay, which closes the upstream connection, so the upstream stops
generating. An upstream failure after the headers went out cannot change the status any more; it is
reported in-band as one more event, in the protocol's own form: by default an OpenAI-style
``data: {"error": ...}`` event, which the OpenAI SDKs raise (the A2A routes pass their own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agentgw.error_mapping import openai_error_body
from agentgw.errors import GatewayError, UpstreamTimeout
from agentgw.llm.providers.base import UpstreamResponse

__all__ = ["RelayObserver", "SSERelay"]

log = logging.getLogger("agentgw")

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class RelayObserver(Protocol):
    """Sees a relayed stream go by (usage, time to first chunk); must be cheap and must not raise."""

    def chunk(self, data: bytes) -> None:
        """``data`` is about to be sent to the client (called for every chunk: keep it to a byte search)."""
        ...

    def ended(self, error: GatewayError | None, completed: bool) -> None:
        """The relay ended: ``completed`` when the upstream body was relayed to its end; ``error`` when
        the upstream failed mid-stream (the client leaving is neither)."""
        ...


class SSERelay(Response):
    """ASGI response streaming ``upstream``'s body; ``on_close`` runs once when the relay ends.

    ``error_event`` renders a failure that happens mid-stream as the bytes of one SSE event;
    ``observer`` sees every chunk, and the end, before ``on_close``.
    """

    def __init__(
        self,
        upstream: UpstreamResponse,
        backend: str,
        on_close: Callable[[], None],
        *,
        error_event: Callable[[GatewayError], bytes] | None = None,
        observer: RelayObserver | None = None,
    ) -> None:
        # Deliberately not Response.__init__: there is no body to render; headers are fixed below.
        self.status_code = upstream.status
        self.background = None
        self._upstream = upstream
        self._backend = backend
        self._on_close = on_close
        self._error_event = error_event or _openai_error_event
        self._observer = observer
        self._error: GatewayError | None = None
        self._completed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
                await self._relay(send)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._upstream.aclose()
            if self._observer is not None:
                self._observer.ended(self._error, self._completed)
            self._on_close()

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                log.debug("client disconnected; cancelling upstream stream from %r", self._backend)
                scope.cancel()
                return

    async def _relay(self, send: Send) -> None:
        relayed = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in self._upstream.relay_headers.items()
        ]
        await send(
            {"type": "http.response.start", "status": self._upstream.status, "headers": _HEADERS + relayed}
        )
        observer = self._observer
        try:
            async with asyncio.timeout_at(self._upstream.deadline):
                async for chunk in self._upstream.aiter_bytes():
                    if observer is not None:
                        observer.chunk(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._completed = True
        except TimeoutError:
            error: GatewayError = UpstreamTimeout(
                f"backend '{self._backend}' exceeded its total timeout", backend=self._backend
            )
            await self._send_error(send, error)
        except GatewayError as error:
            await self._send_error(send, error)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_error(self, send: Send, error: GatewayError) -> None:
        self._error = error
        log.warning("stream from %r ended early: %s", self._backend, error.message)
        await send({"type": "http.response.body", "body": self._error_event(error), "more_body": True})


def _openai_error_event(error: GatewayError) -> bytes:
    return b"data: " + openai_error_body(error) + b"\n\n"
