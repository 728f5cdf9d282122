"""A fixture MCP server written with the ``mcp`` SDK's ``MCPServer``, to stand upstream of the gateway.

One definition, served three ways: over stdio (``python -m tests.support.mcp_fixture NAME``), as a
Streamable HTTP app (:func:`http_app`) and as a 2024-11-05 HTTP+SSE app (:func:`sse_app`). ``NAME``
is put into every answer so a test can tell which upstream served it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from typing import Annotated, Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams
from pydantic import BaseModel, Field
from starlette.applications import Starlette


class Answer(BaseModel):
    answer: str = Field(description="What the user said")


# Elicit as a dependency: a request on the stream at 2025-11-25, input_required at 2026-07-28.
# (Module level: the SDK resolves the annotations by name.)
async def ask_user(question: str) -> Answer | Elicit[Answer]:
    return Elicit(question, Answer)


def build(name: str) -> MCPServer:
    mcp = MCPServer(name=f"fixture-{name}", version="1.0.0")

    @mcp.tool(description="Add two integers")
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool(description="Echo the text back, naming the server")
    def echo(text: str) -> str:
        return f"{name}: {text}"

    @mcp.tool(description="Report progress three times, then answer")
    async def progress(ctx: Context) -> str:
        for step in (1, 2, 3):
            await ctx.report_progress(progress=step, total=3, message=f"step {step}")
        return "done"

    @mcp.tool(description="A tool that reports a failure")
    def fail() -> str:
        raise ToolError("this tool always fails")

    @mcp.tool(description="Ask the user a question")
    async def ask(question: str, answer: Annotated[Answer, Resolve(ask_user)]) -> str:
        return f"answer: {answer.answer}"

    cancelled: list[int] = []

    @mcp.tool(description="Wait until cancelled")
    async def hang() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(1)
            raise
        return "never"

    @mcp.tool(description="How many hang calls were cancelled")
    def cancellations() -> int:
        return len(cancelled)

    @mcp.tool(description="The trace context this request carried: params._meta and the HTTP header")
    def trace(ctx: Context) -> dict[str, str | None]:
        meta: dict[str, Any] = dict(ctx.request_context.meta or {})
        http = ctx.request_context.request
        return {
            "meta_traceparent": meta.get("traceparent"),
            "meta_tracestate": meta.get("tracestate"),
            "header_traceparent": http.headers.get("traceparent") if http is not None else None,
        }

    @mcp.tool(description="The client capabilities this request declared (MCP 2026-07-28 params._meta)")
    def capabilities(ctx: Context) -> dict[str, Any]:
        meta: dict[str, Any] = dict(ctx.request_context.meta or {})
        return {"declared": meta.get("io.modelcontextprotocol/clientCapabilities")}

    @mcp.tool(description="The server's process id")
    def pid() -> int:
        return os.getpid()

    @mcp.tool(description="Add a tool named `name` and announce the change")
    async def grow(name: str, ctx: Context) -> str:
        mcp.add_tool(lambda: name, name=name, description="A tool added at run time")
        if ctx.protocol_version == "2026-07-28":
            await ctx.notify_tools_changed()
        else:
            await ctx.session.send_tool_list_changed()
        return f"added {name}"

    @mcp.tool(description="Log a message while working")
    async def chatty(ctx: Context) -> str:
        with warnings.catch_warnings():  # logging is deprecated at 2026-07-28 (SEP-2577), still served
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await ctx.session.send_log_message("info", "working on it", related_request_id=ctx.request_id)
        return "said it"

    @mcp.tool(description="Ask the client for its roots (a handshake-era request on the stream)")
    async def roots(ctx: Context) -> str:
        try:
            with warnings.catch_warnings():  # roots is deprecated at 2026-07-28 (SEP-2577), still served
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                listed = await ctx.session.list_roots()
        except MCPError as exc:
            return f"refused: {exc.error.message}"
        return "roots: " + ",".join(str(root.uri) for root in listed.roots)

    @mcp.tool(description="Tell subscribers that fixture://info changed")
    async def touch(ctx: Context) -> str:
        await ctx.session.send_resource_updated("fixture://info")
        return "touched"

    @mcp.prompt(description="Greet someone")
    def greet(who: str) -> str:
        return f"Hello {who}, from {name}"

    @mcp.resource("fixture://info", description="About this server")
    def info() -> str:
        return f"fixture server {name}"

    @mcp.resource("fixture://items/{item}", description="One item")
    def item(item: str) -> str:
        return f"{name} item {item}"

    # MCPServer has no public API for these yet (the SDK's own conformance server does the same).
    async def subscribe(ctx: ServerRequestContext, params: SubscribeRequestParams) -> EmptyResult:
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext, params: UnsubscribeRequestParams) -> EmptyResult:
        return EmptyResult()

    lowlevel = mcp._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    return mcp


def http_app(name: str, **kwargs: Any) -> Starlette:
    return build(name).streamable_http_app(**kwargs)


def sse_app(name: str) -> Starlette:
    return build(name).sse_app()


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "stdio").run("stdio")
