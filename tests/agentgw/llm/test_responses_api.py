"""``/v1/responses`` passed through to an OpenAI backend, with the official SDK, streamed and not."""

from __future__ import annotations

import openai
import pytest

from tests.agentgw.llm.conftest import Gateway
from tests.agentgw.llm.test_chat_completions import client
from tests.fakes.openai_server import API_KEY, FakeOpenAI


def test_response_is_passed_through(gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    response = client(gateway).responses.create(model="alias", input="hello responses")
    assert response.output_text == "echo: hello responses"
    assert response.usage is not None and response.usage.output_tokens == 3
    sent = fake_openai.requests[-1]
    assert (sent.path, sent.body["model"]) == ("/v1/responses", "gpt-4o-mini")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"


def test_streamed_response_events_pass_through_in_order(gateway: Gateway) -> None:
    direct = openai.OpenAI(base_url=f"{gateway.upstream}/v1", api_key=API_KEY, max_retries=0)
    through = list(client(gateway).responses.create(model="gpt-4o-mini", input="one two three", stream=True))
    expected = list(direct.responses.create(model="gpt-4o-mini", input="one two three", stream=True))
    assert [e.type for e in through] == [e.type for e in expected]
    assert [e.type for e in through][:3] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    text = "".join(e.delta for e in through if e.type == "response.output_text.delta")
    assert text == "echo: one two three"
    completed = through[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None and completed.response.usage.total_tokens > 0


def test_unknown_model_on_responses_is_404(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client(gateway).responses.create(model="nope", input="x")
    assert info.value.code == "model_not_found"
