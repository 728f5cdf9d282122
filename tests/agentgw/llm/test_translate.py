"""The stream translators on their own: chunk boundaries, line ends, escapes, tool-call interleaving."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgw.llm.translate import ChatStreamToMessages, MessagesStreamToChat, SSEParser


def anthropic_event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


def messages_stream(texts: list[str]) -> bytes:
    start = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [],
        "usage": {"input_tokens": 7},
    }
    events = [
        anthropic_event("message_start", {"message": start}),
        anthropic_event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        anthropic_event("ping", {}),
        *(
            anthropic_event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": t}})
            for t in texts
        ),
        anthropic_event("content_block_stop", {"index": 0}),
        anthropic_event(
            "content_block_start",
            {"index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}},
        ),
        anthropic_event(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},
        ),
        anthropic_event(
            "content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}}
        ),
        anthropic_event("content_block_stop", {"index": 1}),
        anthropic_event(
            "message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}
        ),
        anthropic_event("message_stop", {}),
    ]
    return b"".join(events)


def chunks_of(sse: bytes) -> list[dict[str, Any]]:
    out = []
    for _, data in SSEParser().feed(sse):
        if data != b"[DONE]":
            out.append(orjson.loads(data))
    return out


def test_messages_stream_to_chat_chunks() -> None:
    translator = MessagesStreamToChat(include_usage=True)
    sse = translator.feed(messages_stream(["Hel", 'lo "quoted" \\ \u00e9\n', "!"]))
    assert sse.endswith(b"data: [DONE]\n\n") and translator.done
    chunks = chunks_of(sse)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == 'Hello "quoted" \\ \u00e9\n!'
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0] == {
        "index": 0,
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    assert "".join(call["function"]["arguments"] for call in calls) == '{"a": 1}'
    finishes = [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert finishes == ["tool_calls"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 7
    assert chunks[-1]["usage"]["completion_tokens"] == 9
    assert all(c["id"] == "msg_1" and c["object"] == "chat.completion.chunk" for c in chunks)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=30),
    crlf=st.booleans(),
)
def test_any_chunking_and_line_end_gives_the_same_chunks(
    texts: list[str], cuts: list[int], crlf: bool
) -> None:
    stream = messages_stream(texts)
    if crlf:
        stream = stream.replace(b"\n", b"\r\n")
    whole = MessagesStreamToChat(include_usage=False)
    expected = chunks_of(whole.feed(stream))
    pieces = MessagesStreamToChat(include_usage=False)
    out, at = bytearray(), 0
    for cut in cuts:
        out += pieces.feed(stream[at : at + cut])
        at += cut
    out += pieces.feed(stream[at:])

    def without_created(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "created"} for c in chunks]

    assert without_created(chunks_of(bytes(out))) == without_created(expected)
    assert "".join(
        c["choices"][0]["delta"].get("content") or "" for c in expected if c["choices"]
    ) == "".join(texts)


def openai_chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt",
    }
    chunk["choices"] = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage:
        chunk["usage"] = usage
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def test_chat_stream_to_messages_events_in_order() -> None:
    stream = b"".join(
        [
            openai_chunk({"role": "assistant", "content": ""}),
            openai_chunk({"content": "Hi"}),
            openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ]
                }
            ),
            openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]}),
            openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{}"},
                        }
                    ]
                }
            ),
            openai_chunk({}, "tool_calls"),
            openai_chunk(
                {},
                usage={
                    "prompt_tokens": 10,
                    "completion_tokens": 4,
                    "prompt_tokens_details": {"cached_tokens": 3},
                },
            ),
            b"data: [DONE]\n\n",
        ]
    )
    events = [
        (kind, orjson.loads(data))
        for kind, data in SSEParser().feed(ChatStreamToMessages("gpt").feed(stream))
    ]
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(kind == data["type"] for kind, data in events)
    assert events[0][1]["message"]["id"] == "msg_1"
    assert events[4][1]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}
    assert [events[i][1]["index"] for i in (1, 4, 7)] == [0, 1, 2]
    assert events[10][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {
            "input_tokens": 7,
            "output_tokens": 4,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 0,
        },
    }
