"""A fake Azure OpenAI resource on 127.0.0.1 that reproduces Azure's wire format.

``/openai/deployments/{deployment}/chat/completions?api-version=...`` and ``/openai/responses``;
the ``api-key`` header or an Entra ID bearer token (one :class:`FakeEntra` issued); answers with
Azure's extra fields (``prompt_filter_results``, ``content_filter_results``), a first stream chunk
with empty ``choices`` carrying the prompt filter results, and Azure's error bodies
(``{"error": {"code", "message"}}``, ``DeploymentNotFound``, 401 for a bad key or token).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.entra_server import FakeEntra

API_KEY = "azure-key-0123456789abcdef"
API_VERSION = "2024-10-21"
_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAzureOpenAI:
    deployments: dict[str, str] = field(default_factory=lambda: {"prod-4o": "gpt-4o-2024-11-20"})
    entra: FakeEntra | None = None
    requests: list[Received] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/openai/deployments/{deployment}/chat/completions", self._chat, methods=["POST"]),
                Route("/openai/responses", self._responses, methods=["POST"]),
            ]
        )

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {"error": {"code": code, "message": message}}
        return Response(
            orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
        )

    async def _check(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        body = orjson.loads(await request.body())
        self.requests.append(Received(request.url.path, request.url.query, dict(request.headers), body))
        if request.query_params.get("api-version") != API_VERSION:
            return None, self._error(404, "404", "Resource not found")
        key = request.headers.get("api-key")
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key is not None:
            if key != API_KEY:
                return None, self._error(
                    401,
                    "401",
                    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to"
                    " provide a valid key for an active subscription and use a correct regional API"
                    " endpoint for your resource.",
                )
        elif self.entra is None or bearer not in self.entra.issued:
            return None, self._error(
                401, "PermissionDenied", "Principal does not have access to API/Operation."
            )
        return body, None

    async def _chat(self, request: Request) -> Response:
        body, error = await self._check(request)
        if error is not None:
            return error
        assert body is not None
        deployment = request.path_params["deployment"]
        model = self.deployments.get(deployment)
        if model is None:
            return self._error(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the deployment"
                " within the last 5 minutes, please wait a moment and try again.",
            )
        last = next(m for m in reversed(body["messages"]) if m["role"] in ("user", "tool"))
        reply = f"echo: {last['content']}" if last["role"] == "user" else f"the tool said: {last['content']}"
        call = None
        if body.get("tools") and last["role"] == "user" and "weather" in str(last["content"]):
            arguments = orjson.dumps({"city": "Paris", "unit": "celsius"}).decode()
            name = body["tools"][0]["function"]["name"]
            call = {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            reply = ""
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:29]}", int(time.time())
        usage = {
            "completion_tokens": len(reply.split()) or 1,
            "prompt_tokens": 9,
            "total_tokens": 9 + (len(reply.split()) or 1),
        }
        prompt_filters = [{"prompt_index": 0, "content_filter_results": _FILTERS}]
        if not body.get("stream"):
            payload = {
                "choices": [
                    {
                        "content_filter_results": _FILTERS,
                        "finish_reason": "tool_calls" if call else "stop",
                        "index": 0,
                        "logprobs": None,
                        "message": {
                            "content": reply or None,
                            "refusal": None,
                            "role": "assistant",
                            **({"tool_calls": [call]} if call else {}),
                        },
                    }
                ],
                "created": created,
                "id": ident,
                "model": model,
                "object": "chat.completion",
                "prompt_filter_results": prompt_filters,
                "system_fingerprint": "fp_azure",
                "usage": usage,
            }
            return Response(orjson.dumps(payload), media_type="application/json")

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            data = {
                "choices": [
                    {"content_filter_results": {}, "delta": delta, "finish_reason": finish, "index": 0}
                ],
                "created": created,
                "id": ident,
                "model": model,
                "object": "chat.completion.chunk",
                "system_fingerprint": "fp_azure",
            }
            return b"data: " + orjson.dumps(data) + b"\n\n"

        async def events() -> Any:
            first = {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": prompt_filters,
            }
            yield b"data: " + orjson.dumps(first) + b"\n\n"
            yield chunk({"content": "", "role": "assistant"}, None)
            for index, word in enumerate(reply.split(" ") if reply else []):
                yield chunk({"content": word if index == 0 else " " + word}, None)
            if call is not None:
                head = {**call, "index": 0, "function": {"name": call["function"]["name"], "arguments": ""}}
                yield chunk({"tool_calls": [head]}, None)
                yield chunk(
                    {"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]},
                    None,
                )
            yield chunk({}, "tool_calls" if call else "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _responses(self, request: Request) -> Response:
        body, error = await self._check(request)
        if error is not None:
            return error
        assert body is not None
        text = f"echo: {body['input']}"
        payload = {
            "id": f"resp_{uuid.uuid4().hex}",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": body["model"],
            "output": [
                {
                    "id": f"msg_{uuid.uuid4().hex}",
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": 5,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 3,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 8,
            },
        }
        return Response(orjson.dumps(payload), media_type="application/json")
