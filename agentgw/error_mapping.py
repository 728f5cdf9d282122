"""Internal errors -> wire forms. One function per protocol, so every route reports a failure alike.

OpenAI error JSON: ``{"error": {"message", "type", "param", "code"}}`` with the error's HTTP status.

A2A errors (spec 1.0 sections 5.4, 9.5, 11.6): in the JSON-RPC binding a JSON-RPC error object whose
``data`` is a list of ``google.rpc.ErrorInfo`` details, always with HTTP 200 as the reference server
sends it (the a2a-sdk client reads the error only from a 200); in the HTTP+JSON binding a
``google.rpc.Status`` body with the HTTP status. Failures A2A defines carry its reason in the domain
``a2a-protocol.org``; the gateway's own (unknown agent, agent unreachable) use the domain ``agentgw``.
"""

from __future__ import annotations

import logging
from typing import Literal

import orjson
from starlette.responses import Response

from agentgw.errors import GatewayError, UpstreamError, UpstreamStatus

__all__ = [
    "A2ABinding",
    "a2a_error_body",
    "a2a_error_response",
    "anthropic_error_body",
    "anthropic_error_response",
    "openai_error_body",
    "openai_error_response",
]

A2ABinding = Literal["JSONRPC", "HTTP+JSON"]

log = logging.getLogger("agentgw")


def openai_error_body(error: GatewayError) -> bytes:
    """The OpenAI error object for ``error``."""
    return orjson.dumps(
        {"error": {"message": error.message, "type": error.kind, "param": error.param, "code": error.code}}
    )


def openai_error_response(error: GatewayError) -> Response:
    """An HTTP response in OpenAI's error format.

    An upstream error status is relayed with its own status; its body is relayed as-is when it is
    already an OpenAI error object, else wrapped in one.
    """
    if isinstance(error, UpstreamStatus):
        if _is_openai_error(error.body):
            return Response(
                error.body, status_code=error.status, headers=error.headers, media_type="application/json"
            )
        excerpt = error.body[:512].decode("utf-8", errors="replace")
        body = orjson.dumps(
            {
                "error": {
                    "message": f"{error.message}: {excerpt}" if excerpt else error.message,
                    "type": "upstream_error",
                    "param": None,
                    "code": error.code,
                }
            }
        )
        return Response(body, status_code=error.status, headers=error.headers, media_type="application/json")
    return Response(
        openai_error_body(error),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


def _is_openai_error(body: bytes) -> bool:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and isinstance(data.get("error"), dict)


# error.code -> (JSON-RPC code, the A2A error reason when A2A defines the failure).
_A2A_CODES: dict[str, tuple[int, str | None]] = {
    "invalid_json": (-32700, None),
    "invalid_request": (-32600, "INVALID_REQUEST"),
    "invalid_params": (-32602, "INVALID_PARAMS"),
    "method_not_found": (-32601, "METHOD_NOT_FOUND"),
    "version_not_supported": (-32009, "VERSION_NOT_SUPPORTED"),
    # An unknown agent is an endpoint that does not exist: "method not found" in JSON-RPC terms,
    # 404 NOT_FOUND in HTTP+JSON, as A2A maps MethodNotFoundError.
    "agent_not_found": (-32601, None),
    "not_found": (-32601, None),
    # A2A defines no authorization error; the gateway's own codes, the same as /mcp's (federation's
    # Forbidden is -32011), with the reason PERMISSION_DENIED / INVALID_API_KEY in the domain agentgw.
    "permission_denied": (-32011, None),
    "invalid_api_key": (-32010, None),
    # Limits and budgets (agentgw.limits): the same code as /mcp's, reason RATE_LIMIT_EXCEEDED /
    # INSUFFICIENT_QUOTA in the domain agentgw; HTTP+JSON sends 429 RESOURCE_EXHAUSTED with Retry-After.
    "rate_limit_exceeded": (-32029, None),
    "insufficient_quota": (-32029, None),
}
_GRPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def a2a_error_body(error: GatewayError, binding: A2ABinding, request_id: str | int | None = None) -> bytes:
    """The A2A error object for ``error`` in ``binding``'s form (JSON-RPC response or google.rpc.Status)."""
    status = _a2a_status(error)
    rpc_code, a2a_reason = _A2A_CODES.get(error.code, (-32600 if status < 500 else -32603, None))
    metadata: dict[str, str] = {}
    if isinstance(error, UpstreamError):
        metadata["agent"] = error.backend
    message = error.message
    if isinstance(error, UpstreamStatus):
        metadata["status"] = str(error.status)
        excerpt = error.body[:512].decode("utf-8", errors="replace").strip()
        message = f"{message}: {excerpt}" if excerpt else message
    detail = {
        "@type": _ERROR_INFO,
        "reason": a2a_reason or error.code.upper(),
        "domain": "a2a-protocol.org" if a2a_reason else "agentgw",
        "metadata": metadata,
    }
    if binding == "JSONRPC":
        return orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": rpc_code, "message": message, "data": [detail]},
            }
        )
    grpc_status = "FAILED_PRECONDITION" if rpc_code == -32009 else _GRPC_STATUS.get(status, "INTERNAL")
    return orjson.dumps(
        {"error": {"code": status, "status": grpc_status, "message": message, "details": [detail]}}
    )


def a2a_error_response(
    error: GatewayError, binding: A2ABinding, request_id: str | int | None = None
) -> Response:
    """An HTTP response carrying :func:`a2a_error_body`: status 200 in JSON-RPC, the error's own in HTTP+JSON."""
    status = 200 if binding == "JSONRPC" else _a2a_status(error)
    return Response(
        a2a_error_body(error, binding, request_id),
        status_code=status,
        # An agent's own rate-limit headers describe the gateway's credential, not the client's.
        headers=None if isinstance(error, UpstreamStatus) else error.headers,
        media_type="application/json",
    )


def _a2a_status(error: GatewayError) -> int:
    # An agent's error status is not relayed as the client's own: a 401 from the agent means it refused
    # the gateway's credential, not the client's. The agent failed the gateway: 502.
    return 502 if isinstance(error, UpstreamStatus) else error.status


# HTTP status -> Anthropic error type (docs.anthropic.com, "Errors"); 529 is Anthropic's "overloaded".
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_body(error: GatewayError) -> bytes:
    """The Anthropic Messages error object for ``error``: ``{"type": "error", "error": {"type", "message"}}``."""
    kind = _ANTHROPIC_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
    message = error.message
    if isinstance(error, UpstreamStatus):
        excerpt = error.body[:512].decode("utf-8", errors="replace").strip()
        message = f"{message}: {excerpt}" if excerpt else message
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def anthropic_error_response(error: GatewayError) -> Response:
    """An HTTP response in Anthropic's error format; an upstream's Anthropic error body is relayed as-is."""
    if isinstance(error, UpstreamStatus) and _is_anthropic_error(error.body):
        return Response(
            error.body, status_code=error.status, headers=error.headers, media_type="application/json"
        )
    return Response(
        anthropic_error_body(error),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


def _is_anthropic_error(body: bytes) -> bool:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(data, dict) and data.get("type") == "error" and isinstance(data.get("error"), dict)
