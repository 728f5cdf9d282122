"""Content capture: the three LLM APIs' bodies and streams in the GenAI conventions' message form."""

from __future__ import annotations

from typing import Any

import orjson

from agentgw.llm.stream_content import StreamContent
from agentgw.telemetry.content import input_messages, output_messages, system_instructions

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
RESPONSES = "/v1/responses"


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: x\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


def _feed_in_pieces(content: StreamContent, data: bytes, size: int = 7) -> None:
    for at in range(0, len(data), size):
        content.feed(data[at : at + size])


def test_chat_tool_call_round_trip() -> None:
    request = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}, {"type": "image_url"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "w", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "rain"},
        ]
    }
    assert orjson.loads(input_messages(CHAT, request) or "") == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "weather?"}, {"type": "image_url"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "c1", "name": "w", "arguments": '{"city":"Oslo"}'}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rain"}]},
    ]
    assert system_instructions(CHAT, request) is None  # chat keeps its system message among the inputs


def test_chat_stream_with_tool_calls_is_assembled() -> None:
    content = StreamContent(CHAT)
    _feed_in_pieces(
        content,
        _sse(
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Let me "}}]},
            {"choices": [{"index": 0, "delta": {"content": "check."}}]},
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {"index": 0, "id": "c9", "function": {"name": "w", "arguments": '{"ci'}}
                            ]
                        },
                    }
                ]
            },
            {
                "choices": [
                    {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'ty":1}'}}]}}
                ]
            },
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        )
        + b"data: [DONE]\n\n",
    )
    assert orjson.loads(output_messages(CHAT, content.completion()) or "") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "id": "c9", "name": "w", "arguments": '{"city":1}'},
            ],
            "finish_reason": "tool_calls",
        }
    ]


def test_anthropic_bodies() -> None:
    request = {
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo"}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "rain"}],
                    }
                ],
            },
        ],
    }
    assert orjson.loads(system_instructions(MESSAGES, request) or "") == [
        {"type": "text", "content": "You are terse."}
    ]
    assert orjson.loads(input_messages(MESSAGES, request) or "")[1:] == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "t1", "name": "w", "arguments": {"city": "Oslo"}}],
        },
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "t1", "response": "rain"}]},
    ]
    response = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "Rainy."}],
        "stop_reason": "end_turn",
    }
    assert orjson.loads(output_messages(MESSAGES, response) or "") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Rainy."}], "finish_reason": "end_turn"}
    ]


def test_anthropic_stream_is_assembled() -> None:
    content = StreamContent(MESSAGES)
    _feed_in_pieces(
        content,
        _sse(
            {
                "type": "message_start",
                "message": {"role": "assistant", "content": [], "usage": {"input_tokens": 3}},
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "It is "}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "raining."}},
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "t2", "name": "w", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city"'},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": ': "Oslo"}'},
            },
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
            {"type": "message_stop"},
        ),
    )
    assert orjson.loads(output_messages(MESSAGES, content.completion()) or "") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "It is raining."},
                {"type": "tool_call", "id": "t2", "name": "w", "arguments": {"city": "Oslo"}},
            ],
            "finish_reason": "tool_use",
        }
    ]


def test_responses_bodies_and_stream() -> None:
    request = {
        "instructions": "Be kind.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hey"}]}],
    }
    assert orjson.loads(system_instructions(RESPONSES, request) or "") == [
        {"type": "text", "content": "Be kind."}
    ]
    assert orjson.loads(input_messages(RESPONSES, request) or "") == [
        {"role": "user", "parts": [{"type": "text", "content": "hey"}]}
    ]
    assert orjson.loads(input_messages(RESPONSES, {"input": "plain"}) or "") == [
        {"role": "user", "parts": [{"type": "text", "content": "plain"}]}
    ]
    final = {
        "object": "response",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hel"}]},
        ],
    }
    content = StreamContent(RESPONSES)
    _feed_in_pieces(
        content,
        _sse(
            {"type": "response.created", "response": {"object": "response", "output": []}},
            {"type": "response.output_text.delta", "delta": "Hel"},
            {"type": "response.incomplete", "response": final},
        ),
    )
    assert orjson.loads(output_messages(RESPONSES, content.completion()) or "") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hel"}], "finish_reason": "length"}
    ]


def test_bodies_without_messages_give_nothing() -> None:
    assert input_messages(CHAT, {"input": "embed me"}) is None
    assert output_messages(CHAT, {"data": []}) is None
    assert output_messages(MESSAGES, {"type": "error"}) is None
    assert system_instructions(MESSAGES, {"messages": []}) is None
