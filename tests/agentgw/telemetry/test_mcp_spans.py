"""Spans, the metric and the access log of ``/mcp``, through the ``mcp`` SDK's ``Client`` in front of the
fixture MCP server (issue 9; OpenTelemetry MCP conventions, ``docs/gen-ai/mcp.md``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import httpx2
import orjson
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, RequestParamsMeta, TextContent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes import (
    gen_ai_attributes,
    jsonrpc_attributes,
    mcp_attributes,
    network_attributes,
    rpc_attributes,
)
from opentelemetry.semconv.attributes import error_attributes, http_attributes, server_attributes
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.telemetry import Telemetry
from agentgw.telemetry.access_log import ACCESS_LOGGER
from tests.agentgw.telemetry.conftest import Lines
from tests.support.mcp_fixture import http_app
from tests.support.servers import free_port, serve_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TRACE_ID, PARENT_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@dataclass
class Gateway:
    url: str
    spans: InMemorySpanExporter
    access: Lines

    def span(self, name: str, kind: SpanKind) -> ReadableSpan:
        """The one finished span named ``name`` (polled: a span ends just after its answer is sent)."""

        def found() -> list[ReadableSpan]:
            return [s for s in self.spans.get_finished_spans() if s.name == name and s.kind == kind]

        wait_for(lambda: len(found()) >= 1, timeout=5)
        (span,) = found()
        return span


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    with serve_app(http_app("remote")) as url:
        yield f"{url}/mcp"


@pytest.fixture
def gateway(remote: str) -> Iterator[Gateway]:
    spans = InMemorySpanExporter()
    access = Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(access)
    config = parse_config(f"""
