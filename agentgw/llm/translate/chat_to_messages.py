"""OpenAI chat completions -> Anthropic Messages, and the answers back.

The direction of the ``anthropic`` provider: a client speaks OpenAI chat, the backend Anthropic
Messages (docs.anthropic.com, "Messages" and "Streaming Messages"). Requests are translated whole;
responses whole or, when streamed, event by event as they arrive (:class:`MessagesStreamToChat`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from agentgw.errors import InvalidRequest
from agentgw.llm.translate.sse import SSEParser, sse_event

__all__ = [
    "MessagesStreamToChat",
    "chat_request_to_messages",
    "messages_error_to_chat",
    "messages_response_to_chat",
    "messages_usage_to_chat",
]

# Anthropic stop_reason -> OpenAI finish_reason.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_DONE = b"data: [DONE]\n\n"
_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'


_TEXT_DELTA = b'"delta":{"type":"text_delta","text":'


def _is_json_string(literal: bytes) -> bool:
    if literal[:1] != b'"' or literal[-1:] != b'"':
        return False
    if literal.count(b'"') == 2:  # cut from valid JSON, with no quote inside: one string
        return True
    try:
        return isinstance(orjson.loads(literal), str)
    except orjson.JSONDecodeError:
        return False


def _tail(finish: str) -> bytes:
    return b',"logprobs":null,"finish_reason":' + orjson.dumps(finish) + b"}]}\n\n"


def chat_request_to_messages(chat: dict[str, Any], default_max_tokens: int) -> dict[str, Any]:
    """An Anthropic Messages request equivalent to the OpenAI chat request ``chat``.

    Raises:
        InvalidRequest: the request uses something Messages cannot express (``n`` > 1, audio, ...).
    """
    if chat.get("n", 1) not in (1, None):
        raise InvalidRequest("this model's backend returns one choice: 'n' must be 1", param="n")
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(chat["messages"]):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{index}] must be an object", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), f"messages[{index}]"))
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), f"messages[{index}]")
        elif role == "assistant":
            blocks = _assistant_blocks(message, f"messages[{index}]")
        elif role == "tool":
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": str(message.get("tool_call_id", "")),
                    "content": _text_blocks(message.get("content"), f"messages[{index}]"),
                }
            ]
        else:
            raise InvalidRequest(f"messages[{index}].role {role!r} is not supported", param="messages")
        target = "assistant" if role == "assistant" else "user"
        # Messages wants user and assistant turns to alternate: consecutive turns of one role merge.
        if messages and messages[-1]["role"] == target:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": target, "content": blocks})
    out: dict[str, Any] = {"model": chat["model"], "messages": messages}
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 else system
    max_tokens = chat.get("max_completion_tokens") or chat.get("max_tokens")
    out["max_tokens"] = max_tokens if isinstance(max_tokens, int) else default_max_tokens
    for name in ("temperature", "top_p"):
        if chat.get(name) is not None:
            out[name] = chat[name]
    stop = chat.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if chat.get("stream"):
        out["stream"] = True
    if isinstance(chat.get("user"), str):
        out["metadata"] = {"user_id": chat["user"]}
    tools = chat.get("tools")
    if tools:
        out["tools"] = [_tool(tool, i) for i, tool in enumerate(tools)]
    choice = _tool_choice(chat.get("tool_choice"), chat.get("parallel_tool_calls"))
    if choice is not None:
        out["tool_choice"] = choice
    return out


def _text_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content if isinstance(content, list) else [content]:
        if isinstance(part, dict) and part.get("type") in ("text", "refusal"):
            text = part.get("text") or part.get("refusal") or ""
            if text:
                blocks.append({"type": "text", "text": text})
        else:
            raise InvalidRequest(f"{where}.content: only text parts are supported here", param="messages")
    return blocks


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text_blocks(content, where)
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), where))
        else:
            raise InvalidRequest(f"{where}.content: {kind!r} parts are not supported here", param="messages")
    return blocks


def _image(image: Any, where: str) -> dict[str, Any]:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise InvalidRequest(f"{where}.content: image_url needs a url", param="messages")
    if url.startswith("data:"):
        # RFC 2397: data:[<media type>][;base64],<data>
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0]
        if ";base64" not in header or not media_type:
            raise InvalidRequest(f"{where}.content: an image data URL must be base64", param="messages")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = _text_blocks(message.get("content"), where)
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            raise InvalidRequest(
                f"{where}.tool_calls: arguments of {function.get('name')!r} are not JSON", param="messages"
            ) from None
        blocks.append(
            {"type": "tool_use", "id": call.get("id", ""), "name": function.get("name", ""), "input": parsed}
        )
    return blocks


def _tool(tool: Any, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise InvalidRequest(f"tools[{index}]: only function tools are supported here", param="tools")
    function = tool.get("function") or {}
    out = {
        "name": function.get("name", ""),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice is None:
        out = None
    elif choice == "none":
        return {"type": "none"}
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    else:
        raise InvalidRequest(f"tool_choice {choice!r} is not supported", param="tool_choice")
    if parallel is False:
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def messages_usage_to_chat(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage -> OpenAI usage. OpenAI's prompt tokens include cached ones; Anthropic's
    ``input_tokens`` excludes both cache reads and cache writes."""
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + cache_read + cache_write
    completion = usage.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_creation_tokens": cache_write},
    }


