"""Streams pass through as they are produced, and a client that leaves stops the upstream."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.llm.conftest import Gateway, gateway_yaml
from tests.fakes.openai_server import FakeOpenAI
from tests.support.servers import serve_app, wait_for

BODY = {"model": "slow-stream", "stream": True, "messages": [{"role": "user", "content": "go"}]}


def test_chunks_arrive_before_the_stream_ends(gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    with httpx2.stream("POST", f"{gateway.url}/v1/chat/completions", json=BODY, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        assert '"chat.completion.chunk"' in first
        # The upstream sends 400 chunks 50 ms apart (20 s): we got one long before it finished.
        assert fake_openai.slow_stream_chunks_sent < 100


def test_client_disconnect_cancels_the_upstream_stream(gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    with httpx2.stream("POST", f"{gateway.url}/v1/chat/completions", json=BODY, timeout=10) as response:
        lines = response.iter_lines()
        for _ in range(3):
            next(line for line in lines if line.startswith("data: "))
    started = time.monotonic()
    wait_for(fake_openai.stream_disconnected.is_set, timeout=5)
    sent_at_cancel = fake_openai.slow_stream_chunks_sent
    assert time.monotonic() - started < 5
    time.sleep(0.3)
    assert fake_openai.slow_stream_chunks_sent == sent_at_cancel  # the upstream stopped generating


def test_total_timeout_ends_a_stream_with_an_in_band_error(fake_openai_url: str) -> None:
    text = gateway_yaml(fake_openai_url).replace("total: 30", "total: 0.5")
    with serve_app(create_app(parse_config(text))) as url:
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
        stream = sdk.chat.completions.create(
            model="slow-stream", messages=[{"role": "user", "content": "go"}], stream=True
        )
        started = time.monotonic()
        with pytest.raises(openai.APIError) as info:
            for _ in stream:
                pass
        assert time.monotonic() - started < 3
        assert "exceeded its total timeout" in info.value.message


def test_total_timeout_applies_before_headers_too(fake_openai_url: str) -> None:
    text = gateway_yaml(fake_openai_url, read_timeout=10).replace("total: 30", "total: 0.5")
    with serve_app(create_app(parse_config(text))) as url:
        response = httpx2.post(
            f"{url}/v1/chat/completions",
            json={"model": "slow", "messages": [{"role": "user", "content": "x"}]},
        )
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "upstream_timeout"
