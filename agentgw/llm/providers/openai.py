"""The ``openai`` provider: any OpenAI-compatible base URL (OpenAI, vLLM, Ollama, ...).

The request body is forwarded as bytes; only the credential is the gateway's own: the backend's
``api_key`` replaces whatever the client sent, and no client header is forwarded.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentgw.config.providers import OpenAIBackend
from agentgw.llm.providers._response import PooledResponse, post, probe
from agentgw.upstream import HTTPPool, PoolTimeouts

__all__ = ["OpenAIProvider"]

_JSON = {"content-type": "application/json"}


class OpenAIProvider:
    """Forwards OpenAI-wire requests to ``base_url`` over one pooled keep-alive client."""

    operations = frozenset({"chat/completions", "embeddings", "responses"})

    def __init__(self, name: str, config: OpenAIBackend) -> None:
        self.name = name
        self.config = config
        self._total = config.timeouts.total
        headers = {name: value.get_secret_value() for name, value in config.headers.items()}
        if config.api_key is not None:
            headers["authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self._pool = HTTPPool(
            config.base_url,
            headers=headers,
            timeouts=PoolTimeouts(connect=config.timeouts.connect, read=config.timeouts.read),
            max_connections=config.max_connections,
        )

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> PooledResponse:
        sent = {**_JSON, **headers} if headers else _JSON
        return await post(self._pool, self.name, self._total, operation, body, sent)

    async def probe(self) -> str | None:
        return await probe(self._pool, "models")

    async def aclose(self) -> None:
        await self._pool.aclose()
