"""A fake Anthropic Messages API on 127.0.0.1 that reproduces Anthropic's wire format.

``POST /v1/messages`` checks ``x-api-key`` and ``anthropic-version`` and the request's shape as the
API does (``max_tokens`` required, turns alternate starting with ``user``, known block types, tool
results answering tool uses), and answers with ``msg_`` ids, content blocks, ``stop_reason``, usage
with cache tokens, ``request-id`` headers, error bodies ``{"type": "error", "error": {...}}``, and
streams as the documented event sequence: ``message_start``, ``content_block_start``, ``ping``,
``content_block_delta`` (``text_delta``/``input_json_delta``), ``content_block_stop``,
``message_delta``, ``message_stop``. The model name selects a behaviour:

- any name: echoes the last user text; with tools and "weather" in it, calls ``get_weather``
- ``...status-<code>``: Anthropic's error body for that status (401, 429 with retry-after, 500, 529)
- ``...stream-error``: a stream that sends an ``error`` event (overloaded) after its first delta
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

API_KEY = "sk-ant-upstream-secret"
VERSION = "2023-06-01"
CACHE_READ = 3
CACHE_WRITE = 2

_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_BLOCKS = {"text", "image", "tool_use", "tool_result", "document", "thinking", "redacted_thinking"}


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAnthropic:
    api_key: str = API_KEY
    requests: list[Received] = field(default_factory=list)
    token_ok: Callable[[str], bool] | None = None
    """For Vertex's rawPredict: the bearer tokens to accept."""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def _error(self, status: int, message: str) -> Response:
        body = {
            "type": "error",
            "error": {"type": _ERRORS.get(status, "api_error"), "message": message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }
        headers = {"request-id": body["request_id"]}
        if status == 429:
            headers["retry-after"] = "7"
            headers["anthropic-ratelimit-requests-remaining"] = "0"
        return Response(
            orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
        )

    async def _models(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != self.api_key:
            return self._error(401, "invalid x-api-key")
        data = [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5"}]
        return Response(orjson.dumps({"data": data, "has_more": False}), media_type="application/json")

    def _invalid(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body: must be an object"
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return f"{key}: Field required"
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            return "max_tokens: must be a positive integer"
        messages = body["messages"]
        if not messages or messages[0].get("role") != "user":
            return "messages: first message must use the user role"
        previous = None
        tool_uses: set[str] = set()
        for index, message in enumerate(messages):
            if message.get("role") not in ("user", "assistant"):
                return f"messages.{index}.role: Input should be 'user' or 'assistant'"
            if message["role"] == previous:
                return "messages: roles must alternate between user and assistant"
            previous = message["role"]
            content = message.get("content")
            if isinstance(content, str):
                continue
            for block in content:
                kind = block.get("type")
                if kind not in _BLOCKS:
                    return f"messages.{index}.content: unknown block type {kind!r}"
                if kind == "text" and not block.get("text"):
                    return f"messages.{index}.content: text content blocks must be non-empty"
                if kind == "tool_use":
                    tool_uses.add(block["id"])
                if kind == "tool_result" and block.get("tool_use_id") not in tool_uses:
                    return f"messages.{index}.content: unexpected tool_use_id {block.get('tool_use_id')!r}"
                if kind == "image" and block["source"]["type"] not in ("base64", "url"):
                    return f"messages.{index}.content: bad image source"
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            return "system: must be a string or text blocks"
        for tool in body.get("tools") or []:
            if "input_schema" not in tool or "name" not in tool:
                return "tools: each tool needs a name and an input_schema"
        return None

    async def _messages(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return self._error(400, "There was an error parsing the body")
        self.requests.append(Received(dict(request.headers), body))
        if request.headers.get("x-api-key") != self.api_key:
            return self._error(401, "invalid x-api-key")
        if request.headers.get("anthropic-version") != VERSION:
            return self._error(400, "anthropic-version: header is required")
        return self._respond(body)

    async def raw_predict(self, request: Request) -> Response:
        """Vertex AI's ``publishers/anthropic/models/{model}:rawPredict`` and ``:streamRawPredict``."""
        body = orjson.loads(await request.body())
        self.requests.append(Received(dict(request.headers), body))
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.token_ok is None or not self.token_ok(bearer):
            return self._error(401, "Request had invalid authentication credentials.")
        if body.get("anthropic_version") != "vertex-2023-10-16" or "model" in body:
            return self._error(400, "anthropic_version: vertex-2023-10-16 required; model goes in the URL")
        model, _, method = request.path_params["model_method"].partition(":")
        if (method == "streamRawPredict") != bool(body.get("stream")):
            return self._error(400, f"{method} does not match stream={body.get('stream')}")
        return self._respond({**body, "model": model})

    def _respond(self, body: dict[str, Any]) -> Response:
        problem = self._invalid(body)
        if problem is not None:
            return self._error(400, problem)
        model = str(body["model"])
        if "status-" in model:
            return self._error(int(model.rpartition("status-")[2]), f"fake error {model}")
        content, stop_reason = self._answer(body)
        input_tokens = len(orjson.dumps(body["messages"])) // 10
        usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": CACHE_WRITE,
            "cache_read_input_tokens": CACHE_READ,
            "output_tokens": 0,
        }
        ident = f"msg_{uuid.uuid4().hex[:24]}"
        headers = {"request-id": f"req_{uuid.uuid4().hex[:24]}"}
        output_tokens = sum(len(str(b.get("text", b.get("input", ""))).split()) for b in content)
        if not body.get("stream"):
            message = {
                "id": ident,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": output_tokens},
            }
            return Response(orjson.dumps(message), headers=headers, media_type="application/json")
        return StreamingResponse(
            self._events(ident, model, content, stop_reason, usage, output_tokens),
            headers=headers,
            media_type="text/event-stream; charset=utf-8",
        )

    def _answer(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        last = body["messages"][-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        results = [b for b in blocks if b["type"] == "tool_result"]
        if results:
            result = results[0]["content"]
            text = result if isinstance(result, str) else "".join(b.get("text", "") for b in result)
            return [{"type": "text", "text": f"the tool said: {text}"}], "end_turn"
        text = " ".join(b["text"] for b in blocks if b["type"] == "text")
        images = sum(1 for b in blocks if b["type"] == "image")
        if body.get("tools") and "weather" in text:
            call = {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:24]}",
                "name": body["tools"][0]["name"],
                "input": {"city": "Paris", "unit": "celsius"},
            }
            return [{"type": "text", "text": "Let me check."}, call], "tool_use"
        reply = f"echo: {text}" + (f" (+{images} image)" if images else "")
        max_tokens = body["max_tokens"]
        words = reply.split(" ")
        if len(words) > max_tokens:
            return [{"type": "text", "text": " ".join(words[:max_tokens])}], "max_tokens"
        return [{"type": "text", "text": reply}], "end_turn"

    async def _events(
        self,
        ident: str,
        model: str,
        content: list[dict[str, Any]],
        stop_reason: str,
        usage: dict[str, Any],
        output_tokens: int,
    ) -> Any:
        def event(kind: str, data: dict[str, Any]) -> bytes:
            return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"

        message = {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }
        yield event("message_start", {"message": message})
        for index, block in enumerate(content):
            if block["type"] == "text":
                yield event(
                    "content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}
                )
                if index == 0:
                    yield event("ping", {})
                for n, word in enumerate(block["text"].split(" ")):
                    piece = word if n == 0 else " " + word
                    delta = {"type": "text_delta", "text": piece}
                    yield event("content_block_delta", {"index": index, "delta": delta})
                    if model.endswith("stream-error"):
                        error = {"type": "overloaded_error", "message": "Overloaded"}
                        yield event("error", {"error": error})
                        return
                    await asyncio.sleep(0)
            else:
                start = {**block, "input": {}}
                yield event("content_block_start", {"index": index, "content_block": start})
                raw = orjson.dumps(block["input"]).decode()
                for piece in ("", raw[:10], raw[10:]):
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    yield event("content_block_delta", {"index": index, "delta": delta})
            yield event("content_block_stop", {"index": index})
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        yield event("message_delta", {"delta": delta, "usage": {"output_tokens": output_tokens}})
        yield event("message_stop", {})
