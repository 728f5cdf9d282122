"""A small MCP server (``mcp`` SDK ``MCPServer``) over Streamable HTTP, answering at once.

``python examples/mcp_tools_server.py --port 9300`` serves one server at ``/mcp`` with the tools
``add`` and ``echo``. ``--servers N --tools T`` serves N servers at ``/s0/mcp`` ... (``/mcp`` is
``/s0/mcp``), each with ``add``, ``echo`` and T-2 more generated tools: the upstreams of
``bench/run.py mcp``. Binds 127.0.0.1. ``--stdio`` serves one server over stdin/stdout instead.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.routing import Mount


def build(index: int, tools: int) -> MCPServer:
    mcp = MCPServer(name=f"tools-{index}", version="1.0.0")

    @mcp.tool(description="Add two integers")
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool(description="Echo the text back")
    def echo(text: str) -> str:
        return text

    for n in range(max(tools - 2, 0)):
        mcp.add_tool(lambda x=n: x, name=f"tool_{n:03d}", description=f"Generated tool number {n}")
    return mcp


def app(servers: int, tools: int) -> Starlette:
    built = [build(i, tools) for i in range(servers)]
    apps = [s.streamable_http_app(streamable_http_path="/mcp") for s in built]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for server in built:
                await stack.enter_async_context(server.session_manager.run())
            yield

    routes = [Mount(f"/s{i}", app=a) for i, a in enumerate(apps)]
    return Starlette(routes=[*routes, Mount("/", app=apps[0])], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--tools", type=int, default=2)
    parser.add_argument("--stdio", action="store_true", help="serve one server over stdin/stdout")
    args = parser.parse_args()
    if args.stdio:
        build(0, args.tools).run("stdio")
        return
    uvicorn.run(
        app(args.servers, args.tools),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    main()
