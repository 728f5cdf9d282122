"""Limits on the LLM routes, through the official SDKs against the gateway and the fake OpenAI upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from agentgw.errors import ConfigError
from agentgw.limits.memory_store import MemoryStore
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.support.servers import free_port, serve_app, wait_for

pytestmark = pytest.mark.anyio


def config_yaml(upstream: str, limits: str) -> str:
    return f"""
server: {{reload: false}}
accounting: {{enabled: false}}
llm:
  backends:
    fake: {{provider: openai, base_url: "{upstream}/v1", api_key: {API_KEY}}}
  models:
    - {{name: gpt-4o-mini, targets: [{{backend: fake}}]}}
limits: {limits}
"""


@contextmanager
def gateway(upstream: str, limits: str) -> Iterator[tuple[str, Any]]:
    app = create_app(parse_config(config_yaml(upstream, limits)))
    with serve_app(app) as url:
        yield url, app


def client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-client", max_retries=0, timeout=10)


async def chat(api: openai.AsyncOpenAI, text: str = "hi", **extra: Any) -> Any:
    return await api.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **extra
    )


async def test_n_parallel_requests_against_a_limit_of_m_let_exactly_m_through(
    fake_openai: FakeOpenAI, fake_openai_url: str
) -> None:
    with gateway(fake_openai_url, "{rate_limits: [{scope: principal, requests_per_minute: 5}]}") as (url, _):
        async with client(url) as api:
            results = await asyncio.gather(*(chat(api) for _ in range(16)), return_exceptions=True)
        metrics = httpx2.get(f"{url}/metrics").text
    assert 'agentgw_limits_refused_total{reason="rate_limit_exceeded"} 11.0' in metrics
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(refused) == 11 and len(results) - len(refused) == 5
    assert len(fake_openai.requests) == 5  # the refused never reached the upstream
    error = refused[0]
    assert error.status_code == 429
    assert error.body == {
        "message": error.body["message"],  # type: ignore[index]
        "type": "rate_limit_exceeded",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert "principal 'anonymous'" in error.message
    headers = error.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert "x-should-retry" not in headers  # a minute is worth waiting for


async def test_a_token_budget_is_charged_the_reported_usage_not_the_estimate(
    fake_openai: FakeOpenAI, fake_openai_url: str
) -> None:
    # Each call is estimated at 2 prompt tokens + max_tokens 20 = 22; the upstream reports 9 (7 + 2).
    # Charged the estimate, a budget of 40 would let one call through; charged the usage, three.
    limits = "{budgets: [{scope: model, period: day, tokens: 40}]}"
    with gateway(fake_openai_url, limits) as (url, app):
        async with client(url) as api:
            answered = await chat(api, max_tokens=20)
            assert answered.usage is not None and answered.usage.total_tokens == 9
            stream = await chat(api, max_tokens=20, stream=True, stream_options={"include_usage": True})
            assert [c async for c in stream][-1].usage.total_tokens == 9  # type: ignore[union-attr]
            store = app.state.gateway.limits.store
            assert isinstance(store, MemoryStore)
            wait_for(lambda: _tokens(store, "tokens:model:day:gpt-4o-mini") == 18, timeout=5)  # settled
            await chat(api, max_tokens=20)
            with pytest.raises(openai.RateLimitError) as spent:
                await chat(api, max_tokens=20)
        assert _tokens(store, "tokens:model:day:gpt-4o-mini") == 27
    assert spent.value.body["type"] == "insufficient_quota"  # type: ignore[index]
    assert spent.value.body["code"] == "insufficient_quota"  # type: ignore[index]
    headers = spent.value.response.headers
    assert headers["x-should-retry"] == "false"
    assert headers["x-ratelimit-limit-tokens"] == "40"
    assert headers["x-ratelimit-remaining-tokens"] == "13"
    assert int(headers["retry-after"]) <= 86_400
    assert len(fake_openai.requests) == 3


async def test_with_accounting_on_a_stream_that_did_not_ask_for_usage_is_charged_its_usage(
    fake_openai_url: str, tmp_path: Path
) -> None:
    # Accounting asks the upstream for the stream's usage (and withholds it from this client).
    yaml = config_yaml(fake_openai_url, "{budgets: [{scope: principal, period: day, tokens: 1000}]}")
    yaml = yaml.replace(
        "accounting: {enabled: false}", f"accounting: {{ledger: {{url: 'sqlite:///{tmp_path}/u.db'}}}}"
    )
    app = create_app(parse_config(yaml))
    day = f"d{datetime.now(UTC):%Y%m%d}"
    with serve_app(app) as url:
        async with client(url) as api:
            stream = await chat(api, max_tokens=500, stream=True)
            assert all([chunk.usage is None async for chunk in stream])
        store = app.state.gateway.limits.store
        assert isinstance(store, MemoryStore)
        # Settled when the gateway finished the exchange, just after the client read the last byte.
        wait_for(lambda: store.value(f"tokens:principal:day:anonymous:{day}") == 9, timeout=5)


async def test_a_stream_is_ended_in_band_when_its_budget_runs_out(
    fake_openai: FakeOpenAI, fake_openai_url: str
) -> None:
    limits = "{end_streams: true, budgets: [{scope: principal, period: month, tokens: 120}]}"
    with gateway(fake_openai_url, limits) as (url, _):
        async with client(url) as api:
            stream = await chat(api, "many " * 60, stream=True)
            words = []
            with pytest.raises(openai.APIError, match="token budget ran out"):
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        words.append(chunk.choices[0].delta.content)
            assert 0 < len(words) < 55  # the upstream had 61 to send
            with pytest.raises(openai.RateLimitError, match="exhausted"):  # what was streamed was charged
                await chat(api)


def test_a_stream_cut_short_ends_with_an_error_event_then_done(fake_openai_url: str) -> None:
    limits = "{end_streams: true, budgets: [{scope: principal, period: day, tokens: 120}]}"
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "many " * 60}]}
    with gateway(fake_openai_url, limits) as (url, _):
        response = httpx2.post(f"{url}/v1/chat/completions", json=body, timeout=10)
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    error = orjson.loads(events[-2].removeprefix("data: "))["error"]
    assert error["type"] == "insufficient_quota" and "cut short" in error["message"]
    assert sum('"content"' in e for e in events) < 55


async def test_the_anthropic_route_refuses_in_anthropic_form(fake_openai_url: str) -> None:
    with gateway(fake_openai_url, "{rate_limits: [{scope: model, requests_per_minute: 1}]}") as (url, _):
        api = anthropic.AsyncAnthropic(base_url=url, api_key="sk-client", max_retries=0, timeout=10)
        message = {"model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
        await api.messages.create(**message)  # type: ignore[call-overload]
        with pytest.raises(anthropic.RateLimitError) as limited:
            await api.messages.create(**message)  # type: ignore[call-overload]
        await api.close()
    assert limited.value.body["type"] == "error"  # type: ignore[index]
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert limited.value.response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_an_unreachable_redis_lets_requests_through_or_refuses_them_as_configured(
    fake_openai_url: str,
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    limits = (
        f'{{store: "{dead}", timeout_s: 0.5, rate_limits: [{{scope: principal, requests_per_minute: 1}}]}}'
    )
    with gateway(fake_openai_url, limits) as (url, app):
        async with client(url) as api:
            for _ in range(3):
                await chat(api)  # open: let through uncounted
        assert app.state.gateway.limits.store_errors >= 1
        metrics = httpx2.get(f"{url}/metrics").text
        assert "agentgw_limits_uncounted_total 3.0" in metrics
    closed = limits.replace("timeout_s: 0.5", "timeout_s: 0.5, on_store_error: refuse")
    with gateway(fake_openai_url, closed) as (url, _):
        async with client(url) as api:
            with pytest.raises(openai.InternalServerError) as down:
                await chat(api)
    assert down.value.status_code == 503
    assert down.value.body["code"] == "limits_unavailable"  # type: ignore[index]


async def test_two_gateways_share_one_redis_counter(
    fake_openai: FakeOpenAI, fake_openai_url: str, redis_url: str, key_prefix: str
) -> None:
    limits = (
        f'{{store: "{redis_url}", key_prefix: "{key_prefix}", '
        "rate_limits: [{scope: principal, requests_per_minute: 6}]}"
    )
    with gateway(fake_openai_url, limits) as (first, _), gateway(fake_openai_url, limits) as (second, _):
        async with client(first) as one, client(second) as two:
            results = await asyncio.gather(
                *(chat(one if i % 2 else two) for i in range(20)), return_exceptions=True
            )
    assert sum(not isinstance(r, BaseException) for r in results) == 6
    assert all(isinstance(r, openai.RateLimitError) for r in results if isinstance(r, BaseException))
    assert len(fake_openai.requests) == 6


def test_limits_config_errors_name_their_key_paths() -> None:
    with pytest.raises(ConfigError) as invalid:
        parse_config("""
limits:
  store: "memcached://x"
  budgets:
    - {scope: team, period: week, tokens: 10}
    - {scope: principal}
    - {scope: principal, cost_usd: 5, roles: [nobody]}
  rate_limits:
    - {scope: user, requests_per_minute: 1}
    - {scope: key}
""")
    paths = {issue.path for issue in invalid.value.issues}
    assert {
        "limits.store",
        "limits.budgets[0].period",
        "limits.budgets[1].tokens",
        "limits.budgets[2].cost_usd",
        "limits.budgets[2].roles[0]",
        "limits.rate_limits[0].scope",
        "limits.rate_limits[1].requests_per_minute",
    } <= paths, paths


def _tokens(store: MemoryStore, prefix: str) -> int:
    return sum(v for k, v in store._values.items() if k.startswith(prefix))
