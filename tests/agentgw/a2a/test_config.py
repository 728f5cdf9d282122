"""The ``a2a:`` section: validation, the gateway's credential for an agent, clients across reloads."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.config.loader import summarize
from agentgw.errors import ConfigError
from agentgw.gateway import Gateway
from tests.agentgw.a2a.agents import UPSTREAM_KEY
from tests.agentgw.a2a.conftest import Agents
from tests.support.servers import serve_app


def issues_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env={})
    return [str(issue) for issue in info.value.issues]


def test_defaults_and_secrets() -> None:
    config = parse_config(
        """
a2a:
  agents:
    planner: {url: "http://127.0.0.1:9999/", auth: {type: bearer, token: "${TOKEN}"}, headers: {X-Org: "${ORG}"}}
""",
        env={"TOKEN": "tok-123", "ORG": "org-456"},
    )
    planner = config.a2a.agents["planner"]
    assert planner.url == "http://127.0.0.1:9999"
    assert (planner.rest_url, planner.card_url, config.a2a.public_url) == (None, None, None)
    assert (planner.timeouts.connect, planner.timeouts.read, planner.timeouts.total) == (5, 300, 3600)
    assert (planner.max_connections, planner.card_ttl_s) == (100, 300)
    assert "tok-123" not in repr(config) and "org-456" not in repr(config)
    assert "a2a agents: 1 (planner)" in summarize(config)


def test_every_problem_with_its_path() -> None:
    found = issues_of(
        """
a2a:
  public_url: "gateway.example.com"
  agents:
    ok:
      url: "ftp://x"
      rest_url: "nope"
      auth: {type: oauth}
      timeouts: {read: 0}
      surprise: 1
    both: {url: "http://x", auth: {type: basic, username: u, password: p}, headers: {Authorization: "x"}}
"""
    )
    assert found == [
        "a2a.public_url: must be an http:// or https:// URL, got 'gateway.example.com'",
        "a2a.agents.ok.url: must be an http:// or https:// URL, got 'ftp://x'",
        "a2a.agents.ok.rest_url: must be an http:// or https:// URL, got 'nope'",
        "a2a.agents.ok.auth.type: unknown type 'oauth' (known: 'bearer', 'basic')",
        "a2a.agents.ok.timeouts.read: Input should be greater than 0 (got 0)",
        "a2a.agents.ok.surprise: unknown key",
        "a2a.agents.both: set either auth or an Authorization header, not both",
    ]


def test_agent_names_are_path_segments() -> None:
    [issue] = issues_of('a2a: {agents: {"bad/name": {url: "http://x"}}}')
    assert issue.startswith("a2a.agents: agent name 'bad/name' must be")


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ("{type: bearer, token: upstream-token}", "Bearer upstream-token"),
        ("{type: basic, username: gw, password: pw}", "Basic Z3c6cHc="),
    ],
)
def test_the_agent_gets_the_gateways_credential_never_the_clients(
    agents: Agents, auth: str, expected: str
) -> None:
    text = f"""
server: {{reload: false}}
a2a:
  agents:
    echo: {{url: "{agents.echo.url}", auth: {auth}, headers: {{X-API-Key: {UPSTREAM_KEY}}}}}
"""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}},
    }
    client_headers = {"A2A-Version": "1.0", "Authorization": "Bearer client-token", "Cookie": "s=1"}
    with serve_app(create_app(parse_config(text))) as url:
        assert httpx2.post(f"{url}/a2a/echo", json=body, headers=client_headers).status_code == 200
    seen = agents.echo.seen[-1]
    assert seen["authorization"] == expected
    assert "cookie" not in seen


@pytest.mark.anyio
async def test_reload_keeps_unchanged_agents_and_closes_replaced_ones_after_their_requests() -> None:
    before = 'a2a: {agents: {a: {url: "http://127.0.0.1:1"}, b: {url: "http://127.0.0.1:2"}}}'
    after = 'a2a: {agents: {a: {url: "http://127.0.0.1:1"}, b: {url: "http://127.0.0.1:3"}}}'
    gateway = Gateway(parse_config(before))
    await gateway.start()
    try:
        old = gateway.runtime
        a, b = old.agents["a"], old.agents["b"]
        lease = old.acquire()  # a request still in flight on the old config
        await gateway.apply(parse_config(after))
        assert gateway.runtime.agents["a"] is a
        assert gateway.runtime.agents["b"] is not b
        await asyncio.sleep(0)
        assert not b._client.is_closed
        lease.release()
        for _ in range(200):  # poll: closing happens on a background task
            if b._client.is_closed:
                break
            await asyncio.sleep(0.01)
        assert b._client.is_closed and not a._client.is_closed
    finally:
        await gateway.stop()
    assert a._client.is_closed
