"""Routing: weights, priority groups, fallback, retries with Retry-After, passive health, overrides."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import openai
import pytest

from agentgw import create_app
from agentgw.config import load_config, parse_config
from agentgw.llm.router import ModelRouter
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.support.servers import free_port, serve_app, wait_for

MESSAGES: Any = [{"role": "user", "content": "hi"}]


class Upstreams:
    def __init__(self) -> None:
        self.a, self.b = FakeOpenAI(), FakeOpenAI()
        self.url_a = self.url_b = ""

    def count(self, fake: FakeOpenAI, model: str | None = None) -> int:
        return sum(1 for r in fake.requests if model is None or r.body["model"] == model)


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    with serve_app(ups.a.app()) as a, serve_app(ups.b.app()) as b:
        ups.url_a, ups.url_b = a, b
        yield ups


def gateway(ups: Upstreams, models: str) -> Any:
    text = f"""
server: {{reload: false}}
llm:
  backends:
    a: {{provider: openai, base_url: "{ups.url_a}/v1", api_key: {API_KEY}, timeouts: {{read: 0.5}}}}
    b: {{provider: openai, base_url: "{ups.url_b}/v1", api_key: {API_KEY}}}
    dead: {{provider: openai, base_url: "http://127.0.0.1:{free_port()}/v1"}}
  models:
{models}
"""
    return serve_app(create_app(parse_config(text)))


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=10)


def test_weighted_split_within_five_percent(upstreams: Upstreams) -> None:
    models = "    - {name: m, targets: [{backend: a, weight: 8}, {backend: b, weight: 2}]}"
    with gateway(upstreams, models) as url:

        async def main() -> None:
            async with httpx2.AsyncClient(timeout=10) as client:
                limiter = anyio.Semaphore(16)

                async def one() -> None:
                    async with limiter:
                        body = {"model": "m", "messages": MESSAGES}
                        response = await client.post(f"{url}/v1/chat/completions", json=body)
                        assert response.status_code == 200

                async with anyio.create_task_group() as group:
                    for _ in range(2000):
                        group.start_soon(one)

        anyio.run(main)
    share = upstreams.count(upstreams.a) / 2000
    assert abs(share - 0.8) <= 0.05, share
    assert upstreams.count(upstreams.a) + upstreams.count(upstreams.b) == 2000


@pytest.mark.parametrize(
    ("primary", "reason"),
    [
        ("{backend: a, model: status-429}", "429"),
        ("{backend: a, model: status-500}", "5xx"),
        ("{backend: dead}", "connect"),
        ("{backend: a, model: slow}", "timeout"),
    ],
)
def test_fallback_to_the_next_priority_group(upstreams: Upstreams, primary: str, reason: str) -> None:
    models = f"    - {{name: m, targets: [{primary}, {{backend: b, model: gpt-4o-mini, priority: 1}}]}}"
    upstreams.a.slow_s = 2.0
    with gateway(upstreams, models) as url:
        completion = sdk(url).chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: hi"
    assert upstreams.count(upstreams.b) == 1


def test_no_fallback_when_the_condition_is_not_configured(upstreams: Upstreams) -> None:
    models = (
        "    - {name: m, fallback_on: [5xx], targets:"
        " [{backend: a, model: status-429}, {backend: b, priority: 1}]}"
    )
    with gateway(upstreams, models) as url, pytest.raises(openai.RateLimitError):
        sdk(url).chat.completions.create(model="m", messages=MESSAGES)
    assert upstreams.count(upstreams.b) == 0


def test_the_last_error_is_relayed_when_every_target_fails(upstreams: Upstreams) -> None:
    models = "    - {name: m, targets: [{backend: dead}, {backend: a, model: status-503, priority: 1}]}"
    with gateway(upstreams, models) as url, pytest.raises(openai.InternalServerError) as info:
        sdk(url).chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 503


def test_retry_after_takes_a_target_out_for_that_long(upstreams: Upstreams) -> None:
    models = "    - {name: m, targets: [{backend: a, model: status-429}, {backend: b, priority: 1}]}"
    with gateway(upstreams, models) as url:
        client = sdk(url)
        for _ in range(3):
            client.chat.completions.create(model="m", messages=MESSAGES)
    # The first 429 said "retry after 20 s": the next requests went straight to b.
    assert upstreams.count(upstreams.a) == 1
    assert upstreams.count(upstreams.b) == 3


def test_same_target_retry_waits_out_a_short_retry_after(upstreams: Upstreams) -> None:
    upstreams.a.fail_next, upstreams.a.fail_status, upstreams.a.retry_after = 1, 429, "0.3"
    models = "    - {name: gpt-4o-mini, retry: {attempts: 2}, targets: [{backend: a}]}"
    with gateway(upstreams, models) as url:
        started = time.monotonic()
        completion = sdk(url).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == "echo: hi"
    assert upstreams.count(upstreams.a) == 2
    assert elapsed >= 0.3


def test_same_target_retry_with_backoff_on_5xx(upstreams: Upstreams) -> None:
    upstreams.a.fail_next = 2
    models = "    - {name: gpt-4o-mini, retry: {attempts: 3, backoff_s: 0.01}, targets: [{backend: a}]}"
    with gateway(upstreams, models) as url:
        completion = sdk(url).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: hi"
    assert upstreams.count(upstreams.a) == 3


def test_a_failing_target_is_taken_out_and_brought_back(upstreams: Upstreams) -> None:
    models = (
        "    - {name: gpt-4o-mini, health: {failures: 2, cooldown_s: 0.4},"
        " targets: [{backend: a}, {backend: b, priority: 1}]}"
    )
    with gateway(upstreams, models) as url:
        client = sdk(url)

        def ask() -> None:
            assert client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices

        upstreams.a.fail_next = 100
        ask()
        ask()
        assert (upstreams.count(upstreams.a), upstreams.count(upstreams.b)) == (2, 2)
        ask()  # a is out: straight to b
        assert (upstreams.count(upstreams.a), upstreams.count(upstreams.b)) == (2, 3)
        time.sleep(0.45)  # the cool-down is a duration, not a readiness wait
        upstreams.a.fail_next = 0
        ask()  # a is tried again, answers, and is back in rotation
        ask()
        assert (upstreams.count(upstreams.a), upstreams.count(upstreams.b)) == (4, 3)


def test_stream_falls_back_before_its_first_byte(upstreams: Upstreams) -> None:
    models = "    - {name: m, targets: [{backend: a, model: status-500}, {backend: b, priority: 1}]}"
    with gateway(upstreams, models) as url:
        chunks = list(sdk(url).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi"


def test_stream_that_breaks_mid_way_does_not_fall_back(upstreams: Upstreams) -> None:
    models = "    - {name: m, targets: [{backend: a, model: broken-stream}, {backend: b, priority: 1}]}"
    with gateway(upstreams, models) as url:
        stream = sdk(url).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "one two three"}], stream=True
        )
        received = []
        with pytest.raises(openai.APIError):
            for chunk in stream:
                received.append(chunk)
    assert len(received) == 3
    assert upstreams.count(upstreams.b) == 0


def test_header_overrides_the_body_model_and_aliases_resolve(upstreams: Upstreams) -> None:
    models = (
        "    - {name: big, aliases: [large], targets: [{backend: a, model: gpt-4o}]}\n"
        "    - {name: small, targets: [{backend: b, model: gpt-4o-mini}]}"
    )
    with gateway(upstreams, models) as url:
        client = sdk(url)
        client.chat.completions.create(
            model="small", messages=MESSAGES, extra_headers={"x-ai-eg-model": "large"}
        )
        assert upstreams.a.requests[-1].body["model"] == "gpt-4o"
        client.chat.completions.create(model="small", messages=MESSAGES)
        assert upstreams.b.requests[-1].body["model"] == "gpt-4o-mini"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(
                model="small", messages=MESSAGES, extra_headers={"x-ai-eg-model": "nope"}
            )
        assert [m.id for m in client.models.list()] == ["big", "large", "small"]
        assert client.models.retrieve("large").id == "large"


def test_passive_health_survives_a_reload(upstreams: Upstreams, tmp_path: Path) -> None:
    def text(owner: str) -> str:
        return f"""
