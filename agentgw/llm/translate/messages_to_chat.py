"""Anthropic Messages -> OpenAI chat completions, and the answers back.

The direction of the inbound ``POST /v1/messages`` route when the model's backend speaks OpenAI chat:
the client (the ``anthropic`` SDK, Claude Code, ...) speaks Messages. Streams are translated chunk by
chunk into Messages events (:class:`ChatStreamToMessages`); the upstream is asked for usage in its
final chunk (``stream_options.include_usage``) so ``message_delta`` can carry it.
"""

from __future__ import annotations

from typing import Any

import orjson

from agentgw.errors import InvalidRequest
from agentgw.llm.translate.sse import SSEParser, sse_event

__all__ = [
    "ChatStreamToMessages",
    "chat_error_to_messages",
    "chat_response_to_messages",
    "chat_usage_to_messages",
    "messages_request_to_chat",
]

# OpenAI finish_reason -> Anthropic stop_reason.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# HTTP status -> Anthropic error type (docs.anthropic.com, "Errors").
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def messages_request_to_chat(request: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request equivalent to the Anthropic Messages ``request``.

    Raises:
        InvalidRequest: a content block or tool OpenAI chat cannot express (documents, server tools).
    """
    messages: list[dict[str, Any]] = []
    system = request.get("system")
    if system:
        text = system if isinstance(system, str) else "\n\n".join(_texts(system, "system"))
        messages.append({"role": "system", "content": text})
    for index, message in enumerate(request.get("messages") or []):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"{where}: role must be 'user' or 'assistant'", param="messages")
        content = message.get("content")
        if message["role"] == "assistant":
            messages.append(_assistant(content, where))
        elif isinstance(content, str):
            messages.append({"role": "user", "content": content})
        else:
            messages.extend(_user(content or [], where))
    out: dict[str, Any] = {"model": request["model"], "messages": messages}
    if isinstance(request.get("max_tokens"), int):
        out["max_tokens"] = request["max_tokens"]
    for name in ("temperature", "top_p"):
        if request.get(name) is not None:
            out[name] = request[name]
    if request.get("stop_sequences"):
        out["stop"] = list(request["stop_sequences"])
    if request.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    user = (request.get("metadata") or {}).get("user_id")
    if isinstance(user, str):
        out["user"] = user
    tools = request.get("tools")
    if tools:
        out["tools"] = [_tool(tool, i) for i, tool in enumerate(tools)]
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name", "")}}
        elif kind in ("auto", "any", "none"):
            out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    return out


def _texts(blocks: Any, where: str) -> list[str]:
    texts = []
    for block in blocks if isinstance(blocks, list) else [blocks]:
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"{where}: only text blocks are supported here", param="messages")
        texts.append(str(block.get("text", "")))
    return texts


def _user(blocks: list[Any], where: str) -> list[dict[str, Any]]:
    # Tool results become `tool` messages, which must directly follow the assistant's tool calls.
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            content = block.get("content")
            text = content if isinstance(content, str) else "".join(_texts(content or [], where))
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id", ""), "content": text})
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            source = block.get("source") or {}
            if source.get("type") == "base64":
                url = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
            elif source.get("type") == "url":
                url = source.get("url", "")
            else:
                raise InvalidRequest(f"{where}: image source {source.get('type')!r} is not supported here")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise InvalidRequest(f"{where}: {kind!r} blocks are not supported here", param="messages")
    if parts:
        if all(part["type"] == "text" for part in parts):
            out.append({"role": "user", "content": "".join(part["text"] for part in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _assistant(content: Any, where: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input", {})).decode()
            calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {"name": block.get("name", ""), "arguments": arguments},
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise InvalidRequest(f"{where}: {kind!r} blocks are not supported here", param="messages")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: Any, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or "input_schema" not in tool:
        raise InvalidRequest(f"tools[{index}]: only custom tools with an input_schema are supported here")
    function: dict[str, Any] = {"name": tool.get("name", ""), "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def chat_usage_to_messages(usage: dict[str, Any]) -> dict[str, Any]:
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {
        "input_tokens": (usage.get("prompt_tokens") or 0) - cached,
        "output_tokens": usage.get("completion_tokens") or 0,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def _message_id(chat_id: str) -> str:
    return chat_id if chat_id.startswith("msg_") else f"msg_{chat_id.removeprefix('chatcmpl-')}"


def chat_response_to_messages(chat: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic ``message`` for the OpenAI ``chat.completion``."""
    choice = (chat.get("choices") or [{}])[0]
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if reply.get("content"):
        content.append({"type": "text", "text": reply["content"]})
    for call in reply.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": arguments,
            }
        )
    return {
        "id": _message_id(str(chat.get("id", ""))),
        "type": "message",
        "role": "assistant",
        "model": chat.get("model", ""),
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "", "end_turn"),
        "stop_sequence": None,
        "usage": chat_usage_to_messages(chat.get("usage") or {}),
    }


