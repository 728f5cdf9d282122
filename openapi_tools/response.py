"""Turning an API's HTTP response into an MCP tool result.

- 2xx JSON: the JSON as text, and as ``structuredContent`` when the tool declares an
  ``outputSchema`` and the body is an object (MCP 2025-06-18 server/tools "Structured Content").
- 2xx text: text content. Any other media type: an embedded resource with the bytes as a base64
  ``blob``, so images, PDFs and archives arrive intact.
- Anything else: ``isError: true`` with the status and the start of the body (bounded: an HTML error
  page must not fill the model's context).

Bodies are read in chunks up to a cap; a larger success body is an error, not a truncated result.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import orjson
from mcp_types import BlobResourceContents, CallToolResult, EmbeddedResource, TextContent

from openapi_tools.request import is_json_media_type

__all__ = ["ResponseTooLarge", "error_result", "read_body", "tool_result"]

_EXCERPT_CHARS = 2000


class ResponseTooLarge(Exception):
    """The body went past the cap; internal to the toolset, which reports it as a tool error."""


async def read_body(response: httpx2.Response, limit: int, *, excerpt: bool = False) -> bytes:
    """The body of a streamed ``response``, at most ``limit`` bytes.

    With ``excerpt``, a longer body is cut at the limit instead.

    Raises:
        ResponseTooLarge: the body is longer than ``limit`` (and ``excerpt`` is false).
    """
    declared = response.headers.get("content-length")
    if not excerpt and declared is not None and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(f"the response ({declared} bytes) is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            if excerpt:
                chunks.append(chunk[: len(chunk) - (size - limit)])
                break
            raise ResponseTooLarge(f"the response is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def tool_result(
    status: int, reason: str, content_type: str, body: bytes, *, url: str, structured: bool
) -> CallToolResult:
    """The tool result for a response; ``structured``: the tool has an object ``outputSchema``."""
    if not 200 <= status < 300:
        return error_result(f"HTTP {status} {reason}".rstrip() + _excerpt(body))
    json_body = is_json_media_type(content_type) or (not content_type and body[:1] in (b"{", b"["))
    value: Any = None
    if json_body and body:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            json_body = False
    if structured and not isinstance(value, dict):
        # The tool promises an object (its outputSchema), and a client checks results against it: an
        # API that answers otherwise broke its own spec, which the model is told rather than the
        # client failing on a result without structuredContent.
        return error_result(
            f"HTTP {status} {reason}".rstrip()
            + " but not the JSON object the API's spec describes"
            + _excerpt(body)
        )
    if not body:
        return CallToolResult(content=[TextContent(type="text", text=f"HTTP {status} {reason}".rstrip())])
    if json_body:
        return CallToolResult(
            content=[TextContent(type="text", text=body.decode("utf-8", errors="replace"))],
            structured_content=value if structured else None,
        )
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence.startswith("text/") or essence in ("application/xml", "application/x-www-form-urlencoded"):
        return CallToolResult(content=[TextContent(type="text", text=body.decode("utf-8", errors="replace"))])
    blob = BlobResourceContents(
        uri=url, mime_type=essence or "application/octet-stream", blob=base64.b64encode(body).decode()
    )
    return CallToolResult(content=[EmbeddedResource(type="resource", resource=blob)])


def error_result(message: str) -> CallToolResult:
    """A failed call as the model sees it."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _excerpt(body: bytes) -> str:
    if not body:
        return ""
    text = body.decode("utf-8", errors="replace")
    if len(text) > _EXCERPT_CHARS:
        text = text[:_EXCERPT_CHARS] + " [...]"
    return ": " + text
