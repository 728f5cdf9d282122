"""MCP usage records: one per tool call through the ``mcp`` SDK client, with the tokens of its
arguments and of its result, and the per-call price; lists and handshakes are not usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.client import Client

from agentgw import create_app
from agentgw.accounting.estimate import estimate_tokens
from agentgw.config import parse_config
from tests.agentgw.accounting.support import accounting_yaml, records_of, sqlite_url
from tests.support.mcp_fixture import http_app
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tool_calls_are_recorded_with_argument_and_result_tokens(tmp_path: Path, mode: str) -> None:
    url = sqlite_url(tmp_path)
    text = "tokens " * 60
    with serve_app(http_app("remote")) as remote:
        config = parse_config(f"""
server: {{reload: false}}
mcp: {{prefix: always, servers: {{remote: {{url: "{remote}/mcp"}}}}}}
{accounting_yaml(url, prices='{tools: {"remote_echo": 0.002, "remote_*": 0.001}}')}
""")
        with serve_app(create_app(config)) as gateway:
            async with Client(f"{gateway}/mcp", mode=mode) as client:
                await client.list_tools()
                echoed = await client.call_tool("remote_echo", {"text": text})
                added = await client.call_tool("remote_add", {"a": 20, "b": 22})
                failed = await client.call_tool("remote_fail", {})
    assert not echoed.is_error and not added.is_error and failed.is_error
    records = await records_of(url)
    assert [r.target for r in records] == ["remote_echo", "remote_add", "remote_fail"]
    echo, add, fail = records
    assert all(r.kind == "mcp" and r.operation == "tools/call" and r.backend == "remote" for r in records)
    assert echo.tool_arg_tokens == estimate_tokens('{"text":"' + text + '"}')
    assert echo.tool_result_tokens == estimate_tokens(f"remote: {text}")
    assert add.tool_arg_tokens == estimate_tokens('{"a":20,"b":22}') and add.tool_result_tokens == 1  # "42"
    assert fail.error_type == "tool_error" and fail.tool_result_tokens is not None
    assert (echo.cost_usd, add.cost_usd) == (0.002, 0.001)  # an exact name wins over the pattern
    assert all(r.input_tokens is None and not r.estimated for r in records)
