"""examples/providers.yaml: both SDKs, both wire formats, launched echo backends, as a real process."""

from __future__ import annotations

import anthropic
import httpx2
import openai

from tests.support.servers import REPO, GatewayProcess, free_port


def test_providers_example_serves_both_sdks_for_both_backends() -> None:
    env = {"ECHO_LLM_PORT": str(free_port()), "ECHO_ANTHROPIC_PORT": str(free_port())}
    with GatewayProcess(REPO / "examples" / "providers.yaml", env=env) as gateway:
        chat = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="x", max_retries=0)
        messages = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
        for model in ("echo", "claude"):
            reply = chat.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "echo: hi"
            stream = chat.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "a b"}], stream=True
            )
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "echo: a b"
            message = messages.messages.create(
                model=model, max_tokens=16, messages=[{"role": "user", "content": "yo"}]
            )
            assert message.content[0].type == "text" and message.content[0].text == "echo: yo"
            with messages.messages.stream(
                model=model, max_tokens=16, messages=[{"role": "user", "content": "c d"}]
            ) as s:
                assert "".join(s.text_stream) == "echo: c d"
        assert httpx2.get(f"{gateway.url}/readyz").status_code == 200
