"""OpenAI chat completions -> Amazon Bedrock Converse, and the answers back.

Converse (docs.aws.amazon.com, Bedrock API Reference, "Converse" and "ConverseStream"): the model
is in the URL, not the body; content blocks are ``{"text"}``, ``{"image"}``, ``{"toolUse"}`` and
``{"toolResult"}``; sampling settings sit in ``inferenceConfig`` and tools in ``toolConfig``. The
stream is event-stream framed; :class:`ConverseStreamToChat` takes the decoded events.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from agentgw.errors import InvalidRequest
from agentgw.llm.translate.sse import sse_event

__all__ = [
    "ConverseStreamToChat",
    "chat_request_to_converse",
    "converse_error_to_chat",
    "converse_response_to_chat",
]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
_DONE = b"data: [DONE]\n\n"


def chat_request_to_converse(chat: dict[str, Any]) -> dict[str, Any]:
    """The Converse request body (without the model, which goes in the URL) for ``chat``.

    Raises:
        InvalidRequest: something Converse cannot express (``n`` > 1, image URLs, audio, ...).
    """
    if chat.get("n", 1) not in (1, None):
        raise InvalidRequest("this model's backend returns one choice: 'n' must be 1", param="n")
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(chat["messages"]):
        where = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system.extend({"text": text} for text in _texts(message.get("content"), where))
            continue
        if role == "user":
            blocks = _user(message.get("content"), where)
        elif role == "assistant":
            blocks = [{"text": text} for text in _texts(message.get("content"), where)]
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                try:
                    arguments = orjson.loads(function.get("arguments") or "{}")
                except orjson.JSONDecodeError:
                    raise InvalidRequest(
                        f"{where}.tool_calls: arguments are not JSON", param="messages"
                    ) from None
                use = {"toolUseId": call.get("id", ""), "name": function.get("name", ""), "input": arguments}
                blocks.append({"toolUse": use})
        elif role == "tool":
            content = [{"text": text} for text in _texts(message.get("content"), where)] or [{"text": ""}]
            blocks = [{"toolResult": {"toolUseId": str(message.get("tool_call_id", "")), "content": content}}]
        else:
            raise InvalidRequest(f"{where}.role {role!r} is not supported", param="messages")
        target = "assistant" if role == "assistant" else "user"
        if messages and messages[-1]["role"] == target:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": target, "content": blocks})
    out: dict[str, Any] = {"messages": messages}
    if system:
        out["system"] = system
    config: dict[str, Any] = {}
    max_tokens = chat.get("max_completion_tokens") or chat.get("max_tokens")
    if isinstance(max_tokens, int):
        config["maxTokens"] = max_tokens
    if chat.get("temperature") is not None:
        config["temperature"] = chat["temperature"]
    if chat.get("top_p") is not None:
        config["topP"] = chat["top_p"]
    stop = chat.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if config:
        out["inferenceConfig"] = config
    tools = chat.get("tools")
    if tools:
        specs = []
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise InvalidRequest(f"tools[{index}]: only function tools are supported here", param="tools")
            function = tool.get("function") or {}
            spec: dict[str, Any] = {
                "name": function.get("name", ""),
                "inputSchema": {"json": function.get("parameters") or {"type": "object", "properties": {}}},
            }
            if function.get("description"):
                spec["description"] = function["description"]
            specs.append({"toolSpec": spec})
        tool_config: dict[str, Any] = {"tools": specs}
        choice = chat.get("tool_choice")
        if choice == "required":
            tool_config["toolChoice"] = {"any": {}}
        elif choice == "auto":
            tool_config["toolChoice"] = {"auto": {}}
        elif isinstance(choice, dict) and choice.get("type") == "function":
            tool_config["toolChoice"] = {"tool": {"name": (choice.get("function") or {}).get("name", "")}}
        out["toolConfig"] = tool_config
    return out


def _texts(content: Any, where: str) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content] if content else []
    texts = []
    for part in content if isinstance(content, list) else [content]:
        if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
            raise InvalidRequest(f"{where}.content: only text parts are supported here", param="messages")
        text = part.get("text") or part.get("refusal") or ""
        if text:
            texts.append(text)
    return texts


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"text": text} for text in _texts(content, where)]
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            header, _, data = str(url).partition(",")
            media_type = header.removeprefix("data:").split(";")[0]
            if not header.startswith("data:") or ";base64" not in header or media_type not in _IMAGE_FORMATS:
                raise InvalidRequest(
                    f"{where}.content: Bedrock takes images as base64 data URLs (png, jpeg, gif, webp)",
                    param="messages",
                )
            blocks.append({"image": {"format": _IMAGE_FORMATS[media_type], "source": {"bytes": data}}})
        else:
            raise InvalidRequest(f"{where}.content: {kind!r} parts are not supported here", param="messages")
    return blocks


def converse_usage_to_chat(usage: dict[str, Any]) -> dict[str, Any]:
    cache_read = usage.get("cacheReadInputTokens") or 0
    cache_write = usage.get("cacheWriteInputTokens") or 0
    prompt = (usage.get("inputTokens") or 0) + cache_read + cache_write
    completion = usage.get("outputTokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_creation_tokens": cache_write},
    }


def converse_response_to_chat(response: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` for a Converse response."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in ((response.get("output") or {}).get("message") or {}).get("content") or []:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input", {})).decode()
            calls.append(
                {
                    "id": use.get("toolUseId", ""),
                    "type": "function",
                    "function": {"name": use.get("name", ""), "arguments": arguments},
                }
            )
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": FINISH_REASONS.get(response.get("stopReason") or "", "stop"),
            }
        ],
        "usage": converse_usage_to_chat(response.get("usage") or {}),
    }


def converse_error_to_chat(body: bytes, status: int, error_type: str) -> bytes:
    """A Bedrock error (``{"message"}`` plus the ``x-amzn-ErrorType`` header) as OpenAI's error body."""
    try:
        message = str(orjson.loads(body)["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        message = body[:512].decode("utf-8", "replace") or f"HTTP {status}"
    kind = error_type.split(":")[0] or ("server_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": kind}})


