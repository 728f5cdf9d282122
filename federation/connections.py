"""Keep-alive HTTP/1.1 connections to one ``http://`` upstream, for requests forwarded as bytes.

:mod:`federation.passthrough` sends one small POST per forwarded 2026-07-28 call and relays the
answer. Through ``httpx2`` each such request cost about 0.3 ms of CPU in the gateway (request and
response models, header normalisation, the connection pool's liveness probe of the socket, anyio
streams): as much as everything else the gateway does for a call. :class:`ConnectionPool` writes the
request in one buffer and reads the response framing itself (``Content-Length``, chunked, or to the
end), on asyncio streams.

Only what forwarding needs: plain ``http://`` (TLS upstreams and proxies go through ``httpx2``,
see :func:`direct_url`), no redirects, no compression (none is asked for), no request streaming.
A request on a reused connection that fails before any answer arrives is sent once more on a new
connection: the server closed that idle connection, so it never saw the request (what ``httpcore``
does too).
"""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping
from types import TracebackType

__all__ = ["ConnectionPool", "PooledResponse", "direct_url"]

# Larger than any header block an MCP server sends; the limit of one `readuntil`.
_READ_LIMIT = 1 << 20
_CHUNK = 1 << 16


def direct_url(url: str) -> bool:
    """Whether ``url`` can be served by :class:`ConnectionPool`: ``http://``, no proxy configured for it."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or "@" in parts.netloc:
        return False  # TLS, or credentials in the URL: httpx2's business
    proxies = urllib.request.getproxies()
    return not (proxies.get("http") or proxies.get("all")) or bool(
        urllib.request.proxy_bypass(parts.hostname)
    )


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class PooledResponse:
    """An HTTP response being read; its connection returns to the pool once the body is read to the end."""

    def __init__(
        self, pool: ConnectionPool, connection: _Connection, status: int, headers: dict[str, str]
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self.status_code = status
        self.headers = headers
        """Lower-cased names; a repeated header keeps its last value."""
        self._keep_alive = headers.get("connection", "").lower() != "close"

    async def aread(self) -> bytes:
        """The whole body."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked framing removed)."""
        connection = self._connection
        if connection is None:
            return
        reader = connection.reader
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailer fields, up to the empty line that ends the message
                    break
                chunk = await reader.readexactly(size + 2)
                yield chunk[:-2]
        elif "content-length" in self.headers:
            remaining = int(self.headers["content-length"])
            while remaining > 0:
                chunk = await reader.read(min(remaining, _CHUNK))
                if not chunk:
                    raise ConnectionResetError("the connection closed in the middle of the body")
                remaining -= len(chunk)
                yield chunk
        else:
            self._keep_alive = False  # the body ends when the connection does
            while chunk := await reader.read(_CHUNK):
                yield chunk
        self._release(reuse=self._keep_alive)

    def _release(self, *, reuse: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool._release(connection, reuse=reuse)

    async def aclose(self) -> None:
        """Give the connection back; one whose body was not read to the end is closed."""
        self._release(reuse=False)


class ConnectionPool:
    """Keep-alive connections to the origin of ``url``; ``headers`` go on every request."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        connect_timeout: float,
        max_connections: int = 100,
        max_idle: int = 20,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not a plain http:// URL: {url}")
        self._host = parts.hostname
        self._port = parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        fixed = {
            "host": parts.netloc,
            **{k.lower(): v for k, v in headers.items()},
        }  # no userinfo: direct_url
        self._head = f"POST {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._fixed = set(fixed)
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self._idle: list[_Connection] = []
        self._closed = False
        # Bounds the connections open at once (as httpx2's pool does, 100 by default): a request
        # beyond that waits for one to be given back.
        self._slots = asyncio.Semaphore(max_connections)

    def post(self, body: bytes, headers: Mapping[str, str]) -> _Exchange:
        """``async with pool.post(body, headers) as response``: the response once its head has arrived.

        Raises:
            OSError: the connection failed (``ConnectionError``, ``TimeoutError`` on connect).
            asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError: a malformed answer.
        """
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() not in self._fixed)
        request = f"{self._head}{lines}content-length: {len(body)}\r\n\r\n".encode("latin-1") + body
        return _Exchange(self, request)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _send(self, request: bytes) -> PooledResponse:
        await self._slots.acquire()
        try:
            return await self._exchange(request)
        except BaseException:
            self._slots.release()
            raise

    async def _exchange(self, request: bytes) -> PooledResponse:
        while True:
            connection = await self._acquire()
            try:
                connection.writer.write(request)
                head = await connection.reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError) as exc:
                connection.close()
                if connection.reused:
                    continue  # the server had closed this idle connection: it never saw the request
                if isinstance(exc, asyncio.IncompleteReadError):
                    raise ConnectionResetError("the server closed the connection without answering") from exc
                raise
            except BaseException:
                connection.close()
                raise
            try:
                status, headers = _parse_head(head)
            except ValueError:
                connection.close()
                raise
            return PooledResponse(self, connection, status, headers)

    async def _acquire(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(self._host, self._port, limit=_READ_LIMIT)
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, *, reuse: bool) -> None:
        self._slots.release()
        if reuse and not self._closed and len(self._idle) < self._max_idle and connection.usable():
            self._idle.append(connection)
        else:
            connection.close()


class _Exchange:
    def __init__(self, pool: ConnectionPool, request: bytes) -> None:
        self._pool = pool
        self._request = request
        self._response: PooledResponse | None = None

    async def __aenter__(self) -> PooledResponse:
        self._response = await self._pool._send(self._request)
        return self._response

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._response is not None:
            await self._response.aclose()


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.1 response: {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep_alive_default = status_line[0] == "HTTP/1.1"
    if not keep_alive_default and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    return int(status_line[1]), headers
