"""In-process toolsets (:class:`federation.LocalToolset`) federated next to a real upstream, driven
by the ``mcp`` SDK ``Client``: prefixes, routing, collisions, hooks, and list changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, Tool

from federation import Call, Caller, CallOutcome, Federation, NamingPolicy
from federation.hooks import EntryKind
from tests.federation.conftest import Upstreams, http_spec, serve_federation

pytestmark = pytest.mark.anyio

_SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}


class Calc:
    """A toolset: ``add``, ``echo``, ``secret``, and ``grow``, which adds a tool and refreshes."""

    name = "calc"

    def __init__(self) -> None:
        self.tools = ["add", "echo", "grow", "secret"]
        self.federation: Federation | None = None

    async def list_tools(self) -> Sequence[Tool]:
        return [Tool(name=name, input_schema=_SCHEMA) for name in self.tools]

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        args = arguments or {}
        if name == "grow":
            self.tools.append("fresh")
            assert self.federation is not None
            await self.federation.refresh_toolset(self.name)
            return CallToolResult(content=[TextContent(text="grown")])
        if name == "add":
            total = args["a"] + args["b"]
            return CallToolResult(
                content=[TextContent(text=str(total))], structured_content={"result": total}
            )
        return CallToolResult(content=[TextContent(text=f"calc: {name}")], is_error=name == "secret")


class HideSecret:
    def visible(self, caller: Caller, kind: EntryKind, name: str, server: str) -> bool:
        return not (server == "calc" and name.endswith("secret"))

    async def authorize(self, caller: Caller, call: Call) -> None:
        return None

    def record(self, caller: Caller, outcome: CallOutcome) -> None:
        return None


async def test_a_toolset_is_federated_like_an_upstream(upstreams: Upstreams) -> None:
    calc = Calc()
    with serve_federation([http_spec("remote", upstreams.http)], toolsets=[calc], hooks=HideSecret()) as (
        url,
        federation,
    ):
        calc.federation = federation
        async with Client(f"{url}/mcp") as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            added = await client.call_tool("calc_add", {"a": 2, "b": 40})
            remote = await client.call_tool("remote_add", {"a": 1, "b": 1})
            with pytest.raises(MCPError, match="Unknown tool: calc_secret"):
                await client.call_tool("calc_secret", {})
    assert {"calc_add", "calc_echo", "remote_add", "remote_echo"} <= tools
    assert "calc_secret" not in tools
    assert added.structured_content == {"result": 42}
    assert remote.structured_content == {"result": 2}


async def test_an_upstream_keeps_a_contested_name(upstreams: Upstreams) -> None:
    naming = NamingPolicy(mode="never")
    with serve_federation([http_spec("remote", upstreams.http)], toolsets=[Calc()], naming=naming) as (
        url,
        federation,
    ):
        async with Client(f"{url}/mcp") as client:
            echoed = await client.call_tool("echo", {"text": "hi"})
            tools = {t.name for t in (await client.list_tools()).tools}
        collisions = federation.catalog.collisions
    assert isinstance(echoed.content[0], TextContent) and echoed.content[0].text == "remote: hi"
    assert "grow" in tools
    assert [(c.name, c.kept, c.dropped) for c in collisions if c.name == "echo"] == [
        ("echo", "remote", "calc")
    ]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_refreshed_toolset_tells_clients(upstreams: Upstreams, mode: str) -> None:
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if type(message).__name__ == "ToolListChangedNotification":
            changed.set()

    calc = Calc()
    with serve_federation([http_spec("remote", upstreams.http)], toolsets=[calc]) as (url, federation):
        calc.federation = federation
        async with Client(f"{url}/mcp", mode=mode, message_handler=on_message) as client:
            assert "calc_fresh" not in {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
            await client.call_tool("calc_grow", {})
            with anyio.fail_after(10):
                if mode == "legacy":
                    await changed.wait()
                tools = {t.name for t in (await client.list_tools(cache_mode="bypass")).tools}
    assert "calc_fresh" in tools


def test_toolset_names_must_differ_from_upstreams(upstreams: Upstreams) -> None:
    class Remote(Calc):
        name = "remote"

    with pytest.raises(ValueError, match="must be unique"):
        Federation([http_spec("remote", upstreams.http)], toolsets=[Remote()])
