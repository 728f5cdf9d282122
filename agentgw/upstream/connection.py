"""One HTTP/1.1 client connection: an asyncio protocol with llhttp (httptools) parsing responses.

The connection carries one exchange at a time. Response body chunks are queued as they arrive and
handed to the reader without copying; when the reader falls behind by more than a high-water mark the
socket stops being read (TCP back-pressure reaches the upstream) until the queue drains.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import httptools

__all__ = ["ConnectionClosed", "HTTPConnection"]

_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
_JOIN_BELOW = 16 * 1024
"""A request body shorter than this is joined to its head and written at once; a longer one (an OTLP
batch of spans is ~250 KB) is written after it, not copied."""


class ConnectionClosed(Exception):
    """The connection ended before the response was complete; ``received`` tells if any byte came."""

    def __init__(self, message: str, *, received: bool) -> None:
        super().__init__(message)
        self.received = received


class HTTPConnection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = True
        self.complete = False
        self._received = False
        self._delimited_by_close = False
        self._headers_ready: asyncio.Future[None] = self._loop.create_future()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._error: BaseException | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport quacks like asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionClosed(f"invalid HTTP response: {exc}", received=True))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost does the bookkeeping

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete:
            return
        if self._delimited_by_close and self._headers_ready.done():
            # A body without Content-Length or chunking ends when the connection does (RFC 9112 6.3).
            self.on_message_complete()
            return
        reason = f"connection lost: {exc}" if exc else "connection closed by the upstream"
        self._fail(ConnectionClosed(reason, received=self._received))

    def pause_writing(self) -> None:  # pragma: no cover - request bodies are small and written at once
        pass

    def resume_writing(self) -> None:  # pragma: no cover
        pass

    # -- llhttp callbacks --------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        names = {name for name, _ in self.headers}
        self._delimited_by_close = b"content-length" not in names and b"transfer-encoding" not in names
        if not self._headers_ready.done():
            self._headers_ready.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        if not self._headers_ready.done():
            self._headers_ready.set_result(None)
        self._wake()

    # -- the exchange ------------------------------------------------------------------------------

    def send(self, head: bytes, body: bytes) -> None:
        """Start a new exchange on this (idle) connection by writing a request's ``head`` (its blank
        line included) and ``body``."""
        self._reset()
        assert self.transport is not None
        if len(body) < _JOIN_BELOW:
            self.transport.write(head + body)
        else:
            self.transport.writelines((head, body))

    async def wait_headers(self, timeout: float) -> None:
        """Raises: TimeoutError, ConnectionClosed."""
        if not self._headers_ready.done():
            await self._wait(self._headers_ready, timeout)
        if self._error is not None and self.status == 0:
            raise self._error

    async def next_chunk(self, timeout: float) -> bytes | None:
        """The next body chunk, or ``None`` at the end of the body.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
            ConnectionClosed: the connection broke before the body was complete.
        """
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._paused and self._buffered < _LOW_WATER and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                return None
            if self._error is not None:
                raise self._error
            self._waiter = self._loop.create_future()
            await self._wait(self._waiter, timeout)

    async def _wait(self, future: asyncio.Future[None], timeout: float) -> None:
        handle = self._loop.call_later(timeout, _expire, future)
        try:
            await future
        finally:
            handle.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._waiter = None

    def _fail(self, error: BaseException) -> None:
        self._error = error
        if not self._headers_ready.done():
            self._headers_ready.set_exception(error)
            self._headers_ready.exception()  # mark retrieved: nobody may be waiting any more
        self._wake()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())
