"""Failure isolation: a down upstream in open and closed mode, a stdio server that dies and is
restarted, list changes, and bad input at the HTTP level."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from federation import Federation
from federation.errors import UPSTREAM_UNAVAILABLE
from tests.federation.conftest import Upstreams, http_spec, serve_federation, stdio_spec
from tests.support.servers import REPO, free_port, wait_for

pytestmark = pytest.mark.anyio


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/mcp"


@pytest.fixture(scope="module")
def open_gateway(upstreams: Upstreams) -> Iterator[tuple[str, Federation]]:
    specs = [stdio_spec("local"), http_spec("remote", upstreams.http), http_spec("dead", dead_url())]
    with serve_federation(specs) as served:
        yield served


async def test_open_mode_leaves_the_others_usable(open_gateway: tuple[str, Federation]) -> None:
    url, federation = open_gateway
    async with Client(f"{url}/mcp") as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "local_add" in tools and "remote_add" in tools
        assert not any(name.startswith("dead_") for name in tools)
        with pytest.raises(MCPError) as down:
            await client.call_tool("dead_add", {"a": 1, "b": 2})
        result = await client.call_tool("remote_add", {"a": 1, "b": 2})
    assert (down.value.code, down.value.data) == (UPSTREAM_UNAVAILABLE, {"server": "dead"})
    assert "'dead' is unavailable" in down.value.message
    assert result.structured_content == {"result": 3}
    status = {s.name: s for s in federation.status()}
    assert status["dead"].state == "down" and status["dead"].reason
    assert status["local"].state == status["remote"].state == "ready"
    assert federation.ready  # open mode: a down upstream does not make the federation unready


async def test_closed_mode_refuses_an_incomplete_catalog() -> None:
    with serve_federation([stdio_spec("local"), http_spec("dead", dead_url(), failure_mode="closed")]) as (
        url,
        fed,
    ):
        assert not fed.ready
        async with Client(f"{url}/mcp") as client:
            with pytest.raises(MCPError) as refused:
                await client.list_tools()
            # fail closed: no call goes through either, whichever server it is for
            with pytest.raises(MCPError) as call_refused:
                await client.session.call_tool("local_echo", {"text": "x"})
    assert refused.value.code == call_refused.value.code == UPSTREAM_UNAVAILABLE
    assert refused.value.data == {"server": "dead"}


async def test_a_stdio_server_that_dies_is_restarted() -> None:
    with serve_federation([stdio_spec("local"), stdio_spec("other")]) as (url, federation):
        async with Client(f"{url}/mcp") as client:
            first = (await client.call_tool("local_pid", {})).structured_content
            assert first is not None
            os.kill(first["result"], signal.SIGKILL)
            # Poll: the supervisor notices the exit and starts the server again.
            pid = first["result"]
            with anyio.fail_after(20):
                while pid == first["result"]:
                    try:
                        answer = (await client.call_tool("local_pid", {})).structured_content
                    except MCPError as exc:
                        assert exc.code == UPSTREAM_UNAVAILABLE
                        await anyio.sleep(0.05)
                        continue
                    assert answer is not None
                    pid = answer["result"]
            # the other server never noticed
            assert (await client.call_tool("other_echo", {"text": "x"})).is_error is False
        assert {s.name: s.state for s in federation.status()} == {"local": "ready", "other": "ready"}


class _HttpFixture:
    """The fixture MCP server over Streamable HTTP in a process of its own, on ``port``."""

    _SERVE = (
        "import sys, uvicorn; from tests.support.mcp_fixture import http_app; "
        "uvicorn.run(http_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')"
    )

    def __init__(self, name: str, port: int) -> None:
        self._port = port
        self._process = subprocess.Popen([sys.executable, "-c", self._SERVE, name, str(port)], cwd=REPO)
        wait_for(self._listening, timeout=20)

    def _listening(self) -> bool:
        assert self._process.poll() is None, "the fixture server exited"
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self._port)) == 0

    def kill(self) -> None:
        self._process.kill()
        self._process.wait(timeout=10)


async def _tools_until(client: Client, done: Callable[[set[str]], bool]) -> set[str]:
    with anyio.fail_after(20):
        while True:
            tools = {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
            if done(tools):
                return tools
            await anyio.sleep(0.05)


@pytest.mark.parametrize(("client_mode", "upstream_mode"), [("auto", "auto"), ("legacy", "legacy")])
async def test_an_http_server_killed_and_restarted_is_reconnected(
    client_mode: str, upstream_mode: str
) -> None:
    """Killed, a Streamable HTTP upstream's tools go (and a call names it as down); restarted on the
    same port, they come back and calls work: 2026-07-28 both ways (the byte-forwarding path) and
    the 2025-11-25 handshake both ways (a new upstream session)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    first = _HttpFixture("web", port)
    try:
        specs = [stdio_spec("local"), http_spec("web", url, mode=upstream_mode, ping_interval=0.2)]
        with serve_federation(specs) as (gateway, federation):
            async with Client(f"{gateway}/mcp", mode=client_mode) as client:
                added = await client.call_tool("web_add", {"a": 1, "b": 2})
                assert added.structured_content == {"result": 3}
                first.kill()
                # The gateway notices by itself (its listen or GET stream breaks): the tools go.
                tools = await _tools_until(client, lambda names: not any(n.startswith("web_") for n in names))
                assert "local_add" in tools
                with pytest.raises(MCPError) as down:
                    await client.call_tool("web_add", {"a": 1, "b": 2})
                assert (down.value.code, down.value.data) == (UPSTREAM_UNAVAILABLE, {"server": "web"})
                assert {s.name: s.state for s in federation.status()}["web"] in {"down", "connecting"}
                second = _HttpFixture("web", port)
                try:
                    await _tools_until(client, lambda names: "web_add" in names)
                    again = await client.call_tool("web_add", {"a": 2, "b": 3})
                    assert again.structured_content == {"result": 5}
                    assert (await client.call_tool("local_echo", {"text": "x"})).is_error is False
                finally:
                    second.kill()
    finally:
        first.kill()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_list_changes_reach_the_client(upstreams: Upstreams, mode: str) -> None:
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if type(message).__name__ == "ToolListChangedNotification":
            changed.set()

    specs = [stdio_spec("local"), stdio_spec("other", mode="legacy")]
    with serve_federation(specs) as (url, _):
        async with Client(f"{url}/mcp", mode=mode, message_handler=on_message) as client:
            before = {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
            for server in ("local", "other"):
                new = f"{server}_fresh_{mode}"
                await client.call_tool(f"{server}_grow", {"name": f"fresh_{mode}"})
                with anyio.fail_after(10):
                    if mode == "legacy":
                        await changed.wait()
                        changed = anyio.Event()
                    tools: set[str] = set()
                    while new not in tools:  # the gateway refetches the upstream's list first
                        tools = {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
                        await anyio.sleep(0.02)
            assert before < tools


async def test_origin_is_validated(open_gateway: tuple[str, Federation]) -> None:
    url, _ = open_gateway
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28"}
    async with httpx2.AsyncClient() as http:
        evil = await http.post(f"{url}/mcp", json=body, headers={**headers, "origin": "http://evil.example"})
        same = await http.post(f"{url}/mcp", json=body, headers={**headers, "origin": url})
        local = await http.post(
            f"{url}/mcp", json=body, headers={**headers, "origin": "http://localhost:3000"}
        )
    assert evil.status_code == 403
    assert evil.json()["error"]["message"] == "Origin not allowed: http://evil.example"
    assert same.status_code != 403
    assert local.status_code == 403  # not configured as allowed


async def test_bad_input_gets_protocol_errors_and_the_gateway_keeps_serving(
    open_gateway: tuple[str, Federation],
) -> None:
    url, _ = open_gateway
    legacy = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    async with httpx2.AsyncClient() as http:
        malformed = await http.post(f"{url}/mcp", content=b"{not json", headers=legacy)
        no_session = await http.post(
            f"{url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={**legacy, "mcp-session-id": "nonexistent", "mcp-protocol-version": "2025-11-25"},
        )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == -32700
    assert no_session.status_code == 404
    modern = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
    }
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    async with httpx2.AsyncClient() as http:
        unknown = await http.post(
            f"{url}/mcp",
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/frobnicate", "params": {"_meta": meta}},
            headers={**modern, "mcp-method": "tools/frobnicate"},
        )
        mismatch = await http.post(
            f"{url}/mcp",
            json={"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": meta}},
            headers={**modern, "mcp-method": "prompts/list"},
        )
    assert _error_code(unknown) == -32601
    assert (mismatch.status_code, _error_code(mismatch)) == (400, -32020)
    async with Client(f"{url}/mcp") as client:
        assert (await client.call_tool("local_echo", {"text": "ok"})).is_error is False


def _error_code(response: httpx2.Response) -> int:
    text = response.text
    if text.startswith("event:") or "data:" in text:
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    return int(json.loads(text)["error"]["code"])


async def test_dns_rebinding_is_refused_on_loopback(upstreams: Upstreams) -> None:
    loopback = ["127.0.0.1", "localhost", "127.0.0.1:*", "localhost:*"]
    with serve_federation([stdio_spec("local")], allowed_hosts=loopback) as (url, _):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2026-07-28"}
        async with httpx2.AsyncClient() as http:
            rebound = await http.post(
                f"{url}/mcp",
                json=body,
                headers={**headers, "host": "evil.example", "origin": "http://evil.example"},
            )
        async with Client(f"{url}/mcp") as client:
            assert (await client.call_tool("echo", {"text": "x"})).is_error is False
    assert rebound.status_code == 421
