"""Token estimates for when an upstream reports no usage, and for MCP tool arguments and results.

Offline and deterministic, with no tokenizer download: tiktoken fetches its BPE files from the
internet at first use, which a gateway behind an egress firewall (and the test machine) cannot do,
and exact counts would differ by model family anyway.

The heuristic: ASCII text costs one token per 4 characters (OpenAI's published rule of thumb for
English with its BPE encodings); other text costs one token per 3 UTF-8 bytes, which is about one per
character for CJK and 2 characters for Cyrillic or Greek, where BPE encodings are much less dense.
Expect English prose within about 10-25% of a real tokenizer, code and JSON typically within 30%,
and structured or unusual text worse. Records built on these numbers are marked ``estimated``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = [
    "estimate_tokens",
    "json_tokens",
    "prompt_tokens",
    "response_tokens",
    "tool_result_tokens",
]

# Chat formats add a few tokens of framing per message (role, separators): OpenAI documents 3-4.
_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (0 for the empty string)."""
    if not text:
        return 0
    if text.isascii():
        return (len(text) + 3) // 4
    return max((len(text) + 3) // 4, (len(text.encode("utf-8", "replace")) + 2) // 3)


def json_tokens(value: Any) -> int:
    """Estimated tokens of ``value`` serialized as compact JSON (tool arguments, structured results)."""
    if value is None:
        return 0
    try:
        return estimate_tokens(orjson.dumps(value, default=str).decode())
    except TypeError:
        return estimate_tokens(str(value))


def prompt_tokens(request: Mapping[str, Any]) -> int:
    """Estimated input tokens of an OpenAI chat or embeddings body, or an Anthropic Messages body."""
    total = 0
    system = request.get("system")
    if system is not None:
        total += _content_tokens(system) + _PER_MESSAGE
    messages = request.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                total += _PER_MESSAGE + _content_tokens(message.get("content"))
                if "tool_calls" in message:
                    total += json_tokens(message["tool_calls"])
    for key in ("input", "prompt", "instructions"):  # embeddings, completions, responses
        if key in request:
            total += _content_tokens(request[key])
    tools = request.get("tools")
    if isinstance(tools, list):
        total += json_tokens(tools)
    return total


def response_tokens(response: Mapping[str, Any]) -> int:
    """Estimated output tokens of a non-streamed chat completion or Anthropic message."""
    total = 0
    choices = response.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                total += _content_tokens(message.get("content"))
                if "tool_calls" in message:
                    total += json_tokens(message["tool_calls"])
    content = response.get("content")  # Anthropic Messages
    if isinstance(content, list):
        total += _content_tokens(content)
    return total


def tool_result_tokens(result: Any) -> int:
    """Estimated tokens an MCP tool result (an SDK ``CallToolResult`` or its JSON) adds to a model's context.

    Text content and embedded text resources count as their text; ``structuredContent`` counts as
    JSON only when there is no text content (servers usually send it twice, and a client passes one
    form to the model). Images and audio count as nothing here: models bill them by their own rules.
    """
    content = _field(result, "content", "content")
    total = 0
    texts = 0
    if isinstance(content, list):
        for block in content:
            text = _field(block, "text", "text")
            if text is None:
                text = _field(_field(block, "resource", "resource"), "text", "text")
            if isinstance(text, str):
                total += estimate_tokens(text)
                texts += 1
    if texts == 0:
        structured = _field(result, "structured_content", "structuredContent")
        if structured is not None:
            total += json_tokens(structured)
    return total


def _field(value: Any, attribute: str, key: str) -> Any:
    # Results come as SDK models (the SDK path) or as the JSON-RPC result dict (the fast path).
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, attribute, None)


def _content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_tokens(content)
    if isinstance(content, list):
        return sum(_part_tokens(part) for part in content)
    return json_tokens(content)


def _part_tokens(part: Any) -> int:
    if isinstance(part, str):
        return estimate_tokens(part)
    if isinstance(part, dict):
        text = part.get("text")
        if isinstance(text, str):
            return estimate_tokens(text)
        if part.get("type") in ("image_url", "image", "input_image", "input_audio"):
            return 0  # billed by the provider's own rules for media; not guessed here
        return json_tokens(part)
    if isinstance(part, Iterable):
        return sum(_part_tokens(p) for p in part)
    return 0
