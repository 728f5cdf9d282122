"""A streamed response, assembled for opt-in content capture (issue 9).

Only when an observer asked for content (``Exchange.capture_content``, ``telemetry.capture_content``
in the config) is every event of a stream parsed. What the events carry is put back together in the
shape of the same API's non-streamed response, so that spans record both alike
(``gen_ai.output.messages``, :mod:`agentgw.telemetry.content`):

- OpenAI chat (``/v1/chat/completions``): ``choices[i].delta.content`` pieces and
  ``delta.tool_calls`` (id, name, argument pieces) per choice, with its ``finish_reason``;
- Anthropic (``/v1/messages``): ``content_block_start``/``content_block_delta`` (text, tool input
  JSON, thinking) per block, ``message_delta``'s ``stop_reason``;
- OpenAI Responses (``/v1/responses``): the ``response`` object of ``response.completed`` (or
  ``response.incomplete``/``response.failed``), which is the whole response.

The text kept is bounded: past :data:`LIMIT` characters per piece the rest is dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["LIMIT", "StreamContent"]

LIMIT = 1_000_000
_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class _Text:
    """Pieces of one text, bounded by :data:`LIMIT`."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, piece: object) -> None:
        if isinstance(piece, str) and self.size < LIMIT:
            self.parts.append(piece[: LIMIT - self.size])
            self.size += len(piece)

    def text(self) -> str:
        return "".join(self.parts)


class StreamContent:
    """Fed the raw SSE bytes of a stream from the API at ``route``, chunk by chunk."""

    __slots__ = ("_blocks", "_calls", "_choices", "_final", "_message", "_pending", "_route")

    def __init__(self, route: str = "/v1/chat/completions") -> None:
        self._route = route
        self._pending = b""
        # OpenAI chat: per choice, its text and finish reason; per (choice, index) a tool call.
        self._choices: dict[int, tuple[_Text, list[str | None]]] = {}
        self._calls: dict[tuple[int, int], tuple[dict[str, Any], _Text]] = {}
        # Anthropic: the message's fields, and per content block its head and text.
        self._message: dict[str, Any] = {"type": "message", "role": "assistant", "stop_reason": None}
        self._blocks: dict[int, tuple[dict[str, Any], _Text]] = {}
        # Responses: the final response object.
        self._final: dict[str, Any] | None = None

    def feed(self, data: bytes) -> None:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()  # an event line not complete yet
        if len(self._pending) > LIMIT:
            self._pending = b""
        for line in lines:
            if line.startswith(b"data:"):
                self._event(line[5:].strip())

    def completion(self) -> dict[str, Any]:
        """What was received, in the shape of the API's non-streamed response."""
        if self._route == "/v1/messages":
            return self._anthropic()
        if self._route == "/v1/responses":
            return self._final if self._final is not None else {"output": []}
        return self._chat()

    def _event(self, payload: bytes) -> None:
        if not payload or payload == b"[DONE]":
            return
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if self._route == "/v1/messages":
            self._anthropic_event(event)
        elif self._route == "/v1/responses":
            if event.get("type") in _FINAL_RESPONSE_EVENTS and isinstance(event.get("response"), dict):
                self._final = event["response"]
        else:
            self._chat_event(event)

    # -- OpenAI chat ---------------------------------------------------------------------------------

    def _chat_event(self, event: dict[str, Any]) -> None:
        choices = event.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            if not isinstance(index, int):
                continue
            text, reason = self._choices.setdefault(index, (_Text(), [None]))
            delta = choice.get("delta")
            if isinstance(delta, dict):
                text.add(delta.get("content"))
                calls = delta.get("tool_calls")
                if isinstance(calls, list):
                    for call in calls:
                        if isinstance(call, dict):
                            self._tool_call_delta(index, call)
            if isinstance(choice.get("finish_reason"), str):
                reason[0] = choice["finish_reason"]

    def _tool_call_delta(self, choice: int, call: dict[str, Any]) -> None:
        position = call.get("index", 0)
        if not isinstance(position, int):
            return
        head, arguments = self._calls.setdefault(
            (choice, position), ({"id": None, "type": "function", "function": {"name": None}}, _Text())
        )
        if isinstance(call.get("id"), str):
            head["id"] = call["id"]
        function = call.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str):
                head["function"]["name"] = function["name"]
            arguments.add(function.get("arguments"))

    def _chat(self) -> dict[str, Any]:
        choices = []
        for index, (text, reason) in sorted(self._choices.items()):
            message: dict[str, Any] = {"role": "assistant", "content": text.text()}
            calls = [
                {**head, "function": {**head["function"], "arguments": arguments.text()}}
                for (choice, _), (head, arguments) in sorted(self._calls.items())
                if choice == index
            ]
            if calls:
                message["tool_calls"] = calls
            choices.append({"index": index, "message": message, "finish_reason": reason[0]})
        return {"choices": choices}

    # -- Anthropic -----------------------------------------------------------------------------------

    def _anthropic_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_start":
            index, block = event.get("index"), event.get("content_block")
            if isinstance(index, int) and isinstance(block, dict):
                text = _Text()
                text.add(block.get("text") or block.get("thinking"))
                self._blocks[index] = (dict(block), text)
        elif kind == "content_block_delta":
            index, delta = event.get("index"), event.get("delta")
            if isinstance(index, int) and isinstance(delta, dict) and index in self._blocks:
                _, text = self._blocks[index]
                text.add(delta.get("text") or delta.get("partial_json") or delta.get("thinking"))
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict) and isinstance(message.get("role"), str):
                self._message["role"] = message["role"]
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self._message["stop_reason"] = delta["stop_reason"]

    def _anthropic(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        for _, (block, text) in sorted(self._blocks.items()):
            kind = block.get("type")
            if kind == "text":
                content.append({"type": "text", "text": text.text()})
            elif kind == "thinking":
                content.append({"type": "thinking", "thinking": text.text()})
            elif kind == "tool_use":
                try:
                    arguments = orjson.loads(text.text()) if text.parts else block.get("input", {})
                except orjson.JSONDecodeError:  # cut short: the JSON as far as it came
                    arguments = text.text()
                content.append(
                    {"type": "tool_use", "id": block.get("id"), "name": block.get("name"), "input": arguments}
                )
            else:
                content.append({"type": kind})
        return {**self._message, "content": content}
