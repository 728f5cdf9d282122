"""``Passthrough`` over ``ConnectionPool`` against a raw HTTP/1.1 server that controls every byte:
chunked SSE split at awkward places, ``Content-Length`` bodies, keep-alive reuse, an idle connection
the server closed, and HTTP error statuses read as the SDK client reads them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2
import pytest

from federation.connections import ConnectionPool, direct_url
from federation.errors import UpstreamUnavailable
from federation.passthrough import Message, Passthrough

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio"])]

NOTE = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}'
DONE = b'{"jsonrpc":"2.0","id":1,"result":{"content":[]}}'


def chunked(*parts: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    return head + body + b"0\r\n\r\n"


def fixed(status: str, content_type: bytes, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n".encode()
    return head + b"content-type: " + content_type + b"\r\n\r\n" + body


class RawServer:
    """Answers each request with the next canned response; ``None`` closes the connection unanswered."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = answers
        self.connections = 0
        self.bodies: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.startswith(b"content-length")
                )
                self.bodies.append(await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


async def collect(messages: AsyncIterator[Message]) -> list[Message]:
    return [message async for message in messages]


async def test_framings_keep_alive_and_a_closed_idle_connection() -> None:
    raw = RawServer(
        [
            # CRLF split across chunks, a keep-alive comment, two events
            chunked(
                b"event: message\r",
                b"\ndata: " + NOTE + b"\r\n\r\n: ping\r\n\r\n",
                b"data: " + DONE,
                b"\r\n\r\n",
            ),
            fixed("200 OK", b"application/json", DONE),
            None,  # the server closed the idle connection: the request is sent again on a new one
            fixed("200 OK", b"application/json", DONE),
            fixed(
                "400 Bad Request",
                b"application/json",
                b'{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"no"}}',
            ),
            fixed("404 Not Found", b"text/plain", b"nothing here"),
        ]
    )
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    assert direct_url(url) and not direct_url(f"https://127.0.0.1:{port}/mcp")
    pool = ConnectionPool(url, {"authorization": "Bearer upstream"}, connect_timeout=5)
    async with httpx2.AsyncClient() as unused, server:
        passthrough = Passthrough(unused, url, "raw", pool=pool)
        streamed = await collect(passthrough.exchange(b'{"n":1}', {"mcp-method": "tools/call"}))
        plain = await collect(passthrough.exchange(b'{"n":2}', {}))
        assert raw.connections == 1  # kept alive
        retried = await collect(passthrough.exchange(b'{"n":3}', {}))
        rejected = await collect(passthrough.exchange(b'{"n":4}', {}))
        missing = await collect(passthrough.exchange(b'{"n":5}', {}))
        await pool.aclose()
    assert [m.get("method") for m in streamed] == ["notifications/progress", None]
    assert streamed[1]["id"] == 1 and plain == [streamed[1]] == retried
    assert raw.connections == 2
    assert raw.bodies == [b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":3}', b'{"n":4}', b'{"n":5}']
    assert rejected[0]["error"] == {"code": -32602, "message": "no"}
    assert missing[0]["error"] == {"code": -32601, "message": "Not Found"}


async def test_an_upstream_that_is_gone_is_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    url = f"http://127.0.0.1:{port}/mcp"
    async with httpx2.AsyncClient() as unused:
        passthrough = Passthrough(unused, url, "gone", pool=ConnectionPool(url, {}, connect_timeout=5))
        with pytest.raises(UpstreamUnavailable) as gone:
            await collect(passthrough.exchange(b"{}", {}))
    assert gone.value.server == "gone"
