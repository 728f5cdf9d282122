"""A fake OpenAI API on 127.0.0.1 that reproduces OpenAI's wire format.

Ids (``chatcmpl-``), ``object`` fields, SSE framing with ``data: [DONE]``, usage (only in the final
chunk when ``stream_options.include_usage`` is set), base64 embeddings (the SDK's default), error
bodies and headers as OpenAI sends them. The upstream model name selects a behaviour:

- any name: a normal answer echoing the last user message; with ``tools`` and "weather" in that
  message, a call of the first tool; after a ``tool`` message, "the tool said: ..."
- ``status-<code>``: OpenAI's error body for that status (401, 404, 429, 500, 503)
- ``html-502``: a 502 with an HTML body, as a load balancer in front of a provider sends
- ``slow``: waits ``slow_s`` before the response headers
- ``slow-stream``: streams ``slow_stream_chunks`` chunks 50 ms apart; records when the client goes away
- ``broken-stream``: streams two chunks, then drops the connection
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

API_KEY = "sk-upstream-secret"

_ERRORS: dict[int, tuple[str, str, str | None]] = {
    401: (
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        "Rate limit reached for requests. Limit: 3, Used: 3, Requested: 1. Please try again in 20s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    api_key: str = API_KEY
    slow_s: float = 2.0
    slow_stream_chunks: int = 400
    requests: list[Received] = field(default_factory=list)
    stream_disconnected: threading.Event = field(default_factory=threading.Event)
    slow_stream_chunks_sent: int = 0
    token_ok: Callable[[str], bool] | None = None
    """Accept bearer tokens this says are valid, instead of ``api_key``."""
    fail_next: int = 0
    """The next this many chat requests get ``fail_status`` (whatever their model)."""
    fail_status: int = 503
    retry_after: str = "20"
    usage_reported: list[dict[str, Any]] = field(default_factory=list)
    """Every chat ``usage`` object sent (in a body, or a stream's usage chunk), for accounting tests."""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/responses", self._responses, methods=["POST"]),
            ]
        )

    # -- helpers ---------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "x-request-id": f"req_{uuid.uuid4().hex}",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "12",
            "openai-organization": "user-fake",
        }

    def _error(self, status: int) -> Response:
        message, kind, code = _ERRORS.get(status, ("error", "server_error", None))
        headers = self._headers()
        if status == 429:
            headers.update(
                {
                    "retry-after": self.retry_after,
                    "x-ratelimit-limit-requests": "3",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": "20s",
                }
            )
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return Response(
            orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
        )

    async def _receive(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None, self._error(400)
        self.requests.append(Received(request.url.path, dict(request.headers), body))
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.token_ok is not None:
            if not self.token_ok(bearer):
                return None, self._error(401)
        elif bearer != self.api_key:
            return None, self._error(401)
        return body, None

    # -- routes ----------------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401)
        data = [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")

    async def chat(self, request: Request) -> Response:
        """The chat completions endpoint, for fakes that serve it under another path (Vertex)."""
        return await self._chat(request)

    async def _chat(self, request: Request) -> Response:
        body, error = await self._receive(request)
        if error is not None:
            return error
        assert body is not None
        model = str(body["model"])
        if self.fail_next > 0:
            self.fail_next -= 1
            return self._error(self.fail_status)
        if model.startswith("status-"):
            return self._error(int(model.removeprefix("status-")))
        if model == "html-502":
            return Response(
                b"<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=502, media_type="text/html"
            )
        if model == "slow":
            await asyncio.sleep(self.slow_s)
        last = next(m for m in reversed(body["messages"]) if m["role"] in ("user", "tool"))
        reply = f"echo: {last['content']}"
        tool_call = None
        if last["role"] == "tool":
            reply = f"the tool said: {last['content']}"
        elif body.get("tools") and "weather" in str(last["content"]):
            function = body["tools"][0]["function"]
            arguments = orjson.dumps({"city": "Paris", "unit": "celsius"}).decode()
            tool_call = {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": function["name"], "arguments": arguments},
            }
            reply = ""
        words = reply.split(" ") if reply else []
        prompt_tokens = sum(len(str(m.get("content")).split()) + 3 for m in body["messages"]) + 3
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:29]}", int(time.time())
        if not body.get("stream"):
            self.usage_reported.append(usage)
            payload = {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": reply or None,
                            "refusal": None,
                            "annotations": [],
                            **({"tool_calls": [tool_call]} if tool_call else {}),
                        },
                        "logprobs": None,
                        "finish_reason": "tool_calls" if tool_call else "stop",
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            }
            return Response(orjson.dumps(payload), headers=self._headers(), media_type="application/json")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if model == "slow-stream":
            words = [f"w{i}" for i in range(self.slow_stream_chunks)]

        def chunk(
            delta: dict[str, Any], finish: str | None, with_choice: bool = True, usage_value: Any = None
        ) -> bytes:
            data: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
                if with_choice
                else [],
            }
            if include_usage:
                data["usage"] = usage_value
            return b"data: " + orjson.dumps(data) + b"\n\n"

        async def events() -> Any:
            try:
                yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
                for index, word in enumerate(words):
                    if model == "broken-stream" and index == 2:
                        raise ConnectionAbortedError("fake upstream drops the connection")
                    if model == "slow-stream":
                        await asyncio.sleep(0.05)
                        self.slow_stream_chunks_sent += 1
                    yield chunk({"content": word if index == 0 else " " + word}, None)
                if tool_call is not None:
                    function = tool_call["function"]
                    head = {**tool_call, "index": 0, "function": {"name": function["name"], "arguments": ""}}
                    yield chunk({"tool_calls": [head]}, None)
                    arguments = function["arguments"]
                    for piece in (arguments[:8], arguments[8:]):
                        yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, None)
                yield chunk({}, "tool_calls" if tool_call else "stop")
                if include_usage:
                    self.usage_reported.append(usage)
                    yield chunk({}, None, with_choice=False, usage_value=usage)
                yield b"data: [DONE]\n\n"
            except asyncio.CancelledError:
                self.stream_disconnected.set()
                raise

        return StreamingResponse(
            events(), headers=self._headers(), media_type="text/event-stream; charset=utf-8"
        )

    async def _responses(self, request: Request) -> Response:
        """The Responses API: a response object, or its typed SSE events when streamed."""
        body, error = await self._receive(request)
        if error is not None:
            return error
        assert body is not None
        text = body["input"] if isinstance(body["input"], str) else str(body["input"][-1]["content"])
        words = f"echo: {text}".split(" ")
        ident, item, created = f"resp_{uuid.uuid4().hex}", f"msg_{uuid.uuid4().hex}", int(time.time())
        usage = {
            "input_tokens": len(text.split()) + 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": len(words),
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": len(text.split()) + 3 + len(words),
        }

        def response(status: str, output: list[Any], usage_value: Any) -> dict[str, Any]:
            return {
                "id": ident,
                "object": "response",
                "created_at": created,
                "status": status,
                "error": None,
                "incomplete_details": None,
                "instructions": None,
                "model": body["model"],
                "output": output,
                "parallel_tool_calls": True,
                "temperature": 1.0,
                "tool_choice": "auto",
                "tools": [],
                "top_p": 1.0,
                "usage": usage_value,
                "metadata": {},
            }

        message = {
            "type": "message",
            "id": item,
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": " ".join(words), "annotations": []}],
        }
        if not body.get("stream"):
            payload = response("completed", [message], usage)
            return Response(orjson.dumps(payload), headers=self._headers(), media_type="application/json")

        def event(kind: str, number: int, **fields: Any) -> bytes:
            data = orjson.dumps({"type": kind, "sequence_number": number, **fields})
            return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

        async def events() -> Any:
            # The documented sequence: the item and its content part are announced before their deltas.
            number = iter(range(1_000_000))
            part = {"type": "output_text", "text": "", "annotations": []}
            yield event("response.created", next(number), response=response("in_progress", [], None))
            yield event("response.in_progress", next(number), response=response("in_progress", [], None))
            added = {**message, "status": "in_progress", "content": []}
            yield event("response.output_item.added", next(number), output_index=0, item=added)
            yield event(
                "response.content_part.added",
                next(number),
                item_id=item,
                output_index=0,
                content_index=0,
                part=part,
            )
            for index, word in enumerate(words):
                delta = word if index == 0 else " " + word
                yield event(
                    "response.output_text.delta",
                    next(number),
                    item_id=item,
                    output_index=0,
                    content_index=0,
                    delta=delta,
                    logprobs=[],
                )
            text = " ".join(words)
            yield event(
                "response.output_text.done",
                next(number),
                item_id=item,
                output_index=0,
                content_index=0,
                text=text,
                logprobs=[],
            )
            yield event(
                "response.content_part.done",
                next(number),
                item_id=item,
                output_index=0,
                content_index=0,
                part={**part, "text": text},
            )
            yield event("response.output_item.done", next(number), output_index=0, item=message)
            yield event("response.completed", next(number), response=response("completed", [message], usage))

        return StreamingResponse(
            events(), headers=self._headers(), media_type="text/event-stream; charset=utf-8"
        )

    async def _embeddings(self, request: Request) -> Response:
        body, error = await self._receive(request)
        if error is not None:
            return error
        assert body is not None
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or 4)
        data = []
        for index, text in enumerate(inputs):
            vector = [float(len(str(text)) + i) for i in range(dims)]
            value: Any = vector
            if body.get("encoding_format") == "base64":
                value = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(len(str(t).split()) for t in inputs)
        payload = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(orjson.dumps(payload), headers=self._headers(), media_type="application/json")
