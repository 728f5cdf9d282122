"""2026-07-28 ``tools/call`` to a 2026-07-28 Streamable HTTP upstream, forwarded as bytes
(``federation.fastpath``): the same answers as the SDK path, notifications streamed back, client
disconnects cancelling, and every request the SDK must judge left to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequestParams, ElicitResult, LoggingMessageNotificationParams, TextContent

from federation import Federation
from tests.federation.conftest import Upstreams, http_spec, serve_federation, stdio_spec

pytestmark = pytest.mark.anyio

VERSION = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": VERSION, "io.modelcontextprotocol/clientCapabilities": {}}
HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": VERSION}


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams) -> Iterator[tuple[str, Federation]]:
    with serve_federation([stdio_spec("local"), http_spec("remote", upstreams.http)]) as served:
        yield served


def call(name: str, arguments: dict[str, Any], *, request_id: int = 1, **meta: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments, "_meta": {**META, **meta}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def headers(name: str) -> dict[str, str]:
    return {**HEADERS, "mcp-method": "tools/call", "mcp-name": name}


def sse_messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


async def test_the_upstream_hears_the_calling_clients_capabilities(gateway: tuple[str, Federation]) -> None:
    """The gateway's own upstream connection declares every capability; a forwarded call carries the
    caller's, so the upstream asks (input_required) only what this client can answer."""
    url, _ = gateway

    async def on_elicit(context: object, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="decline")

    async with Client(f"{url}/mcp") as plain:
        assert plain.protocol_version == VERSION
        bare = (await plain.call_tool("remote_capabilities", {})).structured_content
    async with Client(f"{url}/mcp", elicitation_callback=on_elicit) as asking:
        declared = (await asking.call_tool("remote_capabilities", {})).structured_content
    assert bare == {"declared": {}}
    assert declared is not None and set(declared["declared"]) == {"elicitation"}


async def test_answers_are_the_upstreams_with_the_gateways_identity(
    gateway: tuple[str, Federation], upstreams: Upstreams
) -> None:
    url, _ = gateway
    async with httpx2.AsyncClient() as http:
        through = await http.post(
            f"{url}/mcp", json=call("remote_add", {"a": 2, "b": 40}), headers=headers("remote_add")
        )
        direct = await http.post(upstreams.http, json=call("add", {"a": 2, "b": 40}), headers=headers("add"))
    assert through.status_code == direct.status_code == 200
    assert through.headers["content-type"] == "application/json"
    ours, theirs = through.json(), direct.json()
    assert ours["result"].pop("_meta") == {
        "io.modelcontextprotocol/serverInfo": {"name": "agentgw", "version": ""}
    }
    assert theirs["result"].pop("_meta")["io.modelcontextprotocol/serverInfo"]["name"] == "fixture-remote"
    assert ours == theirs
    assert ours["result"]["structuredContent"] == {"result": 42}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_either_path_gives_the_same_results(gateway: tuple[str, Federation], mode: str) -> None:
    """``auto`` is forwarded as bytes, ``legacy`` goes through the SDK on both sides."""
    url, _ = gateway
    async with Client(f"{url}/mcp", mode=mode) as client:
        echoed = await client.call_tool("remote_echo", {"text": "same"})
        failed = await client.call_tool("remote_fail", {})
        wrong = await client.call_tool("remote_add", {"a": "not a number", "b": 1})
    assert isinstance(echoed.content[0], TextContent) and echoed.content[0].text == "remote: same"
    assert failed.is_error and isinstance(failed.content[0], TextContent)
    assert "this tool always fails" in failed.content[0].text
    assert wrong.is_error


async def test_notifications_stream_back_before_the_answer(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    body = call("remote_progress", {}, progressToken="mine")
    async with httpx2.AsyncClient() as http:
        response = await http.post(f"{url}/mcp", json=body, headers=headers("remote_progress"))
    assert response.headers["content-type"] == "text/event-stream"
    *progress, answer = sse_messages(response.text)
    assert [(m["method"], m["params"]["progressToken"], m["params"]["progress"]) for m in progress] == [
        ("notifications/progress", "mine", 1),
        ("notifications/progress", "mine", 2),
        ("notifications/progress", "mine", 3),
    ]
    assert answer["id"] == 1 and answer["result"]["content"][0]["text"] == "done"
    assert answer["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "agentgw"


async def test_log_messages_reach_a_client_that_asked_for_them(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    logs: list[object] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async with Client(f"{url}/mcp", logging_callback=on_log, log_level="info") as client:
        assert isinstance((await client.call_tool("remote_chatty", {})).content[0], TextContent)
    async with Client(f"{url}/mcp", logging_callback=on_log) as quiet:  # no logLevel: none are sent
        await quiet.call_tool("remote_chatty", {})
    assert logs == ["working on it"]


async def test_a_client_that_goes_away_cancels_the_upstream_call(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp") as client:
        before = (await client.call_tool("remote_cancellations", {})).structured_content
        assert before is not None
        with pytest.raises(MCPError):
            await client.call_tool("remote_hang", {}, read_timeout_seconds=0.5)
        with anyio.fail_after(10):
            while True:
                after = (await client.call_tool("remote_cancellations", {})).structured_content
                assert after is not None
                if after["result"] > before["result"]:
                    break
                await anyio.sleep(0.05)


async def test_requests_the_sdk_must_judge_are_left_to_it(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    add = call("remote_add", {"a": 1, "b": 2})
    async with httpx2.AsyncClient() as http:
        mismatch = await http.post(f"{url}/mcp", json=add, headers=headers("remote_echo"))
        unknown = await http.post(f"{url}/mcp", json=call("nowhere_add", {}), headers=headers("nowhere_add"))
        no_envelope = {**add, "params": {"name": "remote_add", "arguments": {"a": 1, "b": 2}}}
        bare = await http.post(f"{url}/mcp", json=no_envelope, headers=headers("remote_add"))
        json_only = await http.post(
            f"{url}/mcp", json=add, headers={**headers("remote_add"), "accept": "application/json"}
        )
        unparsable = await http.post(
            f"{url}/mcp",
            content=b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call"',
            headers={**headers("remote_add"), "content-type": "application/json"},
        )
        fine = await http.post(f"{url}/mcp", json=add, headers=headers("remote_add"))
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (400, -32020)
    assert unknown.json()["error"] == {"code": -32602, "message": "Unknown tool: nowhere_add"}
    assert (bare.status_code, bare.json()["error"]["code"]) == (400, -32602)
    assert json_only.status_code == 406
    assert (unparsable.status_code, unparsable.json()["error"]["code"]) == (400, -32700)
    assert fine.json()["result"]["structuredContent"] == {"result": 3}


async def test_lists_are_the_catalogs_pages(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    body = {"jsonrpc": "2.0", "id": "l", "method": "tools/list", "params": {"_meta": META}}
    list_headers = {**HEADERS, "mcp-method": "tools/list"}
    async with httpx2.AsyncClient() as http:
        listed = await http.post(f"{url}/mcp", json=body, headers=list_headers)
        bad = {**body, "params": {"_meta": META, "cursor": "not-an-offset"}}
        refused = await http.post(f"{url}/mcp", json=bad, headers=list_headers)
    result = listed.json()["result"]
    names = [tool["name"] for tool in result["tools"]]
    assert "remote_add" in names and "local_add" in names and names == sorted(names)
    assert (result["ttlMs"], result["cacheScope"], result["resultType"]) == (0, "private", "complete")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "agentgw"
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, -32602)
