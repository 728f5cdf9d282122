"""Requests refused before any route took them are still counted and logged (issue 9)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import httpx2
import openai
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from agentgw.auth.api_keys import hash_key
from tests.agentgw.telemetry.conftest import traced_gateway
from tests.support.servers import free_port

AUTH = f"""
auth:
  api_keys: [{{name: alice, key_sha256: {hash_key("sk-alice")}, roles: [dev], team: platform}}]
rbac:
  roles:
    dev: {{allow: {{models: ["gpt-4o-mini"]}}}}
"""


def _requests(url: str) -> dict[tuple[str, str, str], float]:
    text = httpx2.get(f"{url}/metrics").text
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "agentgw_requests"]
    return {
        (
            s.labels["http_route"],
            s.labels["http_response_status_code"],
            s.labels.get("error_type", ""),
        ): s.value
        for s in family.samples
        if s.name == "agentgw_requests_total"
    }


def test_refusals_before_routing_are_counted_and_logged(fake_openai_url: str) -> None:
    with traced_gateway(fake_openai_url, extra=AUTH) as traced:
        base = f"{traced.url}/v1"
        with pytest.raises(openai.AuthenticationError):  # no key: authentication answers 401
            openai.OpenAI(base_url=base, api_key="wrong", max_retries=0).models.list()
        assert httpx2.get(f"{traced.url}/nowhere/{'x' * 40}").status_code in (401, 404)
        alice = {"authorization": "Bearer sk-alice"}
        assert httpx2.get(f"{base}/unknown-endpoint", headers=alice).status_code == 404  # the router
        assert httpx2.delete(f"{base}/chat/completions", headers=alice).status_code == 405
        sdk = openai.OpenAI(base_url=base, api_key="sk-alice", max_retries=0)
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.PermissionDeniedError):  # a route's refusal: observed by the route
            sdk.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
        counts = _requests(traced.url)
        lines = [json.loads(line) for line in traced.access.lines]

    assert counts[("/v1/models", "401", "unauthorized")] == 1
    assert counts[("unmatched", "404", "not_found")] == 1  # any path: one low-cardinality route
    assert counts[("/v1/chat/completions", "405", "method_not_allowed")] == 1
    assert counts[("/v1/chat/completions", "200", "")] == 1
    assert counts[("/v1/chat/completions", "403", "permission_denied")] == 1  # counted once, by the route
    assert not any("nowhere" in route for route, _, _ in counts)
    refused = [line for line in lines if line["status"] == 401]
    assert refused and refused[0]["route"] == "/v1/models" and refused[0]["principal"] is None
    assert refused[0]["trace_id"] is None  # no span for a request no operation started
    assert refused[0]["latency_ms"] > 0  # timed from the gateway's first layer, not from the refusal
    not_found = [line for line in lines if line["status"] == 404 and line["route"] == "unmatched"]
    assert not_found and not_found[0]["principal"] == "key:alice" and not_found[0]["team"] == "platform"
    assert len(lines) == 6


def test_refusals_made_by_routes_and_the_mcp_transport_are_counted_once(fake_openai_url: str) -> None:
    with traced_gateway(fake_openai_url) as traced:
        url = traced.url
        assert httpx2.get(f"{url}/v1/models/no-such-model").status_code == 404  # the route's lookup
        # A JSON-RPC error is answered on HTTP 200: not a refusal; an HTTP+JSON one is.
        assert httpx2.post(f"{url}/a2a/no-such-agent", json={}).status_code == 200
        assert httpx2.post(f"{url}/a2a/no-such-agent/message:send", json={}).status_code == 404
        assert httpx2.get(f"{url}/a2a/no-such-agent").status_code == 405
        assert httpx2.get(f"{url}/a2a/no-such-agent/.well-known/agent-card.json").status_code == 404
        # The MCP transport's own checks: a foreign Origin, then an unknown session (the SDK's).
        assert (
            httpx2.post(f"{url}/mcp", json={}, headers={"origin": "https://evil.example"}).status_code == 403
        )
        unknown_session = {"mcp-session-id": "nope", "accept": "application/json, text/event-stream"}
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        assert httpx2.post(f"{url}/mcp", json=ping, headers=unknown_session).status_code == 404
        # The 2024-11-05 HTTP+SSE transport's endpoints, each under its own route.
        assert httpx2.get(f"{url}/sse", headers={"origin": "https://evil.example"}).status_code == 403
        assert httpx2.post(f"{url}/messages/?session_id={'0' * 32}", json=ping).status_code == 404
        counts = _requests(url)
        lines = [json.loads(line) for line in traced.access.lines]

    assert counts == {
        ("/v1/models/{model}", "404", "not_found"): 1,
        ("/a2a/{agent}", "405", "method_not_allowed"): 1,
        ("/a2a/{agent}", "404", "not_found"): 2,
        ("/mcp", "403", "forbidden"): 1,
        ("/mcp", "404", "not_found"): 1,
        ("/sse", "403", "forbidden"): 1,
        ("/messages/", "404", "not_found"): 1,
    }
    assert len(lines) == 8 and all(line["trace_id"] is None for line in lines)
    assert {line["protocol"] for line in lines if line["route"] in ("/sse", "/messages/")} == {"mcp"}


def test_a_not_ready_answer_is_counted_under_its_own_route() -> None:
    with traced_gateway(f"http://127.0.0.1:{free_port()}") as traced:  # the backend is down
        assert httpx2.get(f"{traced.url}/readyz").status_code == 503
        assert httpx2.get(f"{traced.url}/healthz").status_code == 200  # not an error: not counted
        counts = _requests(traced.url)
        (line,) = [json.loads(line) for line in traced.access.lines]
    assert counts == {("/readyz", "503", "503"): 1}
    assert line["route"] == "/readyz" and line["status"] == 503


def test_a_bug_is_counted_once_whether_or_not_a_route_took_the_request(
    fake_openai_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(Collector):
        def collect(self) -> Iterable[Metric]:
            raise RuntimeError("a broken collector")

    def broken_parse(*args: object) -> None:
        raise RuntimeError("a bug in a route")

    with traced_gateway(fake_openai_url) as traced:
        registry = traced.telemetry.registry
        assert registry is not None
        broken = Broken()
        registry.register(broken)  # no route's exchange: the outermost error handler reports it
        assert httpx2.get(f"{traced.url}/metrics").status_code == 500
        registry.unregister(broken)
        monkeypatch.setattr("agentgw.llm.routes.parse_request", broken_parse)  # the route's exchange does
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx2.post(f"{traced.url}/v1/chat/completions", json=chat).status_code == 500
        counts = _requests(traced.url)
        lines = [json.loads(line) for line in traced.access.lines]

    assert counts == {
        ("/metrics", "500", "internal_error"): 1,
        ("/v1/chat/completions", "500", "RuntimeError"): 1,
    }
    assert sorted((line["route"], line["status"]) for line in lines) == [
        ("/metrics", 500),
        ("/v1/chat/completions", 500),
    ]