class ConverseStreamToChat:
    """Decoded ConverseStream events -> OpenAI ``chat.completion.chunk`` events."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._id = f"chatcmpl-{uuid.uuid4().hex[:29]}"
        self._created = int(time.time())
        self._model = model
        self._tools: dict[int, int] = {}
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return sse_event(orjson.dumps(chunk))

    def event(self, kind: str, payload: bytes) -> bytes:
        """OpenAI SSE bytes for one ConverseStream event (``:event-type`` ``kind``)."""
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b""
        if kind == "contentBlockDelta":
            delta = data.get("delta") or {}
            if "text" in delta:
                return self._chunk({"content": delta["text"]})
            use = delta.get("toolUse")
            index = self._tools.get(data.get("contentBlockIndex", -1))
            if use and use.get("input") and index is not None:
                return self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": use["input"]}}]}
                )
            return b""
        if kind == "messageStart":
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "contentBlockStart":
            use = (data.get("start") or {}).get("toolUse")
            if not use:
                return b""
            index = self._tools[data.get("contentBlockIndex", -1)] = len(self._tools)
            call = {
                "index": index,
                "id": use.get("toolUseId", ""),
                "type": "function",
                "function": {"name": use.get("name", ""), "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]})
        if kind == "messageStop":
            return self._chunk({}, FINISH_REASONS.get(data.get("stopReason") or "", "stop"))
        if kind == "metadata":
            self.done = True
            out = b""
            if self._include_usage:
                usage = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "choices": [],
                    "usage": converse_usage_to_chat(data.get("usage") or {}),
                }
                out = sse_event(orjson.dumps(usage))
            return out + _DONE
        return b""

    def exception(self, kind: str, payload: bytes) -> bytes:
        """The in-band error event for a stream exception (``:exception-type`` ``kind``)."""
        self.done = True
        try:
            message = str(orjson.loads(payload).get("message", ""))
        except (orjson.JSONDecodeError, AttributeError):
            message = payload[:512].decode("utf-8", "replace")
        return sse_event(
            orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": kind}})
        )
