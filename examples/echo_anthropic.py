"""A small Anthropic Messages API server for examples and benchmarks: it echoes.

It speaks Anthropic's wire format (``POST /v1/messages`` with and without streaming, the documented
event sequence, error objects, ``GET /v1/models``), with no API key and no network.

    python examples/echo_anthropic.py --port 9101
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import orjson
import uvicorn

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path == "/v1/models":
        data = [{"type": "model", "id": "echo-claude", "display_name": "Echo"}]
        return await _json(send, 200, {"data": data, "has_more": False})
    if method != "POST" or path != "/v1/messages":
        return await _error(send, 404, "not_found_error", f"Not found: {method} {path}")
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
        return await _error(send, 400, "invalid_request_error", "There was an error parsing the body")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(request.get("max_tokens"), int):
        return await _error(send, 400, "invalid_request_error", "messages and max_tokens are required")
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    if isinstance(content, list):
        content = " ".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    reply = f"echo: {content}"
    words = reply.split(" ")
    usage = {"input_tokens": len(body) // 4, "output_tokens": len(words)}
    ident, model = f"msg_{uuid.uuid4().hex[:24]}", str(request.get("model", ""))
    if not request.get("stream"):
        answer = {
            "id": ident,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        return await _json(send, 200, answer)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
            ],
        }
    )
    start = {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1},
    }
    events = [
        _event("message_start", {"message": start}),
        _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for index, word in enumerate(words):
        delta = {"type": "text_delta", "text": word if index == 0 else " " + word}
        events.append(_event("content_block_delta", {"index": 0, "delta": delta}))
    events += [
        _event("content_block_stop", {"index": 0}),
        _event(
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(words)},
            },
        ),
        _event("message_stop", {}),
    ]
    for event in events:
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


async def _json(send: Any, status: int, body: Any) -> None:
    payload = orjson.dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _error(send: Any, status: int, kind: str, message: str) -> None:
    await _json(send, status, {"type": "error", "error": {"type": kind, "message": message}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", http="httptools", lifespan="on")


if __name__ == "__main__":
    main()
