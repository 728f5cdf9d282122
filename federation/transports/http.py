"""Remote MCP servers over HTTP: Streamable HTTP (either era) and the 2024-11-05 HTTP+SSE transport.

One pooled ``httpx2`` client per upstream, made once and reused by every reconnection.
"""

from __future__ import annotations

from typing import Any

import httpx2
from mcp.client import Transport
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from federation.connections import ConnectionPool, direct_url
from federation.observing import inject_headers
from federation.passthrough import Passthrough
from federation.spec import HttpTarget

__all__ = ["SseTransport", "StreamableHttpTransport"]

# A server may hold a response stream (SSE) open while it works; calls have their own deadline
# (UpstreamTimeouts.call), so the socket read timeout only guards against a dead peer.
_STREAM_READ_TIMEOUT_S = 300.0


class StreamableHttpTransport:
    kind = "streamable-http"

    def __init__(self, target: HttpTarget, *, connect_timeout: float, name: str = "") -> None:
        self._url = target.url
        self._client = httpx2.AsyncClient(
            headers=dict(target.headers),
            timeout=httpx2.Timeout(connect_timeout, read=_STREAM_READ_TIMEOUT_S),
            # The SDK sends each message in its sender's context: a call's trace context (see
            # federation.observing) goes into the POST's headers as well as its params._meta.
            event_hooks={"request": [inject_headers]},
        )
        # Plain http:// upstreams (no proxy) get byte-forwarded calls over connections of their own.
        self._pool = (
            ConnectionPool(target.url, target.headers, connect_timeout=connect_timeout)
            if direct_url(target.url)
            else None
        )
        self.passthrough = Passthrough(self._client, self._url, name, pool=self._pool)
        """2026-07-28 requests sent as bytes on the same pooled client (see :mod:`federation.fastpath`)."""

    def open(self) -> Transport:
        # terminate_on_close: DELETE the session when we reconnect or stop (2025-03-26 session close).
        return streamable_http_client(self._url, http_client=self._client, terminate_on_close=True)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        await self._client.aclose()


class SseTransport:
    kind = "sse"

    def __init__(self, target: HttpTarget, *, connect_timeout: float) -> None:
        self._url = target.url
        self._headers: dict[str, Any] = dict(target.headers)
        self._connect_timeout = connect_timeout

    def open(self) -> Transport:
        # sse_client makes its own client per connection (the SDK's factory hook is for that), and
        # an SSE connection is one long-lived GET plus POSTs, so there is no pool to share.
        return sse_client(
            self._url,
            headers=self._headers,
            timeout=self._connect_timeout,
            sse_read_timeout=_STREAM_READ_TIMEOUT_S,
        )

    async def aclose(self) -> None:
        return None