server: {{reload: true}}
llm:
  backends:
    a: {{provider: openai, base_url: "{upstreams.url_a}/v1", api_key: {API_KEY}}}
    b: {{provider: openai, base_url: "{upstreams.url_b}/v1", api_key: {API_KEY}}}
  models:
    - {{name: gpt-4o-mini, owned_by: {owner}, health: {{failures: 1, cooldown_s: 60}},
       targets: [{{backend: a}}, {{backend: b, priority: 1}}]}}
"""

    path = tmp_path / "gateway.yaml"
    path.write_text(text("first"))
    app = create_app(load_config(path), config_path=str(path))
    with serve_app(app) as url:
        client = sdk(url)
        upstreams.a.fail_next = 1
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # a fails: out for 60 s
        path.write_text(text("second"))
        wait_for(lambda: app.state.gateway.runtime.config.llm.models[0].owned_by == "second")
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert (upstreams.count(upstreams.a), upstreams.count(upstreams.b)) == (1, 2)


def test_router_names_patterns_and_aliases() -> None:
    config = parse_config(
        """
llm:
  backends: {a: {provider: vllm}}
  models:
    - {name: "claude-*", aliases: [claude], targets: [{backend: a}]}
    - {name: "*", targets: [{backend: a, model: catch-all}]}
    - {name: gpt, aliases: [default], targets: [{backend: a, model: gpt-4o}]}
""",
        env={},
    )
    router = ModelRouter(config.llm, {"a": _Named("a")})  # type: ignore[dict-item]
    assert [m.name for m in router.models] == ["gpt"]
    assert [name for name, _ in router.names()] == ["claude", "gpt", "default"]
    assert router.resolve("claude-opus").upstream_model == "claude-opus"
    assert router.resolve("claude").upstream_model == "claude"
    assert router.resolve("default").upstream_model == "gpt-4o"
    assert router.resolve("anything").upstream_model == "catch-all"


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name
