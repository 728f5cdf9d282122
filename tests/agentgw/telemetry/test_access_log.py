"""One JSON access-log line per request: the fields, and nothing secret."""

from __future__ import annotations

import openai
import orjson
import pytest

from tests.agentgw.telemetry.conftest import Traced
from tests.fakes.openai_server import API_KEY
from tests.support.servers import wait_for


def test_one_line_per_request_with_its_fields(traced: Traced) -> None:
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key="client-key-123", max_retries=0)
    completion = sdk.chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "a secret prompt"}]
    )
    list(
        sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    wait_for(lambda: len(traced.access.lines) == 2, timeout=5)
    spans = traced.finished(4)
    first, second = (orjson.loads(line) for line in traced.access.lines)

    assert completion.usage is not None
    assert set(first) == {
        "time", "principal", "team", "protocol", "route", "operation", "target", "backend", "status",
        "error_type", "stream", "tokens", "latency_ms", "ttfc_ms", "trace_id",
    }  # fmt: skip
    assert first["principal"] is None
    assert first["protocol"] == "llm"
    assert first["route"] == "/v1/chat/completions"
    assert first["operation"] == "chat"
    assert first["target"] == "alias"
    assert first["backend"] == "fake"
    assert first["status"] == 200
    assert first["error_type"] is None
    assert first["tokens"] == {
        "input": completion.usage.prompt_tokens,
        "output": completion.usage.completion_tokens,
        "total": completion.usage.total_tokens,
    }
    assert first["latency_ms"] > 0 and first["ttfc_ms"] is None
    assert first["time"].endswith("+00:00")
    assert first["trace_id"] in {f"{s.context.trace_id:032x}" for s in spans}
    assert second["stream"] is True and second["ttfc_ms"] > 0 and second["tokens"]["output"] > 0

    text = "\n".join(traced.access.lines)
    for secret in ("a secret prompt", "client-key-123", API_KEY, "echo:"):
        assert secret not in text


def test_failed_requests_are_logged_too(traced: Traced) -> None:
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model="broken", messages=[{"role": "user", "content": "x"}])
    wait_for(lambda: len(traced.access.lines) == 1, timeout=5)
    line = orjson.loads(traced.access.lines[0])
    assert line["status"] == 500
    assert line["error_type"] == "500"
    assert line["tokens"] is None
