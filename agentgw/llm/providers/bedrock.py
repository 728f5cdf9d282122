"""The ``bedrock`` provider: Amazon Bedrock's Converse and ConverseStream APIs.

OpenAI chat requests are translated to Converse (``POST /model/{modelId}/converse``, or
``/converse-stream`` when streaming), signed with AWS SigV4 (service ``bedrock``), and the answers
translated back: whole responses as JSON, streams by decoding the AWS event-stream framing and
turning each event into OpenAI chunks as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote, urlsplit

import orjson

from agentgw.config.providers import BedrockBackend
from agentgw.errors import InvalidRequest, UpstreamUnreachable
from agentgw.llm.providers._eventstream import EventStreamDecoder, EventStreamError
from agentgw.llm.providers._response import PooledResponse, post, probe
from agentgw.llm.providers._sigv4 import AWSCredentials, sign
from agentgw.llm.translate.chat_to_converse import (
    ConverseStreamToChat,
    chat_request_to_converse,
    converse_error_to_chat,
    converse_response_to_chat,
)
from agentgw.upstream import HTTPPool, PoolTimeouts

__all__ = ["BedrockProvider", "TranslatedConverse"]

_SERVICE = "bedrock"


class BedrockProvider:
    operations = frozenset({"chat/completions"})

    def __init__(self, name: str, config: BedrockBackend) -> None:
        self.name = name
        self.config = config
        self._total = config.timeouts.total
        assert config.access_key_id is not None and config.secret_access_key is not None
        self._credentials = AWSCredentials(
            config.access_key_id.get_secret_value(),
            config.secret_access_key.get_secret_value(),
            config.session_token.get_secret_value() if config.session_token else None,
        )
        self._host = urlsplit(config.base_url).netloc.rsplit("@", 1)[-1]
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        self._pool = HTTPPool(
            config.base_url,
            headers=headers,
            timeouts=PoolTimeouts(connect=config.timeouts.connect, read=config.timeouts.read),
            max_connections=config.max_connections,
        )

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> TranslatedConverse:
        chat = orjson.loads(body)
        if not isinstance(chat, dict) or not isinstance(chat.get("model"), str):
            raise InvalidRequest("request body must be a JSON object with a 'model'", param="model")
        model = chat["model"]
        request = orjson.dumps(chat_request_to_converse(chat))
        # The model id is one path segment: "anthropic.claude-3-5-sonnet-20240620-v1:0" -> "...v1%3A0".
        operation_path = f"model/{quote(model, safe='')}/{'converse-stream' if stream else 'converse'}"
        signed = {"host": self._host, "content-type": "application/json"}
        auth = sign(
            "POST",
            self._pool.path(operation_path),
            "",
            signed,
            request,
            credentials=self._credentials,
            region=self.config.region,
            service=_SERVICE,
        )
        sent = {"content-type": "application/json", **(headers or {}), **auth}
        if stream:
            sent["accept"] = "application/vnd.amazon.eventstream"
        upstream = await post(self._pool, self.name, self._total, operation_path, request, sent)
        include_usage = bool((chat.get("stream_options") or {}).get("include_usage"))
        return TranslatedConverse(upstream, self.name, model, stream=stream, include_usage=include_usage)

    async def probe(self) -> str | None:
        # Bedrock's runtime endpoint has no cheap authenticated GET; reachability is what can be told.
        return await probe(self._pool, "", judge_status=False)

    async def aclose(self) -> None:
        await self._pool.aclose()


class TranslatedConverse:
    """A Converse response seen as an OpenAI chat completion (or its stream)."""

    def __init__(
        self, upstream: PooledResponse, backend: str, model: str, *, stream: bool, include_usage: bool
    ) -> None:
        self._upstream = upstream
        self._backend = backend
        self._model = model
        self._include_usage = include_usage
        self.status = upstream.status
        self.deadline = upstream.deadline
        self.content_type = "text/event-stream" if stream and upstream.status < 400 else "application/json"

    @property
    def relay_headers(self) -> dict[str, str]:
        return self._upstream.relay_headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        decoder = EventStreamDecoder()
        translator = ConverseStreamToChat(self._model, include_usage=self._include_usage)
        async for chunk in self._upstream.aiter_bytes():
            out = bytearray()
            try:
                for headers, payload in decoder.feed(chunk):
                    kind = headers.get(":message-type")
                    if kind == "event":
                        out += translator.event(str(headers.get(":event-type", "")), payload)
                    else:
                        error = headers.get(":exception-type") or headers.get(":error-code") or "error"
                        out += translator.exception(str(error), payload)
            except EventStreamError as exc:
                raise UpstreamUnreachable(f"backend '{self._backend}': {exc}", backend=self._backend) from exc
            if out:
                yield bytes(out)
        if not translator.done:
            raise UpstreamUnreachable(
                f"backend '{self._backend}' ended its stream before its metadata event", backend=self._backend
            )

    async def read(self, limit: int) -> bytes:
        body = await self._upstream.read(limit)
        if self.status >= 400:
            return converse_error_to_chat(body, self.status, self._upstream.header(b"x-amzn-errortype"))
        try:
            response = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamUnreachable(
                f"backend '{self._backend}' sent a response that is not JSON", backend=self._backend
            ) from exc
        return orjson.dumps(converse_response_to_chat(response, self._model))

    async def aclose(self) -> None:
        await self._upstream.aclose()