def messages_response_to_chat(message: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` for the Anthropic ``message``."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {
                        "name": block.get("name", ""),
                        "arguments": orjson.dumps(block.get("input", {})).decode(),
                    },
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
        "id": message.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": FINISH_REASONS.get(message.get("stop_reason") or "", "stop"),
            }
        ],
        "usage": messages_usage_to_chat(message.get("usage") or {}),
    }


def messages_error_to_chat(body: bytes, status: int) -> bytes:
    """An Anthropic error body (``{"type": "error", "error": {"type", "message"}}``) as OpenAI's."""
    try:
        data = orjson.loads(body)
        error = data["error"]
        kind, message = str(error["type"]), str(error["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        kind = "api_error" if status >= 500 else "invalid_request_error"
        message = body[:512].decode("utf-8", "replace") or f"HTTP {status}"
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": kind}})


class MessagesStreamToChat:
    """Anthropic stream events -> OpenAI ``chat.completion.chunk`` events, as bytes arrive."""

    def __init__(self, *, include_usage: bool) -> None:
        self._parser = SSEParser()
        self._include_usage = include_usage
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}
        self._head = b""
        self._start({})
        self.done = False
        self.chunks = 0
        """OpenAI chunks produced so far."""

    def feed(self, data: bytes) -> bytes:
        events = self._parser.feed(data)
        if len(events) == 1:  # the common case: one upstream chunk, one event
            return self._event(*events[0])
        return b"".join([self._event(event, payload) for event, payload in events])

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        # Hot path: every chunk shares its head and tail; only the delta is serialized per event.
        self.chunks += 1
        return b"".join((self._head, orjson.dumps(delta), _TAIL if finish is None else _tail(finish)))

    def _text(self, text: str) -> bytes:
        self.chunks += 1
        return b"".join((self._head, b'{"content":', orjson.dumps(text), b"}", _TAIL))

    def _start(self, message: dict[str, Any]) -> None:
        self._id = str(message.get("id", ""))
        self._model = str(message.get("model", ""))
        self._head = b"".join(
            (
                b'data: {"id":',
                orjson.dumps(self._id),
                b',"object":"chat.completion.chunk","created":',
                str(self._created).encode(),
                b',"model":',
                orjson.dumps(self._model),
                b',"choices":[{"index":0,"delta":',
            )
        )

    def _event(self, event: str, payload: bytes) -> bytes:
        if event == "content_block_delta":
            # Hot path, most events of a stream: a text delta's JSON string is copied as it is into
            # the chunk, never decoded and re-encoded. Anything unexpected takes the full parse.
            at = payload.find(_TEXT_DELTA)
            if at >= 0 and payload.endswith(b"}}"):
                literal = payload[at + len(_TEXT_DELTA) : -2]
                if _is_json_string(literal):
                    self.chunks += 1
                    return b"".join((self._head, b'{"content":', literal, b"}", _TAIL))
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b""
        kind = data.get("type", event)
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self._text(delta.get("text", ""))
            if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                index = self._tools.get(data.get("index", -1))
                if index is not None:
                    function = {"arguments": delta["partial_json"]}
                    return self._chunk({"tool_calls": [{"index": index, "function": function}]})
            return b""
        if kind == "message_start":
            message = data.get("message") or {}
            self._start(message)
            self._usage.update(message.get("usage") or {})
            return self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self._tools[data.get("index", -1)] = len(self._tools)
                call = {
                    "index": index,
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {"name": block.get("name", ""), "arguments": ""},
                }
                return self._chunk({"tool_calls": [call]})
            if block.get("type") == "text" and block.get("text"):
                return self._text(block["text"])
            return b""
        if kind == "message_delta":
            self._usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            reason = (data.get("delta") or {}).get("stop_reason")
            return self._chunk({}, FINISH_REASONS.get(reason or "", "stop"))
        if kind == "message_stop":
            self.done = True
            out = b""
            if self._include_usage:
                self.chunks += 1
                usage_chunk = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "choices": [],
                    "usage": messages_usage_to_chat(self._usage),
                }
                out = sse_event(orjson.dumps(usage_chunk))
            return out + _DONE
        if kind == "error":
            self.done = True  # the error event ends the stream; the client raises it
            error = data.get("error") or {}
            kind = str(error.get("type", "api_error"))
            body = {"error": {"message": error.get("message", ""), "type": kind, "param": None, "code": kind}}
            return sse_event(orjson.dumps(body))
        return b""  # ping, content_block_stop, thinking and signature deltas
