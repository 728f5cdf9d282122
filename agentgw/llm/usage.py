"""What an OpenAI-wire response says about itself: id, model, finish reasons, token usage.

A non-streamed body is parsed once (the gateway holds it anyway). A stream is never buffered or
parsed chunk by chunk: :class:`StreamRecorder` looks at each chunk with two byte searches, and parses
only the first event (id, model) and the event that carries a non-null ``"usage"`` (the final chunk,
when the client set ``stream_options.include_usage``; OpenAI sends ``"usage":null`` on the others).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from agentgw.errors import GatewayError
from agentgw.exchange import Exchange, Usage
from agentgw.llm.stream_content import StreamContent

__all__ = ["StreamRecorder", "anthropic_usage_from", "record_response", "usage_from"]

_USAGE = b'"usage"'
_FINISH = b'"finish_reason"'
_PENDING_LIMIT = 64 * 1024
_SPACE = b" \t:"


def usage_from(data: Mapping[str, Any]) -> Usage:
    """Token counts from an OpenAI ``usage`` object (Chat Completions, Embeddings or Responses form)."""
    input_details = data.get("prompt_tokens_details") or data.get("input_tokens_details") or {}
    output_details = data.get("completion_tokens_details") or data.get("output_tokens_details") or {}
    if not isinstance(input_details, dict):
        input_details = {}
    if not isinstance(output_details, dict):
        output_details = {}
    return Usage(
        input_tokens=_int(data.get("prompt_tokens", data.get("input_tokens"))),
        output_tokens=_int(data.get("completion_tokens", data.get("output_tokens"))),
        cache_read_input_tokens=_int(input_details.get("cached_tokens")),
        # Not in OpenAI's own usage; some OpenAI-compatible servers relaying Anthropic models report it.
        cache_creation_input_tokens=_int(
            input_details.get("cache_creation_tokens", data.get("cache_creation_input_tokens"))
        ),
        reasoning_output_tokens=_int(output_details.get("reasoning_tokens")),
    )


def anthropic_usage_from(data: Mapping[str, Any], previous: Usage | None = None) -> Usage:
    """Token counts from an Anthropic ``usage`` object, in :class:`Usage`'s (OpenAI's) convention:
    Anthropic's ``input_tokens`` exclude the cache reads and writes, :class:`Usage`'s include them.

    ``message_delta`` events carry cumulative counts of some fields only: the others are kept from
    ``previous`` (the ``message_start`` usage).
    """
    before = previous or Usage()
    read = _int(data.get("cache_read_input_tokens"))
    written = _int(data.get("cache_creation_input_tokens"))
    fresh = _int(data.get("input_tokens"))
    read = before.cache_read_input_tokens if read is None else read
    written = before.cache_creation_input_tokens if written is None else written
    input_tokens = before.input_tokens if fresh is None else fresh + (read or 0) + (written or 0)
    output = _int(data.get("output_tokens"))
    return Usage(
        input_tokens=input_tokens,
        output_tokens=before.output_tokens if output is None else output,
        cache_read_input_tokens=read,
        cache_creation_input_tokens=written,
        reasoning_output_tokens=before.reasoning_output_tokens,
    )


def record_response(exchange: Exchange, body: bytes) -> None:
    """Fill ``exchange`` from a non-streamed JSON response body; a body that is not JSON is ignored."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if not isinstance(data, dict):
        return
    exchange.response = data
    _record_head(exchange, data)
    choices = data.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                exchange.finish_reasons.append(choice["finish_reason"])
    usage = data.get("usage")
    if isinstance(usage, dict):
        exchange.usage = anthropic_usage_from(usage) if data.get("type") == "message" else usage_from(usage)