def chat_error_to_messages(body: bytes, status: int) -> bytes:
    """An OpenAI error body (or any other) as Anthropic's error body."""
    try:
        message = str(orjson.loads(body)["error"]["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = body[:512].decode("utf-8", "replace") or f"HTTP {status}"
    return orjson.dumps({"type": "error", "error": {"type": error_type(status), "message": message}})


class ChatStreamToMessages:
    """OpenAI ``chat.completion.chunk`` events -> Anthropic stream events, as bytes arrive."""

    def __init__(self, model: str) -> None:
        self._parser = SSEParser()
        self._model = model
        self._started = False
        self._finished = False
        self._blocks = 0
        self._open: tuple[str, int] | None = None
        self._tools: dict[int, int] = {}
        self._stop_reason = "end_turn"
        self._usage: dict[str, Any] = {}

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for _, payload in self._parser.feed(data):
            if payload == b"[DONE]":
                out += self.finish()
                continue
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            out += self._chunk(chunk)
        return bytes(out)

    def _event(self, kind: str, body: dict[str, Any]) -> bytes:
        return sse_event(orjson.dumps({"type": kind, **body}), kind)

    def _start(self, chunk: dict[str, Any]) -> bytes:
        self._started = True
        message: dict[str, Any] = {
            "id": _message_id(str(chunk.get("id", ""))),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return self._event("message_start", {"message": message})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        index = self._open[1]
        self._open = None
        return self._event("content_block_stop", {"index": index})

    def _begin(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._open = (kind, self._blocks)
        self._blocks += 1
        return out + self._event("content_block_start", {"index": self._open[1], "content_block": block})

    def _chunk(self, chunk: dict[str, Any]) -> bytes:
        if "error" in chunk and "choices" not in chunk:
            error = chunk.get("error") or {}
            body = {"error": {"type": "api_error", "message": str(error.get("message", ""))}}
            return self._event("error", body)
        out = b"" if self._started else self._start(chunk)
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                if self._open is None or self._open[0] != "text":
                    out += self._begin("text", {"type": "text", "text": ""})
                assert self._open is not None
                text_delta = {"type": "text_delta", "text": text}
                out += self._event("content_block_delta", {"index": self._open[1], "delta": text_delta})
            for call in delta.get("tool_calls") or []:
                position = call.get("index", 0)
                function = call.get("function") or {}
                if position not in self._tools:
                    block = {
                        "type": "tool_use",
                        "id": call.get("id", ""),
                        "name": function.get("name", ""),
                        "input": {},
                    }
                    out += self._begin("tool", block)
                    assert self._open is not None
                    self._tools[position] = self._open[1]
                if function.get("arguments"):
                    json_delta = {"type": "input_json_delta", "partial_json": function["arguments"]}
                    out += self._event(
                        "content_block_delta", {"index": self._tools[position], "delta": json_delta}
                    )
            if choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return out

    def finish(self) -> bytes:
        """The closing events; empty when they were sent already."""
        if self._finished:
            return b""
        self._finished = True
        out = b"" if self._started else self._start({})
        out += self._close()
        usage = chat_usage_to_messages(self._usage)
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        out += self._event("message_delta", {"delta": delta, "usage": usage})
        return out + self._event("message_stop", {})