server: {{reload: false}}
mcp: {{prefix: always, servers: {{remote: {{url: "{remote}"}}}}}}
telemetry: {{access_log: true, sample_ratio: 1.0}}
""")
    try:
        with serve_app(create_app(config, telemetry=Telemetry(config.telemetry, span_exporter=spans))) as url:
            yield Gateway(url, spans, access)
    finally:
        logger.removeHandler(access)


def _text(result: CallToolResult) -> str:
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


async def test_a_tool_call_is_a_server_span_with_the_upstream_call_as_its_child(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp") as client:
        result = await client.call_tool("remote_echo", {"text": "a secret argument"})
        version = client.protocol_version
    assert _text(result) == "remote: a secret argument"
    server = gateway.span("tools/call remote_echo", SpanKind.SERVER)
    upstream = gateway.span("tools/call echo", SpanKind.CLIENT)

    assert upstream.parent is not None and upstream.parent.span_id == server.context.span_id
    assert upstream.context.trace_id == server.context.trace_id
    assert server.status.status_code == StatusCode.UNSET
    attributes = dict(server.attributes or {})
    request_id = attributes.pop("jsonrpc.request.id")
    assert isinstance(request_id, str) and request_id
    assert attributes == {
        "mcp.method.name": "tools/call",
        "mcp.protocol.version": version,
        "gen_ai.tool.name": "remote_echo",
        "gen_ai.operation.name": "execute_tool",
        "network.transport": "tcp",
        "http.route": "/mcp",
        "agentgw.protocol": "mcp",
        "agentgw.backend": "remote",
    }
    called = dict(upstream.attributes or {})
    assert called["mcp.method.name"] == "tools/call"
    assert called["gen_ai.tool.name"] == "echo"  # the upstream's own name
    assert called["gen_ai.operation.name"] == "execute_tool"
    assert called["server.address"] == "127.0.0.1" and isinstance(called["server.port"], int)
    assert "error.type" not in called
    emitted = {key for key in [*attributes, *called, "jsonrpc.request.id"] if not key.startswith("agentgw.")}
    assert emitted <= _published(), emitted - _published()


def _published() -> set[str]:
    modules = (
        gen_ai_attributes,
        mcp_attributes,
        jsonrpc_attributes,
        rpc_attributes,
        network_attributes,
        error_attributes,
        http_attributes,
        server_attributes,
    )
    return {v for m in modules for k, v in vars(m).items() if k.isupper() and isinstance(v, str)}


async def test_an_is_error_result_is_a_tool_error(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp") as client:
        result = await client.call_tool("remote_fail", {})
    assert result.is_error
    server = gateway.span("tools/call remote_fail", SpanKind.SERVER)
    upstream = gateway.span("tools/call fail", SpanKind.CLIENT)
    assert server.status.status_code == StatusCode.ERROR
    assert dict(server.attributes or {})["error.type"] == "tool_error"
    assert upstream.parent is not None and upstream.parent.span_id == server.context.span_id
    assert dict(upstream.attributes or {})["error.type"] == "tool_error"


async def test_a_json_rpc_error_is_its_code(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp") as client:
        with pytest.raises(MCPError) as error:
            await client.call_tool("remote_nope", {})
    code = str(error.value.code)
    server = gateway.span("tools/call remote_nope", SpanKind.SERVER)
    attributes = dict(server.attributes or {})
    assert attributes["error.type"] == attributes["rpc.response.status_code"] == code
    assert server.status.status_code == StatusCode.ERROR


async def test_the_status_recorded_is_the_http_status_answered(gateway: Gateway) -> None:
    # On 2026-07-28 a JSON-RPC error is answered with its table-mapped HTTP status (an unknown tool:
    # 400), on the handshake era with HTTP 200: the access log and the request count say what was sent.
    answered: list[int] = []

    async def seen(response: httpx2.Response) -> None:
        if response.request.method == "POST":
            answered.append(response.status_code)

    for mode in ("2026-07-28", "legacy"):
        async with (
            httpx2.AsyncClient(event_hooks={"response": [seen]}) as http,
            Client(streamable_http_client(f"{gateway.url}/mcp", http_client=http), mode=mode) as client,
        ):
            with pytest.raises(MCPError):
                await client.call_tool("remote_nope", {})
    lines = [orjson.loads(line) for line in gateway.access.lines]
    (modern, legacy) = [line for line in lines if line["operation"] == "tools/call"]
    assert (modern["status"], legacy["status"]) == (400, 200)
    assert modern["status"] in answered and legacy["status"] in answered
    assert modern["error_type"] == legacy["error_type"] == str(INVALID_PARAMS)


async def test_a_list_has_no_upstream_child(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp", mode="legacy") as client:
        await client.list_tools()
        await client.call_tool("remote_add", {"a": 1, "b": 2})
    listed = gateway.span("tools/list", SpanKind.SERVER)
    called = gateway.span("tools/call remote_add", SpanKind.SERVER)
    attributes = dict(listed.attributes or {})
    assert attributes["mcp.method.name"] == "tools/list"
    assert "gen_ai.tool.name" not in attributes and "gen_ai.operation.name" not in attributes
    # A handshake-era session: both requests name it.
    session = attributes["mcp.session.id"]
    assert session and dict(called.attributes or {})["mcp.session.id"] == session
    children = [s for s in gateway.spans.get_finished_spans() if s.parent is not None]
    assert all(s.parent.span_id != listed.context.span_id for s in children if s.parent is not None)


async def test_the_traceparent_header_is_continued_and_sent_upstream(gateway: Gateway) -> None:
    headers = {"traceparent": TRACEPARENT, "tracestate": "vendor=opaque"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(f"{gateway.url}/mcp", http_client=http)) as client,
    ):
        seen = json.loads(_text(await client.call_tool("remote_trace", {})))
    server = gateway.span("tools/call remote_trace", SpanKind.SERVER)
    upstream = gateway.span("tools/call trace", SpanKind.CLIENT)

    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT_ID
    assert server.parent.is_remote
    sent = f"00-{TRACE_ID}-{upstream.context.span_id:016x}-01"
    assert seen == {"meta_traceparent": sent, "meta_tracestate": "vendor=opaque", "header_traceparent": sent}


async def test_the_meta_traceparent_is_continued_and_sent_upstream(gateway: Gateway) -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    async with (
        httpx2.AsyncClient(headers={"traceparent": other}) as http,
        Client(streamable_http_client(f"{gateway.url}/mcp", http_client=http)) as client,
    ):
        meta = cast(RequestParamsMeta, {"traceparent": TRACEPARENT})  # an open map; mypy lacks extra_items
        seen = json.loads(_text(await client.call_tool("remote_trace", {}, meta=meta)))
    server = gateway.span("tools/call remote_trace", SpanKind.SERVER)
    upstream = gateway.span("tools/call trace", SpanKind.CLIENT)

    # MCP conventions: the context in params._meta is the parent, not the transport's.
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT_ID
    sent = f"00-{TRACE_ID}-{upstream.context.span_id:016x}-01"
    assert seen["meta_traceparent"] == sent and seen["header_traceparent"] == sent


async def test_the_operation_duration_metric(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp") as client:
        await client.call_tool("remote_add", {"a": 1, "b": 2})
        await client.call_tool("remote_fail", {})
    gateway.span("tools/call remote_fail", SpanKind.SERVER)  # recorded when the request ended
    async with httpx2.AsyncClient() as http:
        text = (await http.get(f"{gateway.url}/metrics")).text
    (family,) = [
        f for f in text_string_to_metric_families(text) if f.name == "mcp_server_operation_duration_seconds"
    ]
    counts = {
        (s.labels["gen_ai_tool_name"], s.labels.get("error_type", "")): s.value
        for s in family.samples
        if s.name.endswith("_count") and s.labels["mcp_method_name"] == "tools/call"
    }
    assert counts == {("remote_add", ""): 1, ("remote_fail", "tool_error"): 1}
    assert all(s.labels["mcp_protocol_version"] for s in family.samples if s.name.endswith("_count"))


async def test_one_access_log_line_per_request(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp") as client:
        await client.call_tool("remote_echo", {"text": "a secret argument"})
    server = gateway.span("tools/call remote_echo", SpanKind.SERVER)
    lines = [orjson.loads(line) for line in gateway.access.lines]
    (line,) = [line for line in lines if line["operation"] == "tools/call"]
    assert line["protocol"] == "mcp"
    assert line["route"] == "/mcp"
    assert line["target"] == "remote_echo"
    assert line["backend"] == "remote"
    assert line["status"] == 200 and line["error_type"] is None
    assert line["principal"] is None
    assert line["latency_ms"] > 0
    assert line["trace_id"] == f"{server.context.trace_id:032x}"
    assert "a secret argument" not in "\n".join(gateway.access.lines)


async def test_mcp_requests_are_counted_once_and_header_refusals_too(gateway: Gateway) -> None:
    async with Client(f"{gateway.url}/mcp") as client:
        await client.call_tool("remote_echo", {"text": "x"})
    async with httpx2.AsyncClient() as http:
        # Refused by the endpoint's first checks, before any MCP request was made of it.
        refused = await http.post(
            f"{gateway.url}/mcp", content=b"{}", headers={"content-type": "text/plain", "accept": "*/*"}
        )
        assert refused.status_code == 400
        text = (await http.get(f"{gateway.url}/metrics")).text
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "agentgw_requests"]
    counts = {
        (s.labels["http_response_status_code"], s.labels.get("error_type", "")): s.value
        for s in family.samples
        if s.name == "agentgw_requests_total" and s.labels["http_route"] == "/mcp"
    }
    lines = [orjson.loads(line) for line in gateway.access.lines]
    observed = [line for line in lines if line["status"] == 200]
    assert counts.pop(("200", "")) == len(observed) >= 2  # the handshake and the call, each once
    assert counts == {("400", "invalid_request"): 1}
    (line,) = [line for line in lines if line["status"] == 400]
    assert line["protocol"] == "mcp" and line["route"] == "/mcp" and line["trace_id"] is None
    (up,) = [f for f in text_string_to_metric_families(text) if f.name == "agentgw_upstream_up"]
    assert [(s.labels, s.value) for s in up.samples] == [
        ({"agentgw_upstream_kind": "mcp", "agentgw_upstream_name": "remote"}, 1.0)  # connected
    ]


async def test_an_mcp_server_that_cannot_be_reached_is_down(remote: str) -> None:
    config = parse_config(f"""
