"""The ``anthropic`` provider: the Anthropic Messages API (``POST /v1/messages``).

Two operations: ``messages`` is passed through as it is (the inbound ``/v1/messages`` route), and
``chat/completions`` is translated: the OpenAI request to a Messages request, the answer (whole, or
stream event by stream event) back to OpenAI's form, errors included. The credential is the
backend's ``x-api-key``; ``anthropic-version`` is set by the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from agentgw.config.providers import AnthropicBackend
from agentgw.errors import InvalidRequest, UpstreamUnreachable
from agentgw.llm.providers._response import PooledResponse, post, probe
from agentgw.llm.providers.base import UpstreamResponse
from agentgw.llm.translate.chat_to_messages import (
    MessagesStreamToChat,
    chat_request_to_messages,
    messages_error_to_chat,
    messages_response_to_chat,
)
from agentgw.upstream import HTTPPool, PoolTimeouts

__all__ = ["AnthropicProvider", "TranslatedChat"]


class AnthropicProvider:
    operations = frozenset({"chat/completions", "messages"})

    def __init__(self, name: str, config: AnthropicBackend) -> None:
        self.name = name
        self.config = config
        self._total = config.timeouts.total
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        headers["anthropic-version"] = config.anthropic_version
        if config.api_key is not None:
            headers["x-api-key"] = config.api_key.get_secret_value()
        self._pool = HTTPPool(
            f"{config.base_url}/v1",
            headers=headers,
            timeouts=PoolTimeouts(connect=config.timeouts.connect, read=config.timeouts.read),
            max_connections=config.max_connections,
        )

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        sent = {"content-type": "application/json", **(headers or {})}
        if operation == "messages":
            return await post(self._pool, self.name, self._total, "messages", body, sent)
        chat = _object(body)
        request = chat_request_to_messages(chat, self.config.default_max_tokens)
        include_usage = bool((chat.get("stream_options") or {}).get("include_usage"))
        upstream = await post(self._pool, self.name, self._total, "messages", orjson.dumps(request), sent)
        return TranslatedChat(upstream, self.name, stream=stream, include_usage=include_usage)

    async def probe(self) -> str | None:
        return await probe(self._pool, "models")

    async def aclose(self) -> None:
        await self._pool.aclose()


def _object(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    return data


class TranslatedChat:
    """An Anthropic Messages response seen as an OpenAI chat completion (or its stream)."""

    def __init__(self, upstream: PooledResponse, backend: str, *, stream: bool, include_usage: bool) -> None:
        self._upstream = upstream
        self._backend = backend
        self._include_usage = include_usage
        self.status = upstream.status
        self.deadline = upstream.deadline
        self.content_type = "text/event-stream" if stream and upstream.status < 400 else "application/json"
        self.translator: MessagesStreamToChat | None = None

    @property
    def relay_headers(self) -> dict[str, str]:
        return self._upstream.relay_headers

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        self.translator = MessagesStreamToChat(include_usage=self._include_usage)
        return self._upstream.aiter_bytes(self.translator.feed, self._finish)

    def _finish(self) -> bytes:
        if self.translator is None or not self.translator.done:
            raise UpstreamUnreachable(
                f"backend '{self._backend}' ended its stream before message_stop", backend=self._backend
            )
        return b""

    async def read(self, limit: int) -> bytes:
        body = await self._upstream.read(limit)
        if self.status >= 400:
            return messages_error_to_chat(body, self.status)
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnreachable(
                f"backend '{self._backend}' sent a response that is not JSON", backend=self._backend
            ) from exc
        return orjson.dumps(messages_response_to_chat(message))

    async def aclose(self) -> None:
        await self._upstream.aclose()
