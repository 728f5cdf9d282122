"""Reading and checking OpenAI-wire request bodies at the edge.

Only what routing needs is checked (the body is a JSON object, ``model`` and the operation's
required fields are present and of the right type); the rest is the upstream's to judge, and the
body is forwarded as the client sent it unless the upstream model name differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from agentgw.errors import InvalidRequest, PayloadTooLarge

__all__ = ["LLMRequest", "read_body", "parse_request"]


@dataclass(slots=True)
class LLMRequest:
    body: bytes
    data: dict[str, Any]
    model: str
    stream: bool

    def body_for(self, upstream_model: str) -> bytes:
        """The body to send upstream: the original bytes unless the model name must change."""
        if upstream_model == self.model:
            return self.body
        return orjson.dumps({**self.data, "model": upstream_model})


async def read_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes.

    Raises:
        PayloadTooLarge: the declared or actual size is over ``limit``.
        InvalidRequest: the Content-Length header is not a number.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidRequest("invalid Content-Length header") from None
        if size > limit:
            raise PayloadTooLarge(f"request body of {size} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    return bytes(body)


def parse_request(body: bytes, required: tuple[tuple[str, type | tuple[type, ...], str], ...]) -> LLMRequest:
    """Parse and check a request body; ``required`` lists (field, accepted types, type name).

    Raises:
        InvalidRequest: not JSON, not an object, or a field missing or mistyped; the message names it.
    """
    if not body:
        raise InvalidRequest("request body is empty; expected a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {_json_type(data)}")
    model = data.get("model")
    if model is None:
        raise InvalidRequest("missing required parameter: 'model'", param="model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest(f"'model' must be a non-empty string, got {_json_type(model)}", param="model")
    for field, types, name in required:
        value = data.get(field)
        if value is None:
            raise InvalidRequest(f"missing required parameter: '{field}'", param=field)
        if not isinstance(value, types) or isinstance(value, bool):
            raise InvalidRequest(f"'{field}' must be {name}, got {_json_type(value)}", param=field)
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequest(f"'stream' must be a boolean, got {_json_type(stream)}", param="stream")
    return LLMRequest(body=body, data=data, model=model, stream=stream)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
