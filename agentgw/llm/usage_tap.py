"""Usage in streams the client did not ask to see it in, and what a stream delivered.

OpenAI-compatible upstreams report a stream's usage only when asked (``stream_options:
{include_usage: true}``), in one extra chunk before ``[DONE]`` whose ``choices`` is empty. The gateway
needs that usage for every stream, so :func:`with_stream_usage` asks for it; a client that did not ask
must not see the extra chunk, since it would trip code that reads ``choices[0]`` of every chunk.
:class:`UsageTap` wraps the upstream response: it withholds that chunk (recording its usage on the
exchange), and tallies the response bytes and the text delivered, so that a stream cut short before
its usage arrived is still recorded, with estimated output tokens.

Withholding needs whole events, so in that mode the tap passes on complete SSE events only and holds
a trailing partial event until its end arrives; a client cannot act on a partial event anyway.
Without withholding, chunks pass through as they came.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from agentgw.exchange import Exchange
from agentgw.llm.providers.base import UpstreamResponse
from agentgw.llm.request import LLMRequest
from agentgw.llm.usage import usage_from

__all__ = ["STATE_KEY", "UsageTap", "with_stream_usage"]

STATE_KEY = "llm.stream_text"
"""``exchange.state`` key of the characters of text a stream delivered (for estimates)."""

_USAGE = b'"usage"'
_SPACE = b" \t:"
# Text-bearing string fields of streamed deltas: OpenAI chat (content, arguments, reasoning_content),
# Responses (delta), Anthropic (text, partial_json, thinking). Compact JSON, as upstreams send it.
_TEXT = re.compile(
    rb'"(?:content|arguments|reasoning_content|delta|text|partial_json|thinking)":"((?:[^"\\]|\\.)*)"'
)


def with_stream_usage(request: LLMRequest) -> tuple[LLMRequest, bool]:
    """``request`` asking the upstream for usage in its stream, and whether the gateway added that
    (so the usage chunk must be withheld from the client)."""
    options = request.data.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return request, False
    merged = {**options, "include_usage": True} if isinstance(options, dict) else {"include_usage": True}
    data = {**request.data, "stream_options": merged}
    return LLMRequest(body=orjson.dumps(data), data=data, model=request.model, stream=request.stream), True


class UsageTap:
    """An :class:`~agentgw.llm.providers.base.UpstreamResponse` around a streamed one (see module doc)."""

    def __init__(self, upstream: UpstreamResponse, exchange: Exchange, *, withhold: bool) -> None:
        self._upstream = upstream
        self._exchange = exchange
        self._withhold = withhold
        self._pending = b""
        self.status = upstream.status
        self.content_type = upstream.content_type
        self.deadline = upstream.deadline
        exchange.response_bytes = 0
        exchange.state[STATE_KEY] = 0

    @property
    def relay_headers(self) -> dict[str, str]:
        return self._upstream.relay_headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        state = exchange.state
        sent = 0
        try:
            async for chunk in self._upstream.aiter_bytes():
                if self._withhold:
                    chunk = self._complete_events(chunk)
                    if not chunk:
                        continue
                for match in _TEXT.finditer(chunk):
                    state[STATE_KEY] += len(match.group(1))
                sent += len(chunk)
                exchange.response_bytes = sent
                yield chunk
            if self._pending:
                rest, self._pending = self._pending, b""
                exchange.response_bytes = sent + len(rest)
                yield rest
        finally:
            exchange.response_bytes = sent

    async def read(self, limit: int) -> bytes:
        return await self._upstream.read(limit)

    async def aclose(self) -> None:
        await self._upstream.aclose()

    def _complete_events(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        end = _events_end(data)
        if end == 0:
            self._pending = data
            return b""
        complete, self._pending = data[:end], data[end:]
        if _USAGE not in complete or not _has_usage_object(complete):
            return complete
        return self._without_usage_event(complete)

    def _without_usage_event(self, complete: bytes) -> bytes:
        kept = []
        for event in re.split(rb"(?<=\n\n)|(?<=\r\n\r\n)", complete):
            if event and _USAGE in event and _has_usage_object(event):
                data = _event_data(event)
                if data is not None and data.get("choices") == [] and isinstance(data.get("usage"), dict):
                    self._exchange.usage = usage_from(data["usage"])
                    continue
            kept.append(event)
        return b"".join(kept)


def _events_end(data: bytes) -> int:
    """Where the last complete SSE event of ``data`` ends (0: there is none)."""
    lf = data.rfind(b"\n\n")
    crlf = data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)


def _has_usage_object(data: bytes) -> bool:
    at = data.find(_USAGE)
    while at >= 0:
        value = at + len(_USAGE)
        while value < len(data) and data[value] in _SPACE:
            value += 1
        if value < len(data) and data[value] == 0x7B:  # '{'
            return True
        at = data.find(_USAGE, at + 1)
    return False


def _event_data(event: bytes) -> dict[str, Any] | None:
    lines = [line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")]
    try:
        value = orjson.loads(b"\n".join(lines))
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
