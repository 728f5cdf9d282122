"""A streamed chat completion's text, assembled for opt-in content capture (issue 9).

Only when an observer asked for content (``Exchange.capture_content``, ``telemetry.capture_content``
in the config) is every event of an OpenAI chat stream parsed: ``choices[i].delta.content`` pieces
are joined per choice, with the choice's ``finish_reason``. The result has the shape of a
non-streamed completion, so spans record both alike (``gen_ai.output.messages``). The text kept is
bounded: past :data:`LIMIT` characters per choice the rest is dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["LIMIT", "StreamContent"]

LIMIT = 1_000_000


class StreamContent:
    """Fed the raw SSE bytes of a chat completion stream, chunk by chunk."""

    __slots__ = ("_choices", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._choices: dict[int, tuple[list[str], list[int], list[str | None]]] = {}

    def feed(self, data: bytes) -> None:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()  # an event line not complete yet
        if len(self._pending) > LIMIT:
            self._pending = b""
        for line in lines:
            if line.startswith(b"data:"):
                self._event(line[5:].strip())

    def completion(self) -> dict[str, Any]:
        """What was received, as a non-streamed chat completion's ``choices``."""
        return {
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": "".join(parts)},
                    "finish_reason": reason[0],
                }
                for index, (parts, _, reason) in sorted(self._choices.items())
            ]
        }

    def _event(self, payload: bytes) -> None:
        if not payload or payload == b"[DONE]":
            return
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        choices = event.get("choices") if isinstance(event, dict) else None
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            if not isinstance(index, int):
                continue
            parts, size, reason = self._choices.setdefault(index, ([], [0], [None]))
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and size[0] < LIMIT:
                parts.append(text[: LIMIT - size[0]])
                size[0] += len(text)
            if isinstance(choice.get("finish_reason"), str):
                reason[0] = choice["finish_reason"]
