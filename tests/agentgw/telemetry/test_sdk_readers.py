"""The gateway's spans and metrics as the OpenTelemetry SDK's own in-memory exporter and reader see
them: an A2A message's spans and trace context, and every instrument through ``InMemoryMetricReader``
(the MCP and chat spans are in ``test_mcp_spans.py`` and ``test_llm_traces.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.telemetry import Telemetry
from tests.agentgw.a2a.conftest import Agents, agents  # noqa: F401  (the module's agents fixture)
from tests.agentgw.a2a.conftest import gateway_yaml as a2a_yaml
from tests.agentgw.telemetry.conftest import telemetry_yaml
from tests.support.servers import serve_app, wait_for

TRACE_ID, CLIENT_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
MESSAGE = {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "work"}]}


@contextlib.contextmanager
def _gateway(yaml: str) -> Iterator[tuple[str, InMemorySpanExporter, InMemoryMetricReader]]:
    config = parse_config(yaml)
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = Telemetry(config.telemetry, span_exporter=spans, metric_reader=reader)
    with serve_app(create_app(config, telemetry=telemetry)) as url:
        yield url, spans, reader


def _metrics(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    assert isinstance(data, MetricsData)
    (resource,) = data.resource_metrics
    assert resource.resource.attributes["service.name"] == "agentgw"
    (scope,) = resource.scope_metrics
    return {metric.name: metric for metric in scope.metrics}


def _points(metric: Metric) -> list[Any]:
    assert isinstance(metric.data, Histogram | Sum | Gauge)
    return list(metric.data.data_points)


def test_an_a2a_message_is_a_server_span_with_the_agent_call_as_its_child(agents: Agents) -> None:  # noqa: F811
    yaml = a2a_yaml(agents, extra="telemetry: {sample_ratio: 1.0}")
    with _gateway(yaml) as (url, spans, reader):
        seen_before = len(agents.task.seen)
        body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": MESSAGE}}
        headers = {"A2A-Version": "1.0", "traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"}
        reply = httpx2.post(f"{url}/a2a/task", json=body, headers=headers)
        assert reply.status_code == 200, reply.text
        task_id = reply.json()["result"]["task"]["id"]
        wait_for(lambda: len(spans.get_finished_spans()) >= 2, timeout=5)
        metrics = _metrics(reader)

    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    (client,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert server.name == "SendMessage"  # A2A: "{a2a.method.name}"
    attributes = dict(server.attributes or {})
    assert attributes["a2a.method.name"] == "SendMessage"
    assert attributes["a2a.task.id"] == task_id
    assert attributes["a2a.task.state"] == "TASK_STATE_COMPLETED"
    assert attributes["http.route"] == "/a2a/{agent}"
    assert attributes["http.response.status_code"] == 200
    assert attributes["agentgw.backend"] == "task"
    # The client's trace is continued; the call to the agent is the server span's child...
    assert server.context is not None and client.context is not None
    assert f"{server.context.trace_id:032x}" == TRACE_ID
    assert server.parent is not None and f"{server.parent.span_id:016x}" == CLIENT_SPAN
    assert server.parent.is_remote
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id
    assert client.name == "SendMessage task"
    assert dict(client.attributes or {})["server.address"] == "127.0.0.1"
    # ... and the agent was told so.
    (sent,) = [h for h in agents.task.seen[seen_before:] if h["path"] == "/"]
    assert sent["traceparent"] == f"00-{TRACE_ID}-{client.context.span_id:016x}-01"

    (requests,) = [
        p for p in _points(metrics["agentgw.requests"]) if p.attributes["agentgw.protocol"] == "a2a"
    ]
    assert requests.value == 1 and requests.attributes["http.route"] == "/a2a/{agent}"
    up = {p.attributes["agentgw.upstream.name"]: p.value for p in _points(metrics["agentgw.upstream.up"])}
    assert up["task"] == 1  # called, and it answered


def test_the_metric_reader_reads_every_instrument(fake_openai_url: str) -> None:
    yaml = telemetry_yaml(fake_openai_url, "{sample_ratio: 1.0}")
    with _gateway(yaml) as (url, _, reader):
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        completion = sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
        list(
            sdk.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "x"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        wait_for(lambda: "gen_ai.client.operation.time_to_first_chunk" in _metrics(reader), timeout=5)
        metrics = _metrics(reader)

    assert completion.usage is not None
    tokens = _points(metrics["gen_ai.client.token.usage"])
    assert metrics["gen_ai.client.token.usage"].unit == "{token}"
    (input_tokens,) = [p for p in tokens if p.attributes["gen_ai.token.type"] == "input"]
    assert input_tokens.count == 2 and input_tokens.sum == 2 * completion.usage.prompt_tokens
    assert input_tokens.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": completion.model,
        "gen_ai.token.type": "input",
    }
    (duration,) = _points(metrics["gen_ai.client.operation.duration"])
    assert duration.count == 2 and metrics["gen_ai.client.operation.duration"].unit == "s"
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]  # the conventions' advice
    (ttfc,) = _points(metrics["gen_ai.client.operation.time_to_first_chunk"])
    assert ttfc.count == 1 and 0 < ttfc.sum < duration.sum
    (requests,) = _points(metrics["agentgw.requests"])
    assert requests.value == 2 and requests.attributes["http.response.status_code"] == 200
    assert isinstance(metrics["agentgw.requests"].data, Sum) and metrics["agentgw.requests"].data.is_monotonic
    up = {
        (p.attributes["agentgw.upstream.kind"], p.attributes["agentgw.upstream.name"]): p.value
        for p in _points(metrics["agentgw.upstream.up"])
    }
    assert up == {("llm", "fake"): 1, ("llm", "dead"): 1}  # "dead" was never tried: nothing known


def test_an_llm_backend_taken_out_by_passive_health_is_down(fake_openai_url: str) -> None:
    yaml = telemetry_yaml(fake_openai_url, "{sample_ratio: 1.0}")
    with _gateway(yaml) as (url, _, reader):
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        for _ in range(5):  # failures in a row take the target out of rotation
            with contextlib.suppress(openai.APIError):
                sdk.chat.completions.create(model="unreachable", messages=[{"role": "user", "content": "x"}])
        metrics = _metrics(reader)
    up = {p.attributes["agentgw.upstream.name"]: p.value for p in _points(metrics["agentgw.upstream.up"])}
    assert up == {"fake": 1, "dead": 0}
