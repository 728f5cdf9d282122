"""``/metrics`` in the Prometheus text format, parsed with prometheus_client's own parser."""

from __future__ import annotations

import httpx2
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from agentgw import create_app
from agentgw.config import parse_config
from tests.agentgw.telemetry.conftest import Traced, telemetry_yaml
from tests.support.servers import serve_app

MESSAGES = [{"role": "user", "content": "count my tokens"}]


def _scrape(url: str) -> dict[str, list[Sample]]:
    response = httpx2.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def _one(samples: list[Sample], name: str, **labels: str) -> float:
    found = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


def test_metrics_after_a_chat_call_and_a_stream(traced: Traced) -> None:
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key="k", max_retries=0)
    completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    traced.finished(4)  # both requests ended (the stream's record completes after its last byte)
    assert completion.usage is not None and chunks[-1].usage is not None
    families = _scrape(traced.url)

    tokens = families["gen_ai_client_token_usage"]
    model = {"gen_ai_request_model": "gpt-4o-mini", "gen_ai_provider_name": "openai"}
    input_sum = _one(tokens, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **model)
    assert input_sum == completion.usage.prompt_tokens + chunks[-1].usage.prompt_tokens
    assert _one(tokens, "gen_ai_client_token_usage_count", gen_ai_token_type="output", **model) == 2
    duration = families["gen_ai_client_operation_duration_seconds"]
    assert _one(duration, "gen_ai_client_operation_duration_seconds_count", gen_ai_operation_name="chat") == 2
    assert _one(duration, "gen_ai_client_operation_duration_seconds_bucket", le="+Inf") == 2
    ttfc = families["gen_ai_client_operation_time_to_first_chunk_seconds"]
    assert _one(ttfc, "gen_ai_client_operation_time_to_first_chunk_seconds_count") == 1
    requests = families["agentgw_requests"]
    assert (
        _one(
            requests,
            "agentgw_requests_total",
            http_route="/v1/chat/completions",
            http_response_status_code="200",
        )
        == 2
    )
    upstream = families["agentgw_upstream_requests"]
    assert _one(upstream, "agentgw_upstream_requests_total", agentgw_backend="fake") == 2


def test_errors_are_counted_by_status_and_type(traced: Traced) -> None:
    sdk = openai.OpenAI(base_url=f"{traced.url}/v1", api_key="k", max_retries=0)
    for model in ("rate-limited", "no-such-model"):
        with pytest.raises(openai.APIStatusError):
            sdk.chat.completions.create(model=model, messages=MESSAGES)
    traced.finished(3)
    families = _scrape(traced.url)
    requests = families["agentgw_requests"]
    assert _one(requests, "agentgw_requests_total", http_response_status_code="429", error_type="429") == 1
    assert (
        _one(
            requests,
            "agentgw_requests_total",
            http_response_status_code="404",
            error_type="model_not_found",
        )
        == 1
    )
    duration = families["gen_ai_client_operation_duration_seconds"]
    assert _one(duration, "gen_ai_client_operation_duration_seconds_count", error_type="429") == 1


def test_prometheus_can_be_turned_off(fake_openai_url: str) -> None:
    with serve_app(create_app(parse_config(telemetry_yaml(fake_openai_url, "{prometheus: false}")))) as url:
        assert httpx2.get(f"{url}/metrics").status_code == 404
