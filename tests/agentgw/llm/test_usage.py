"""Usage, ids and finish reasons read off OpenAI responses, streamed however the bytes are cut."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from agentgw.errors import UpstreamTimeout
from agentgw.exchange import Exchange, UpstreamCall, Usage
from agentgw.llm.usage import StreamRecorder, record_response, usage_from

USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def _event(data: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def _chunk(delta: dict[str, object], finish: str | None, **extra: object) -> bytes:
    return _event(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": None,
            **extra,
        }
    )


STREAM = b"".join(
    [
        _chunk({"role": "assistant", "content": ""}, None),
        _chunk({"content": 'the "usage" of a \\"finish_reason\\": word'}, None),
        _chunk({}, "length"),
        _event({"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18", "choices": [], "usage": USAGE}),
        b"data: [DONE]\n\n",
    ]
)


def _record(chunks: list[bytes]) -> Exchange:
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    ended: list[bool] = []
    recorder = StreamRecorder(exchange, lambda: ended.append(True))
    for chunk in chunks:
        recorder.chunk(chunk)
    recorder.ended(None, completed=True)
    assert ended == [True]
    return exchange


def test_whole_events() -> None:
    exchange = _record([STREAM])
    assert exchange.response_id == "chatcmpl-1"
    assert exchange.response_model == "gpt-4o-mini-2024-07-18"
    assert exchange.finish_reasons == ["length"]
    assert exchange.usage == Usage(120, 30, 100, None, 12)
    assert exchange.first_chunk is not None
    assert exchange.error_type is None


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12))
def test_any_cut_of_the_stream_gives_the_same_usage(cuts: list[int]) -> None:
    points = [0, *sorted(set(cuts)), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in zip(points, points[1:], strict=False)]
    exchange = _record(chunks)
    assert exchange.finish_reasons == ["length"] or _splits(points, b'"finish_reason":"length"')
    # Found when the usage event's "data:" is at most one chunk before its "usage" key, and the key
    # itself is not cut (upstreams write an event at once; a proxy may cut it in two).
    event = STREAM.index(b'data: {"id":"chatcmpl-1","model":"gpt-4o-mini-2024-07-18","choices":[]')
    marker = STREAM.index(b'"usage":{')
    if _piece(points, marker) - _piece(points, event) <= 1 and not _splits(points, b'"usage"', marker):
        assert exchange.usage == Usage(120, 30, 100, None, 12)


def _piece(points: list[int], at: int) -> int:
    return sum(1 for p in points[1:-1] if p <= at)


def _splits(points: list[int], needle: bytes, at: int | None = None) -> bool:
    at = STREAM.index(needle) if at is None else at
    return any(at < p < at + len(needle) for p in points)


def test_stream_errors_and_disconnects_are_recorded() -> None:
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    exchange.upstream.append(UpstreamCall("fake"))
    recorder = StreamRecorder(exchange, lambda: None)
    recorder.chunk(_chunk({"content": "x"}, None))
    recorder.ended(UpstreamTimeout("too slow", backend="fake"), completed=False)
    assert exchange.error_type == "upstream_timeout"
    assert exchange.upstream[0].error_type == "upstream_timeout"

    left = Exchange("llm", "/v1/chat/completions", "chat")
    StreamRecorder(left, lambda: None).ended(None, completed=False)
    assert left.error_type == "client_disconnected"


def test_non_streamed_response() -> None:
    exchange = Exchange("llm", "/v1/chat/completions", "chat")
    body = {
        "id": "chatcmpl-2",
        "model": "m",
        "choices": [{"finish_reason": "stop"}, {"finish_reason": "tool_calls"}],
        "usage": USAGE,
    }
    record_response(exchange, orjson.dumps(body))
    assert (exchange.response_id, exchange.response_model) == ("chatcmpl-2", "m")
    assert exchange.finish_reasons == ["stop", "tool_calls"]
    assert exchange.usage.cache_read_input_tokens == 100
    record_response(ignored := Exchange("llm", "/v1/embeddings", "embeddings"), b"<html>")
    assert ignored.response is None


def test_usage_forms() -> None:
    assert usage_from({"prompt_tokens": 3, "total_tokens": 3}) == Usage(input_tokens=3)
    responses_api = {
        "input_tokens": 5,
        "output_tokens": 7,
        "input_tokens_details": {"cached_tokens": 2},
        "output_tokens_details": {"reasoning_tokens": 4},
    }
    assert usage_from(responses_api) == Usage(5, 7, 2, None, 4)
    assert usage_from({"prompt_tokens": 9, "cache_creation_input_tokens": 6}).cache_creation_input_tokens == 6
    assert usage_from({"prompt_tokens": True}).input_tokens is None
