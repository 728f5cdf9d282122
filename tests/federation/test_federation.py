"""The federation in-process: stdio, Streamable HTTP and HTTP+SSE upstreams behind one /mcp, driven
by the ``mcp`` SDK ``Client`` in both eras."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import anyio
import pytest
from mcp.client import Client
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import (
    INVALID_PARAMS,
    ElicitRequestParams,
    ElicitResult,
    ListRootsResult,
    LoggingMessageNotificationParams,
    ResourceUpdatedNotification,
    Root,
    TextContent,
    TextResourceContents,
)
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from federation import Federation
from federation.errors import RESOURCE_NOT_FOUND
from tests.federation.conftest import Upstreams, http_spec, serve_federation, sse_spec, stdio_spec

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams) -> Iterator[tuple[str, Federation]]:
    specs = [
        stdio_spec("local"),
        http_spec("remote", upstreams.http),
        sse_spec("old", upstreams.sse),
        # the same server as "remote", reached with the 2025-11-25 handshake instead of 2026-07-28
        http_spec("handshake", upstreams.http, mode="legacy"),
        stdio_spec("pipe", mode="legacy"),
    ]
    with serve_federation(specs) as served:
        yield served


def text(result: object) -> str:
    content = result.content  # type: ignore[attr-defined]
    assert isinstance(content[0], TextContent)
    return content[0].text


@pytest.mark.parametrize("mode", MODES)
async def test_lists_merge_every_upstream_with_prefixes(gateway: tuple[str, Federation], mode: str) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp", mode=mode) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        resources = [r.uri for r in (await client.list_resources()).resources]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    for server in ("local", "remote", "old"):
        assert f"{server}_add" in tools
        assert f"{server}_greet" in prompts
        assert f"{server}+fixture://info" in resources
        assert f"{server}+fixture://items/{{item}}" in templates
    assert tools == sorted(tools)


@pytest.mark.parametrize("mode", MODES)
async def test_calls_reach_the_owning_upstream(gateway: tuple[str, Federation], mode: str) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp", mode=mode) as client:
        for server in ("local", "remote", "old"):
            assert text(await client.call_tool(f"{server}_echo", {"text": "hi"})) == f"{server}: hi"
            assert (await client.call_tool(f"{server}_add", {"a": 2, "b": 3})).structured_content == {
                "result": 5
            }
            prompt = await client.get_prompt(f"{server}_greet", {"who": "Ada"})
            assert isinstance(prompt.messages[0].content, TextContent)
            assert prompt.messages[0].content.text == f"Hello Ada, from {server}"
            read = await client.read_resource(f"{server}+fixture://items/7")
            assert isinstance(read.contents[0], TextResourceContents)
            assert read.contents[0].text == f"{server} item 7"
            assert read.contents[0].uri == f"{server}+fixture://items/7"


@pytest.mark.parametrize("mode", MODES)
async def test_progress_flows_back_to_the_client(gateway: tuple[str, Federation], mode: str) -> None:
    url, _ = gateway
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(f"{url}/mcp", mode=mode) as client:
        for server in ("local", "remote"):
            seen.clear()
            result = await client.call_tool(f"{server}_progress", {}, progress_callback=on_progress)
            assert text(result) == "done"
            assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


@pytest.mark.parametrize("upstream", ["remote", "handshake", "local", "pipe"])
@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_round_trip(gateway: tuple[str, Federation], mode: str, upstream: str) -> None:
    """Every era combination: the upstream asks by input_required (2026-07-28) or by request
    (2025-11-25, over HTTP and stdio); the client answers by callback in either era."""
    url, federation = gateway
    assert federation.upstream("remote").protocol_version == "2026-07-28"
    assert federation.upstream("handshake").protocol_version == LATEST_HANDSHAKE_VERSION
    assert federation.upstream("pipe").protocol_version == LATEST_HANDSHAKE_VERSION
    asked: list[str] = []

    async def on_elicit(context: object, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"answer": "blue"})

    async with Client(f"{url}/mcp", mode=mode, elicitation_callback=on_elicit) as client:
        result = await client.call_tool(f"{upstream}_ask", {"question": "favourite colour?"})
    assert text(result) == "answer: blue"
    assert asked == ["favourite colour?"]


@pytest.mark.parametrize("upstream", ["handshake", "pipe"])
@pytest.mark.parametrize("mode", MODES)
async def test_requests_reach_only_clients_that_declared_them(
    gateway: tuple[str, Federation], mode: str, upstream: str
) -> None:
    """The upstream connection declares roots for every client; one that did not declare it is never
    asked (its SDK would fail the call), and the upstream gets the refusal in its stead."""
    url, _ = gateway

    async def on_roots(context: object) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri="file:///work/project")])

    async with Client(f"{url}/mcp", mode=mode) as client:
        refused = await client.call_tool(f"{upstream}_roots", {})
    async with Client(f"{url}/mcp", mode=mode, list_roots_callback=on_roots) as client:
        listed = await client.call_tool(f"{upstream}_roots", {})
    assert text(refused) == "refused: the client did not declare the roots capability"
    assert text(listed) == "roots: file:///work/project"


async def test_tool_errors_are_results_not_protocol_errors(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp") as client:
        result = await client.call_tool("remote_fail", {})
    assert result.is_error
    assert "this tool always fails" in text(result)


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_names_are_json_rpc_errors(gateway: tuple[str, Federation], mode: str) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp", mode=mode) as client:
        with pytest.raises(MCPError) as tool:
            await client.call_tool("nowhere_add", {"a": 1, "b": 2})
        with pytest.raises(MCPError) as prompt:
            await client.get_prompt("nowhere_greet", {"who": "x"})
        with pytest.raises(MCPError) as resource:
            await client.read_resource("nowhere+fixture://info")
        # the gateway keeps serving
        assert text(await client.call_tool("local_echo", {"text": "still here"})) == "local: still here"
    assert (tool.value.code, tool.value.message) == (INVALID_PARAMS, "Unknown tool: nowhere_add")
    assert prompt.value.code == INVALID_PARAMS
    # MCP 2026-07-28 (SEP-2164) answers an unknown resource with -32602; earlier revisions with -32002.
    assert resource.value.code == (INVALID_PARAMS if mode == "auto" else RESOURCE_NOT_FOUND)
    assert resource.value.data == {"uri": "nowhere+fixture://info"}


async def test_the_legacy_sse_transport_downstream(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    async with Client(sse_client(f"{url}/sse"), mode="legacy") as client:
        assert client.protocol_version == LATEST_HANDSHAKE_VERSION
        tools = [t.name for t in (await client.list_tools()).tools]
        assert "old_add" in tools
        assert text(await client.call_tool("old_echo", {"text": "sse"})) == "old: sse"


async def test_upstream_log_messages_reach_the_caller(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    logs: list[object] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    # A handshake-era upstream sends them with the call; the client hears them on its call's stream.
    async with Client(f"{url}/mcp", mode="legacy", logging_callback=on_log) as client:
        assert text(await client.call_tool("pipe_chatty", {})) == "said it"
    assert logs == ["working on it"]


async def test_resource_subscriptions(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    updated = anyio.Event()
    seen: list[str] = []

    async def on_message(message: object) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            seen.append(message.params.uri)
            updated.set()

    async with Client(f"{url}/mcp", mode="legacy", message_handler=on_message) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # resources/subscribe is 2025-era API
            await client.subscribe_resource("pipe+fixture://info")
            await client.call_tool("pipe_touch", {})
            with anyio.fail_after(10):
                await updated.wait()
            await client.unsubscribe_resource("pipe+fixture://info")
    assert seen == ["pipe+fixture://info"]


@pytest.mark.parametrize("mode", MODES)
async def test_cancellation_reaches_the_upstream(gateway: tuple[str, Federation], mode: str) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp", mode=mode) as client:
        before = (await client.call_tool("pipe_cancellations", {})).structured_content
        assert before is not None
        # The client gives up: it cancels its request, the gateway its upstream request.
        with pytest.raises(MCPError):
            await client.call_tool("pipe_hang", {}, read_timeout_seconds=0.5)
        with anyio.fail_after(10):
            while True:
                after = (await client.call_tool("pipe_cancellations", {})).structured_content
                assert after is not None
                if after["result"] > before["result"]:
                    break
                await anyio.sleep(0.05)


async def test_results_carry_the_gateways_identity(gateway: tuple[str, Federation]) -> None:
    url, _ = gateway
    async with Client(f"{url}/mcp") as client:
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool("remote_add", {"a": 1, "b": 2})
    assert result.meta is not None
    assert result.meta["io.modelcontextprotocol/serverInfo"]["name"] == "agentgw"
