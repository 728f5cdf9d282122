from __future__ import annotations

import httpx2

from agentgw import create_app
from agentgw.config import parse_config
from tests.fakes.openai_server import API_KEY
from tests.support.servers import free_port, serve_app


def config(upstream: str, with_dead: bool) -> str:
    dead = (
        f"    dead: {{provider: openai, base_url: 'http://127.0.0.1:{free_port()}/v1'}}\n"
        if with_dead
        else ""
    )
    return f"llm:\n  backends:\n    fake: {{provider: openai, base_url: '{upstream}/v1', api_key: {API_KEY}}}\n{dead}"


def test_ready_when_every_backend_answers(fake_openai_url: str) -> None:
    with serve_app(create_app(parse_config(config(fake_openai_url, with_dead=False)))) as url:
        assert httpx2.get(f"{url}/healthz").json() == {"status": "ok"}
        ready = httpx2.get(f"{url}/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "backends": {"fake": "ok"}}


def test_not_ready_names_the_unusable_backend(fake_openai_url: str) -> None:
    with serve_app(create_app(parse_config(config(fake_openai_url, with_dead=True)))) as url:
        ready = httpx2.get(f"{url}/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        assert body["backends"]["fake"] == "ok"
        assert body["backends"]["dead"].startswith("unreachable")
        assert httpx2.get(f"{url}/healthz").status_code == 200


def test_refused_credential_is_not_ready(fake_openai_url: str) -> None:
    text = f"llm:\n  backends:\n    fake: {{provider: openai, base_url: '{fake_openai_url}/v1', api_key: wrong}}\n"
    with serve_app(create_app(parse_config(text))) as url:
        assert httpx2.get(f"{url}/readyz").json()["backends"]["fake"] == "credential refused (HTTP 401)"