server: {{reload: false}}
mcp: {{servers: {{remote: {{url: "{remote}"}}, dead: {{url: "http://127.0.0.1:{free_port()}/mcp"}}}}}}
""")
    with serve_app(create_app(config)) as url:
        async with httpx2.AsyncClient() as http:
            text = (await http.get(f"{url}/metrics")).text
    (up,) = [f for f in text_string_to_metric_families(text) if f.name == "agentgw_upstream_up"]
    assert {s.labels["agentgw_upstream_name"]: s.value for s in up.samples} == {"remote": 1.0, "dead": 0.0}


async def test_tool_arguments_and_result_are_captured_only_when_enabled(remote: str) -> None:
    config = parse_config(f"""
server: {{reload: false}}
mcp: {{prefix: always, servers: {{remote: {{url: "{remote}"}}}}}}
telemetry: {{capture_content: true, sample_ratio: 1.0}}
""")
    spans = InMemorySpanExporter()
    with serve_app(create_app(config, telemetry=Telemetry(config.telemetry, span_exporter=spans))) as url:
        async with Client(f"{url}/mcp") as client:
            result = await client.call_tool("remote_echo", {"text": "a secret argument"})
        server = Gateway(url, spans, Lines()).span("tools/call remote_echo", SpanKind.SERVER)
    attributes = dict(server.attributes or {})
    assert orjson.loads(str(attributes["gen_ai.tool.call.arguments"])) == {"text": "a secret argument"}
    recorded = orjson.loads(str(attributes["gen_ai.tool.call.result"]))
    assert recorded["content"] == [{"type": "text", "text": _text(result)}]
    assert not recorded.get("isError")
    assert {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} <= _published()