class StreamRecorder:
    """A :class:`~agentgw.streaming.RelayObserver` filling ``exchange`` from an OpenAI SSE stream.

    ``finish`` runs once when the relay ends, after the record is complete.
    """

    __slots__ = ("_content", "_exchange", "_finish", "_first", "_pending", "_previous")

    def __init__(self, exchange: Exchange, finish: Callable[[], None]) -> None:
        self._exchange = exchange
        self._finish = finish
        self._first = True
        self._previous = b""
        self._pending: bytearray | None = None
        # Opt-in content capture (issue 9): only then is every event parsed.
        self._content = StreamContent(exchange.route) if exchange.capture_content else None

    def chunk(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._exchange.first_chunk = time.perf_counter()
            self._head(data)
        rest = data if self._pending is None else self._continue(data)
        if rest:
            if _FINISH in rest:
                self._finish_reasons(rest)
            if _USAGE in rest:
                self._usage(rest)
        self._previous = data
        if self._content is not None:
            self._content.feed(data)

    def ended(self, error: GatewayError | None, completed: bool) -> None:
        exchange = self._exchange
        if error is not None:
            exchange.error_type = error.code
        elif not completed:
            exchange.error_type = "client_disconnected"
        if exchange.upstream and exchange.error_type is not None:
            exchange.upstream[-1].error_type = exchange.error_type
        if self._content is not None:
            exchange.response = self._content.completion()
        self._finish()

    def _head(self, data: bytes) -> None:
        start = data.find(b"data:")
        end = data.find(b"\n", start)
        if start < 0 or end < 0:
            return
        event = _load(data[start + 5 : end])
        if event is not None:
            _record_head(self._exchange, event)

    def _finish_reasons(self, data: bytes) -> None:
        at = data.find(_FINISH)
        while at >= 0:
            value = _value_start(data, at + len(_FINISH))
            if value < len(data) and data[value] == 0x22:  # '"': a reason, not null
                close = data.find(b'"', value + 1)
                if close > 0:
                    self._exchange.finish_reasons.append(data[value + 1 : close].decode("utf-8", "replace"))
            at = data.find(_FINISH, at + 1)

    def _usage(self, data: bytes) -> None:
        at = data.find(_USAGE)
        while at >= 0:
            value = _value_start(data, at + len(_USAGE))
            if value == len(data) or data[value] == 0x7B:  # '{' (the usage object), or not here yet
                break
            at = data.find(_USAGE, at + 1)
        else:
            return
        start = data.rfind(b"data:", 0, at)
        if start < 0:
            # The event began in the previous chunk.
            data = self._previous + data
            at += len(self._previous)
            start = data.rfind(b"data:", 0, at)
            if start < 0:
                return
        end = data.find(b"\n", at)
        if end < 0:
            self._pending = bytearray(data[start:])
            return
        self._usage_event(data[start + 5 : end])

    def _continue(self, data: bytes) -> bytes:
        """Add ``data`` to the pending event; what follows the event's end is returned for scanning."""
        pending = self._pending
        assert pending is not None
        end = data.find(b"\n")
        if end < 0:
            pending += data
            if len(pending) > _PENDING_LIMIT:
                self._pending = None
            return b""
        pending += data[:end]
        self._pending = None
        self._usage_event(bytes(pending[5:]))
        return data[end:]

    def _usage_event(self, payload: bytes) -> None:
        event = _load(payload)
        if event is None:
            return
        kind = event.get("type")
        if kind == "message_start" or kind == "response.completed":
            # Anthropic's message_start and the Responses API's last event nest the usage.
            nested = event.get("message" if kind == "message_start" else "response")
            if isinstance(nested, dict):
                event = nested
        usage = event.get("usage")
        if isinstance(usage, dict):
            if kind == "message_start":
                self._exchange.usage = anthropic_usage_from(usage)
            elif kind == "message_delta":
                self._exchange.usage = anthropic_usage_from(usage, self._exchange.usage)
            else:
                self._exchange.usage = usage_from(usage)
        _record_head(self._exchange, event)


def _record_head(exchange: Exchange, data: Mapping[str, Any]) -> None:
    if exchange.response_id is None and isinstance(data.get("id"), str):
        exchange.response_id = data["id"]
    if exchange.response_model is None and isinstance(data.get("model"), str):
        exchange.response_model = data["model"]


def _value_start(data: bytes, index: int) -> int:
    while index < len(data) and data[index] in _SPACE:
        index += 1
    return index


def _load(payload: bytes) -> dict[str, Any] | None:
    try:
        event = orjson.loads(payload.strip())
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
