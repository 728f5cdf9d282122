"""A request's tokens, estimated before the call so that it can be admitted against token limits.

The estimate is what OpenAI's own rate limiter documents: the prompt's characters / 4, plus the
most the request may generate (``max_tokens``, ``max_completion_tokens``, ``max_output_tokens``).
Only text counts: inline images and audio (``data:`` URLs, base64 sources) would otherwise weigh as
hundreds of thousands of tokens. Once the upstream reports the real usage, it replaces the estimate
(:meth:`agentgw.limits.limiter.Limits.settle`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["estimate_tokens"]

_CHARS_PER_TOKEN = 4
_PROMPT_FIELDS = ("messages", "input", "system", "tools", "instructions", "prompt", "functions")
_OUTPUT_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
_MAX_DEPTH = 32


def estimate_tokens(data: Mapping[str, Any]) -> tuple[int, int]:
    """``(input tokens, most output tokens)`` for an OpenAI, Responses or Anthropic request body."""
    chars = 0
    for name in _PROMPT_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if name == "messages" and isinstance(value, list):
            chars += _messages_chars(value)
        else:
            chars += _text_chars(value, 0)
    output = 0
    for name in _OUTPUT_FIELDS:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            output = value
            break
    return max(1, -(-chars // _CHARS_PER_TOKEN)), output


def _messages_chars(messages: list[Any]) -> int:
    # The common shape first, without recursion: {"role": ..., "content": "text"}.
    chars = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and len(message) <= 2:
            chars += len(content)
        else:
            chars += _text_chars(message, 1)
    return chars


def _text_chars(value: Any, depth: int) -> int:
    if isinstance(value, str):
        return 0 if value.startswith("data:") else len(value)
    if depth > _MAX_DEPTH:
        return 0
    if isinstance(value, list):
        return sum(_text_chars(item, depth + 1) for item in value)
    if isinstance(value, dict):
        if value.get("type") == "base64":  # Anthropic image/document source
            return 0
        return sum(_text_chars(item, depth + 1) for item in value.values())
    return 0
