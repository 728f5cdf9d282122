"""Prompts and completions in the GenAI conventions' message form, for opt-in content capture.

``gen_ai.input.messages``, ``gen_ai.system_instructions`` and ``gen_ai.output.messages`` are JSON
(the conventions' ``gen-ai-input-messages.json`` and ``gen-ai-output-messages.json`` schemas): a
message is ``{"role", "parts"}`` (output messages add ``finish_reason``), a part is ``{"type":
"text", "content"}``, ``{"type": "tool_call", "id", "name", "arguments"}``, ``{"type":
"tool_call_response", "id", "response"}``, ``{"type": "reasoning", "content"}``, or only its
``type`` for media and anything else (no image bytes on spans). An MCP tool call's arguments and
result (``gen_ai.tool.call.arguments``/``.result``) are recorded as the JSON they were.

Each of the gateway's LLM APIs has its own shape, told apart by the route the client called:
``/v1/chat/completions`` (OpenAI chat: ``messages``, ``choices``), ``/v1/messages`` (Anthropic:
``system``, content blocks, ``stop_reason``) and ``/v1/responses`` (OpenAI Responses: ``input``,
``instructions``, ``output`` items). Finish reasons are kept as the API gave them. Only called when
content capture is on, at export time, never on the request path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel

__all__ = ["input_messages", "json_text", "output_messages", "system_instructions"]

MESSAGES_ROUTE = "/v1/messages"
RESPONSES_ROUTE = "/v1/responses"

Part = dict[str, Any]
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
Message = dict[str, Any]


def input_messages(route: str, request: Mapping[str, Any]) -> str | None:
    """``gen_ai.input.messages`` of a request body, or ``None`` when it has none."""
    if route == RESPONSES_ROUTE:
        messages = _responses_input(request.get("input"))
    else:
        raw = request.get("messages")
        if not isinstance(raw, list):
            return None
        convert = _anthropic_message if route == MESSAGES_ROUTE else _chat_message
        messages = [convert(m) for m in raw if isinstance(m, dict)]
    return None if messages is None else _json(messages)


def system_instructions(route: str, request: Mapping[str, Any]) -> str | None:
    """``gen_ai.system_instructions``: Anthropic's ``system`` or the Responses API's
    ``instructions`` (a chat request's system messages stay among its input messages)."""
    if route == MESSAGES_ROUTE:
        parts = _anthropic_parts(request.get("system"))
    elif route == RESPONSES_ROUTE:
        parts = _text_parts(request.get("instructions"))
    else:
        return None
    return _json(parts) if parts else None


def output_messages(route: str, response: Mapping[str, Any]) -> str | None:
    """``gen_ai.output.messages`` of a (complete, or assembled from a stream) response body."""
    if route == MESSAGES_ROUTE:
        content = response.get("content")
        if not isinstance(content, list):
            return None
        message = {
            "role": response.get("role", "assistant"),
            "parts": _anthropic_parts(content),
            "finish_reason": response.get("stop_reason"),
        }
        return _json([message])
    if route == RESPONSES_ROUTE:
        output = response.get("output")
        if not isinstance(output, list):
            return None
        return _json(_responses_output(output, _responses_finish(response)))
    choices = response.get("choices")
    if not isinstance(choices, list):
        return None
    messages = []
    for choice in choices:
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            message = _chat_message(choice["message"])
            message["finish_reason"] = choice.get("finish_reason")
            messages.append(message)
    return _json(messages)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def json_text(value: object) -> str:
    """An MCP tool call's arguments or result as JSON (``gen_ai.tool.call.arguments``/``.result``):
    a result may be the SDK's model (the SDK path) or the JSON-RPC result itself (the fast path)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return orjson.dumps(value, default=str).decode()


# -- OpenAI chat completions ------------------------------------------------------------------------


def _chat_message(message: Mapping[str, Any]) -> Message:
    role = message.get("role", "assistant")
    if role == "tool":
        response = {"type": "tool_call_response", "id": message.get("tool_call_id")}
        response["response"] = _plain_text(message.get("content"))
        return {"role": "tool", "parts": [response]}
    parts = _chat_parts(message.get("content"))
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        for call in tool_calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                parts.append(
                    {
                        "type": "tool_call",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "arguments": function.get("arguments"),
                    }
                )
    return {"role": role, "parts": parts}


def _chat_parts(content: Any) -> list[Part]:
    """Content parts of OpenAI chat and Responses messages (``text``; ``input_text``/``output_text``)."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, list):
        return []
    parts: list[Part] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            parts.append({"type": "text", "content": part.get("text")})
        elif kind == "refusal":
            parts.append({"type": "text", "content": part.get("refusal")})
        else:
            parts.append({"type": str(kind)})
    return parts


def _plain_text(content: Any) -> Any:
    """A tool result's content: a string, or the text of its parts joined."""
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and "text" in part
        )
    return content


# -- Anthropic messages -----------------------------------------------------------------------------


def _anthropic_message(message: Mapping[str, Any]) -> Message:
    return {"role": message.get("role", "user"), "parts": _anthropic_parts(message.get("content"))}


def _anthropic_parts(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, list):
        return []
    parts: list[Part] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text")})
        elif kind == "tool_use":
            parts.append(
                {
                    "type": "tool_call",
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "arguments": block.get("input"),
                }
            )
        elif kind == "tool_result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": block.get("tool_use_id"),
                    "response": _plain_text(block.get("content")),
                }
            )
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking")})
        else:
            parts.append({"type": str(kind)})
    return parts


# -- OpenAI Responses -------------------------------------------------------------------------------


def _responses_input(value: Any) -> list[Message] | None:
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    if not isinstance(value, list):
        return None
    messages: list[Message] = []
    for item in value:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item.get("role", "user"), "parts": _chat_parts(item.get("content"))})
        elif kind == "function_call":
            messages.append({"role": "assistant", "parts": [_responses_call(item)]})
        elif kind == "function_call_output":
            response = {
                "type": "tool_call_response",
                "id": item.get("call_id"),
                "response": item.get("output"),
            }
            messages.append({"role": "tool", "parts": [response]})
    return messages


def _responses_output(output: list[Any], finish_reason: str) -> list[Message]:
    messages: list[Message] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            parts = _chat_parts(item.get("content"))
            messages.append(
                {"role": item.get("role", "assistant"), "parts": parts, "finish_reason": finish_reason}
            )
        elif kind == "function_call":
            messages.append(
                {"role": "assistant", "parts": [_responses_call(item)], "finish_reason": "tool_call"}
            )
    return messages


def _responses_finish(response: Mapping[str, Any]) -> str:
    """The Responses API has a status, not a finish reason: ``incomplete`` is cut short."""
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    return "stop"


def _responses_call(item: Mapping[str, Any]) -> Part:
    return {
        "type": "tool_call",
        "id": item.get("call_id"),
        "name": item.get("name"),
        "arguments": item.get("arguments"),
    }


def _text_parts(value: Any) -> list[Part]:
    return [{"type": "text", "content": value}] if isinstance(value, str) and value else []
