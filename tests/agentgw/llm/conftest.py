from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from agentgw import create_app
from agentgw.config import parse_config
from tests.fakes.openai_server import API_KEY
from tests.support.servers import free_port, serve_app


def gateway_yaml(upstream: str, *, read_timeout: float = 5.0, extra_models: str = "") -> str:
    return f"""
server: {{max_request_bytes: 4096, max_response_bytes: 2048, reload: false}}
llm:
  backends:
    fake:
      provider: openai
      base_url: {upstream}/v1
      api_key: {API_KEY}
      timeouts: {{connect: 2, read: {read_timeout}, total: 30}}
    dead:
      provider: openai
      base_url: http://127.0.0.1:{free_port()}/v1
  models:
    - {{name: gpt-4o-mini, owned_by: openai, targets: [{{backend: fake}}]}}
    - {{name: text-embedding-3-small, targets: [{{backend: fake}}]}}
    - {{name: alias, targets: [{{backend: fake, model: gpt-4o-mini}}]}}
    - {{name: rate-limited, targets: [{{backend: fake, model: status-429}}]}}
    - {{name: broken, targets: [{{backend: fake, model: status-500}}]}}
    - {{name: overloaded, targets: [{{backend: fake, model: status-503}}]}}
    - {{name: html, targets: [{{backend: fake, model: html-502}}]}}
    - {{name: slow, targets: [{{backend: fake, model: slow}}]}}
    - {{name: slow-stream, targets: [{{backend: fake, model: slow-stream}}]}}
    - {{name: broken-stream, targets: [{{backend: fake, model: broken-stream}}]}}
    - {{name: unreachable, targets: [{{backend: dead}}]}}
{extra_models}
"""


@dataclass
class Gateway:
    url: str
    upstream: str


@pytest.fixture
def gateway(fake_openai_url: str) -> Iterator[Gateway]:
    config = parse_config(gateway_yaml(fake_openai_url, read_timeout=1.0))
    with serve_app(create_app(config)) as url:
        yield Gateway(url, fake_openai_url)
