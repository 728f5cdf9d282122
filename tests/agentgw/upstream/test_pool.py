"""The proxy's HTTP/1.1 client against raw asyncio servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agentgw.upstream import HTTPPool, PoolTimeouts, UpstreamConnectError, UpstreamReadError
from tests.support.servers import free_port

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        body = await reader.readexactly(length)
        self.requests.append(head + body)
        return head + body


@contextlib.asynccontextmanager
async def serve(
    handler: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[tuple[Server, str]]:
    state = Server()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            await handler(state, reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield state, f"http://127.0.0.1:{port}/v1"


def pool(url: str, *, read: float = 2.0, max_connections: int = 8) -> HTTPPool:
    return HTTPPool(
        url,
        headers={"authorization": "Bearer k"},
        timeouts=PoolTimeouts(connect=1.0, read=read),
        max_connections=max_connections,
    )


async def keepalive_json(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await state.read_request(reader) is not None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        await writer.drain()


async def test_request_line_headers_and_body_on_the_wire() -> None:
    async with serve(keepalive_json) as (state, url):
        client = pool(url)
        response = await client.request(
            "POST", "chat/completions", b'{"a":1}', headers={"content-type": "application/json"}
        )
        assert (response.status, await response.read()) == (200, b"{}")
        await response.aclose()
        head, body = state.requests[0].split(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
        assert set(lines[1:]) >= {
            b"host: 127.0.0.1:" + url.split(":")[2].split("/")[0].encode(),
            b"authorization: Bearer k",
            b"content-length: 7",
        }
        assert body == b'{"a":1}'
        await client.aclose()


async def test_bodies_large_and_small_arrive_whole_on_one_connection() -> None:
    # A body under 16 KiB goes out in one write with its head; a larger one (an OTLP batch) after
    # it, uncopied: either way the upstream reads the head, then exactly the body.
    sizes = [0, 1, 16 * 1024 - 1, 16 * 1024, 1024 * 1024 + 3, 5]
    bodies = [bytes(range(256)) * (size // 256) + b"x" * (size % 256) for size in sizes]
    async with serve(keepalive_json) as (state, url):
        client = pool(url)
        for body in bodies:
            response = await client.request("POST", "v1/traces", body)
            assert (response.status, await response.read()) == (200, b"{}")
            await response.aclose()
        assert state.connections == 1
        received = [request.split(b"\r\n\r\n", 1) for request in state.requests]
        assert [body for _, body in received] == bodies
        assert [
            f"content-length: {len(body)}".encode() in head.split(b"\r\n") for head, body in received
        ] == [True] * len(bodies)
        await client.aclose()


async def test_connections_are_reused() -> None:
    async with serve(keepalive_json) as (state, url):
        client = pool(url)
        for _ in range(20):
            response = await client.request("POST", "x", b"{}")
            await response.read()
            await response.aclose()
        assert state.connections == 1
        await client.aclose()


async def test_unfinished_body_closes_the_connection_instead_of_reusing_it() -> None:
    async def slow_body(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await state.read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab")
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"cd")
            await writer.drain()

    async with serve(slow_body) as (state, url):
        client = pool(url)
        for _ in range(3):
            response = await client.request("POST", "x", b"{}")
            await response.aclose()  # the body is not complete: the connection cannot be reused
        assert state.connections == 3
        finished = await client.request("POST", "x", b"{}")
        assert await finished.read() == b"abcd"
        await finished.aclose()
        again = await client.request("POST", "x", b"{}")
        assert await again.read() == b"abcd"
        await again.aclose()
        assert state.connections == 4
        await client.aclose()


async def test_pool_limit_makes_requests_wait_their_turn() -> None:
    async with serve(keepalive_json) as (state, url):
        client = pool(url, max_connections=2)

        async def one() -> bytes:
            response = await client.request("POST", "x", b"{}")
            body = await response.read()
            await response.aclose()
            return body

        assert await asyncio.gather(*(one() for _ in range(30))) == [b"{}"] * 30
        assert state.connections <= 2
        await client.aclose()


async def test_chunked_and_close_delimited_bodies() -> None:
    async def chunked_then_close(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()

    async with serve(chunked_then_close) as (state, url):
        client = pool(url)
        first = await client.request("GET", "a")
        assert [chunk async for chunk in first.aiter_bytes()] == [b"hello", b" world"]
        await first.aclose()
        second = await client.request("GET", "b")
        assert await second.read() == b"until the end"
        await second.aclose()
        assert state.connections == 1
        await client.aclose()


async def test_idle_connection_closed_by_the_upstream_is_replaced_transparently() -> None:
    async def one_per_connection(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")  # keep-alive promised, then closed
        await writer.drain()

    async with serve(one_per_connection) as (state, url):
        client = pool(url)
        for _ in range(5):
            response = await client.request("POST", "x", b"{}")
            assert await response.read() == b"ok"
            await response.aclose()
            await asyncio.sleep(0.05)  # let the server's close arrive, as an idle gap would
        assert state.connections == 5
        assert len(state.requests) == 5  # no request was sent twice
        await client.aclose()


async def test_connection_broken_mid_body_raises() -> None:
    async def truncated(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()

    async with serve(truncated) as (_, url):
        client = pool(url)
        response = await client.request("POST", "x", b"{}")
        with pytest.raises(UpstreamReadError):
            await response.read()
        await response.aclose()
        await client.aclose()


async def test_read_timeout_before_headers_and_between_chunks() -> None:
    async def stalls(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await state.read_request(reader)
        if request is not None and b"/v1/late-body" in request:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345")
            await writer.drain()
        await asyncio.sleep(5)

    async with serve(stalls) as (_, url):
        client = pool(url, read=0.2)
        with pytest.raises(TimeoutError):
            await client.request("POST", "no-headers", b"{}")
        response = await client.request("POST", "late-body", b"{}")
        with pytest.raises(TimeoutError):
            await response.read()
        await response.aclose()
        await client.aclose()


async def test_refused_connection() -> None:
    client = pool(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(UpstreamConnectError, match="cannot connect"):
        await client.request("POST", "x", b"{}")
    await client.aclose()


async def test_slow_reader_applies_back_pressure_and_gets_every_byte() -> None:
    total = 4 * 1024 * 1024

    async def big(state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
        block = b"x" * 65536
        for _ in range(total // len(block)):
            writer.write(block)
            await writer.drain()

    async with serve(big) as (_, url):
        client = pool(url)
        response = await client.request("GET", "big")
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            await asyncio.sleep(0)  # yield, so the server can outrun us and the pool must pause reading
        assert received == total
        await response.aclose()
        await client.aclose()
