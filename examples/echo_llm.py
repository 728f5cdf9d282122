"""A small OpenAI-compatible LLM server for the quickstart and the benchmarks: it echoes.

It speaks OpenAI's wire format (chat completions with and without streaming, embeddings, models,
error objects) so that any OpenAI client works against it, with no API key and no network.

    python examples/echo_llm.py --port 9100
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import struct
import time
import uuid
from typing import Any

import orjson
import uvicorn

Scope = dict[str, Any]
MODELS = ("echo-1",)


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/v1/models":
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "agentgw-examples"}
            for m in MODELS
        ]
        return await _json(send, 200, {"object": "list", "data": data})
    if method != "POST" or path not in ("/v1/chat/completions", "/v1/embeddings"):
        return await _error(
            send, 404, f"Unknown request URL: {method} {path}.", "invalid_request_error", "unknown_url"
        )
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        request = orjson.loads(body)
        assert isinstance(request, dict)
    except (orjson.JSONDecodeError, AssertionError):
        return await _error(
            send, 400, "We could not parse the JSON body of your request.", "invalid_request_error", None
        )
    if path == "/v1/embeddings":
        return await _embeddings(send, request)
    return await _chat(send, request)


async def _chat(send: Any, request: dict[str, Any]) -> None:
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return await _error(
            send,
            400,
            "Missing required parameter: 'messages'.",
            "invalid_request_error",
            "missing_required_parameter",
            "messages",
        )
    last = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})
    content = last.get("content", "")
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    reply = f"echo: {content}"
    prompt_tokens = sum(len(str(m.get("content", "")).split()) + 4 for m in messages if isinstance(m, dict))
    words = reply.split(" ")
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
    ident, created, model = (
        f"chatcmpl-{uuid.uuid4().hex[:24]}",
        int(time.time()),
        request.get("model", MODELS[0]),
    )
    if not request.get("stream"):
        return await _json(
            send,
            200,
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": reply,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_echo",
            },
        )
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
        }
    )

    async def event(
        delta: dict[str, Any], finish: str | None, usage_field: Any = None, choices: bool = True
    ) -> None:
        chunk: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_echo",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            if choices
            else [],
        }
        if include_usage:
            chunk["usage"] = usage_field
        await send(
            {
                "type": "http.response.body",
                "body": b"data: " + orjson.dumps(chunk) + b"\n\n",
                "more_body": True,
            }
        )

    await event({"role": "assistant", "content": "", "refusal": None}, None)
    for index, word in enumerate(words):
        await event({"content": word if index == 0 else " " + word}, None)
    await event({}, "stop")
    if include_usage:
        await event({}, None, usage, choices=False)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def _embeddings(send: Any, request: dict[str, Any]) -> None:
    inputs = request.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        return await _error(
            send,
            400,
            "Missing required parameter: 'input'.",
            "invalid_request_error",
            "missing_required_parameter",
            "input",
        )
    dimensions = int(request.get("dimensions") or 8)
    data, tokens = [], 0
    for index, text in enumerate(inputs):
        digest = hashlib.sha256(str(text).encode()).digest()
        vector = [(digest[i % len(digest)] - 128) / 128 for i in range(dimensions)]
        tokens += len(str(text).split())
        encoded: Any = vector
        if request.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    await _json(
        send,
        200,
        {
            "object": "list",
            "data": data,
            "model": request.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


async def _json(send: Any, status: int, payload: Any) -> None:
    body = orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _error(
    send: Any, status: int, message: str, kind: str, code: str | None, param: str | None = None
) -> None:
    await _json(send, status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
