"""The ``mcp`` suite: MCP ``tools/call`` straight to a Streamable HTTP server vs through ``/mcp``, and
``tools/list`` over a federation of 10 servers x 100 tools.

The upstream is ``examples/mcp_tools_server.py`` (the ``mcp`` SDK's ``MCPServer``), whose ``add``
answers at once, so the gateway's cost is what is measured. Requests are MCP 2026-07-28 (stateless:
one POST per call, with the ``_meta`` envelope and the ``Mcp-Method``/``Mcp-Name`` headers), which
is what a load generator can send without a session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import orjson

from bench._harness import Comparison, Options, compare, comparison_table, load_generator
from bench._load import Target
from bench._processes import REPO, gateway, python_server
from bench.errors import BenchError

__all__ = ["run"]

CONCURRENCIES = (1, 16)
SERVERS = 10
TOOLS = 100
_VERSION = "2026-07-28"
_META = {
    "io.modelcontextprotocol/protocolVersion": _VERSION,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def run(options: Options) -> str:
    """Run the suite, print its tables, and return the summary line.

    Raises:
        BenchError: a process did not start or a request failed.
    """
    generator = load_generator()
    script = REPO / "examples" / "mcp_tools_server.py"
    args = ("--servers", str(SERVERS), "--tools", str(TOOLS))
    with (
        python_server(script, *args, ready_path="/s0/mcp") as (upstream, _),
        gateway(_config({"tools": f"{upstream}/s0/mcp"})) as (one_url, _),
        gateway(_config({f"s{i}": f"{upstream}/s{i}/mcp" for i in range(SERVERS)})) as (many_url, process),
    ):
        call = _body("tools/call", {"name": "add", "arguments": {"a": 20, "b": 22}})
        headers = _headers("tools/call", "add")
        direct = Target("direct", f"{upstream}/s0/mcp", call, headers)
        through = Target("gateway", f"{one_url}/mcp", call, headers)
        for target in (direct, through):
            check_jsonrpc(target, lambda result: result.get("structuredContent") == {"result": 42})
        calls = compare(generator, direct, through, CONCURRENCIES, options)

        listing = _body("tools/list", {})
        list_direct = Target("direct", f"{upstream}/s0/mcp", listing, _headers("tools/list"))
        list_through = Target("gateway", f"{many_url}/mcp", listing, _headers("tools/list"))
        check_jsonrpc(list_direct, lambda result: len(result.get("tools", ())) == TOOLS)
        check_jsonrpc(list_through, lambda result: len(result.get("tools", ())) == SERVERS * TOOLS)
        lists = compare(generator, list_direct, list_through, (1,), options)
        rss_mb = process.rss_mb()

    print(f"MCP tools/call (2026-07-28, stateless), load generator: {generator.name}")
    print("\n".join(comparison_table(list(calls.values()))))
    print(f"\nMCP tools/list: direct = 1 server x {TOOLS} tools; gateway = {SERVERS} servers x {TOOLS} tools")
    print("\n".join(comparison_table(list(lists.values()))))
    print(f"gateway ({SERVERS} upstreams) RSS after the load: {rss_mb:.1f} MB")
    return summary_line(calls[1], calls[16], lists[1])


def summary_line(c1: Comparison, c16: Comparison, listing: Comparison) -> str:
    return (
        f"mcp: call_added_p50_ms={c1.added_p50_ms:.3f} call_rps_ratio={c16.rps_ratio:.3f}"
        f" list_p50_ms={listing.gateway.p50_ms:.3f}"
    )


def _config(servers: dict[str, str]) -> dict[str, object]:
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "mcp": {"servers": {name: {"url": url} for name, url in servers.items()}},
    }


def _body(method: str, params: dict[str, object]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": _META}})


def _headers(method: str, name: str | None = None) -> tuple[tuple[str, str], ...]:
    headers = [
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", _VERSION),
        ("Mcp-Method", method),
    ]
    if name is not None:
        headers.append(("Mcp-Name", name))
    return tuple(headers)


def check_jsonrpc(target: Target, accept: Callable[[dict[str, Any]], bool]) -> None:
    """Send ``target`` once and check its JSON-RPC ``result`` with ``accept``.

    A load generator counts any 2xx, and JSON-RPC errors can be 2xx: each side is checked once
    before it is measured.
    """
    try:
        response = httpx2.post(
            target.url,
            content=target.body,
            headers={"content-type": "application/json", **dict(target.headers)},
            trust_env=False,
            timeout=30,
        )
    except httpx2.HTTPError as exc:
        raise BenchError(f"{target.name}: request failed: {exc}") from exc
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = [line[5:] for line in text.splitlines() if line.startswith("data:")][-1]
    try:
        result = orjson.loads(text).get("result", {})
    except orjson.JSONDecodeError:
        result = {}
    if response.status_code != 200 or not accept(result):
        raise BenchError(f"{target.name}: unexpected answer {response.status_code}: {response.text[:300]}")
