"""One 2026-07-28 request forwarded to a Streamable HTTP upstream as bytes, and its answer read back.

MCP 2026-07-28 is stateless: every request is a self-contained POST whose answer is the POST's
response (JSON, or an SSE stream of request-scoped notifications ending with the response). So a
request need not go through the SDK ``Client`` (its dispatcher, memory streams and per-message
pydantic models); :class:`Passthrough` posts the JSON-RPC bytes over a pooled keep-alive connection
(:class:`~federation.connections.ConnectionPool` for a plain ``http://`` upstream, the upstream's
``httpx2`` client otherwise) and yields the messages of the answer as decoded JSON.

Failures are reported as the SDK ``Client`` path reports them (``federation.upstream``), so a
client cannot tell which path served it: a transport failure is :class:`UpstreamUnavailable`, an
HTTP error status is the JSON-RPC error in its body or the SDK's stand-in for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Protocol

import httpx2
import orjson
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND

from federation.connections import ConnectionPool
from federation.errors import UpstreamRejected, UpstreamUnavailable

__all__ = ["Message", "Passthrough"]

Message = dict[str, Any]
"""One decoded JSON-RPC message (a notification, or the final response)."""

_ACCEPT = "application/json, text/event-stream"
_DRAIN_S = 0.05


class _Response(Protocol):
    """What is read of an answer: an ``httpx2.Response`` or a :class:`~federation.connections.PooledResponse`."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def aread(self) -> bytes: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


class Passthrough:
    """Posts requests to one Streamable HTTP endpoint over a shared pooled client.

    With ``pool`` (a plain ``http://`` upstream) requests go over its keep-alive connections, else
    over ``client``, the upstream's ``httpx2`` client (TLS, proxies).
    """

    def __init__(
        self, client: httpx2.AsyncClient, url: str, server: str, *, pool: ConnectionPool | None = None
    ) -> None:
        self._client = client
        self._url = url
        self._server = server
        self._pool = pool

    def _post(
        self, body: bytes, headers: dict[str, str]
    ) -> contextlib.AbstractAsyncContextManager[_Response]:
        if self._pool is not None:
            return self._pool.post(body, headers)
        return self._client.stream("POST", self._url, content=body, headers=headers)

    async def exchange(self, body: bytes, headers: Mapping[str, str]) -> AsyncGenerator[Message, None]:
        """POST ``body`` and yield the answer's messages: notifications, then the response.

        Closing the iterator early (the client went away) closes the upstream POST, which is how
        MCP 2026-07-28 cancels a request.

        Raises:
            UpstreamUnavailable: the upstream could not be reached or the stream broke.
            UpstreamRejected: an HTTP error status, or an answer that is not JSON-RPC.
        """
        request_headers = {"accept": _ACCEPT, "content-type": "application/json", **headers}
        try:
            async with self._post(body, request_headers) as response:
                status = response.status_code
                content_type = response.headers.get("content-type", "").lower()
                if status == 202 or 300 <= status < 400:
                    raise self._rejected(INVALID_REQUEST, f"the server answered a request with {status}")
                if status >= 400:
                    yield await self._error_status(response, status, content_type)
                    return
                if content_type.startswith("application/json"):
                    yield self._decode(await response.aread())
                elif content_type.startswith("text/event-stream"):
                    async for message in self._events(response):
                        yield message
                        if "id" in message and "method" not in message:
                            return
                    raise UpstreamUnavailable(self._server, "the response stream ended without an answer")
                else:
                    raise self._rejected(INVALID_REQUEST, f"Unexpected content type: {content_type}")
        except (httpx2.HTTPError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            raise UpstreamUnavailable(self._server, str(exc) or type(exc).__name__) from exc

    async def _error_status(self, response: _Response, status: int, content_type: str) -> Message:
        # As the SDK client reads a non-2xx answer: the JSON-RPC error in its body, else a stand-in.
        if content_type.startswith("application/json"):
            try:
                message = orjson.loads(await response.aread())
            except orjson.JSONDecodeError:
                message = None
            if isinstance(message, dict) and isinstance(message.get("error"), dict):
                return message
        if status == 404:
            return _error(METHOD_NOT_FOUND, "Not Found")
        return _error(INTERNAL_ERROR, "Server returned an error response")

    async def _events(self, response: _Response) -> AsyncIterator[Message]:
        """The ``data`` of each SSE event (WHATWG "server-sent events": lines, blank line ends one)."""
        data: list[bytes] = []
        lines = _lines(response.aiter_bytes())
        async for line in lines:
            if not line:
                if data:
                    message = self._decode(b"\n".join(data))
                    data = []
                    if "id" in message and "method" not in message:
                        await _drain(lines)
                    yield message
            elif line.startswith(b"data:"):
                data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            # "event:", "id:", "retry:" and ":" comments (keep-alive pings) carry nothing to relay.
        if data:
            yield self._decode(b"\n".join(data))

    def _decode(self, raw: bytes) -> Message:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise self._rejected(-32700, f"Failed to parse the answer: {exc}") from exc
        if not isinstance(message, dict):
            raise self._rejected(INVALID_REQUEST, "the answer is not a JSON-RPC message")
        return message

    def _rejected(self, code: int, message: str) -> UpstreamRejected:
        return UpstreamRejected(self._server, code, message)


def _error(code: int, message: str) -> Message:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Lines ended by CRLF, LF or CR (the SSE line endings), without their ending."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        # A trailing CR may be the first half of a CRLF split across chunks: held for the next one.
        held = buffer.endswith(b"\r")
        text = buffer[:-1] if held else buffer
        lines = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        buffer = lines.pop() + (b"\r" if held else b"")
        for line in lines:
            yield line
    if buffer:
        yield buffer.rstrip(b"\r")


async def _drain(lines: AsyncIterator[bytes]) -> None:
    """Read the rest of a stream whose answer has come, so that its connection can be reused.

    A server closes the stream after the response (MCP streamable-http); one that keeps it open is
    not waited for (its connection is then closed instead of reused).
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_DRAIN_S):
            async for _ in lines:
                pass
