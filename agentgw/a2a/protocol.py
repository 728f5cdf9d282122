"""What the gateway must understand of an A2A request to route, authorize and account for it.

The request itself is forwarded as the client sent it; this module only classifies it: which A2A
operation (spec 1.0 section 5.3) a JSON-RPC method or an HTTP+JSON path is, under which protocol
version (section 3.6), and which task, context and skill it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from agentgw.errors import InvalidJSON, InvalidParams, InvalidRequest, MethodNotFound, VersionNotSupported

__all__ = [
    "JSONRPC_OPERATIONS",
    "STREAMING_OPERATIONS",
    "SUPPORTED_VERSIONS",
    "JsonRpcRequest",
    "RestOperation",
    "call_targets",
    "parse_jsonrpc",
    "protocol_version",
    "request_id_of",
    "rest_operation",
]

SUPPORTED_VERSIONS = ("1.0", "0.3")
"""Protocol versions (``Major.Minor``) the gateway understands, newest first."""

JSONRPC_OPERATIONS: dict[str, str] = {
    # A2A 1.0 method names are the operation names (spec 9.4).
    "SendMessage": "SendMessage",
    "SendStreamingMessage": "SendStreamingMessage",
    "GetTask": "GetTask",
    "ListTasks": "ListTasks",
    "CancelTask": "CancelTask",
    "SubscribeToTask": "SubscribeToTask",
    "CreateTaskPushNotificationConfig": "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig": "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs": "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig": "DeleteTaskPushNotificationConfig",
    "GetExtendedAgentCard": "GetExtendedAgentCard",
    # A2A 0.3 names (spec appendix A).
    "message/send": "SendMessage",
    "message/stream": "SendStreamingMessage",
    "tasks/get": "GetTask",
    "tasks/list": "ListTasks",
    "tasks/cancel": "CancelTask",
    "tasks/resubscribe": "SubscribeToTask",
    "tasks/pushNotificationConfig/set": "CreateTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/get": "GetTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/list": "ListTaskPushNotificationConfigs",
    "tasks/pushNotificationConfig/delete": "DeleteTaskPushNotificationConfig",
    "agent/getAuthenticatedExtendedCard": "GetExtendedAgentCard",
}

STREAMING_OPERATIONS = frozenset({"SendStreamingMessage", "SubscribeToTask"})

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?$")


def protocol_version(header: str | None) -> str:
    """The ``Major.Minor`` version a request asks for with its ``A2A-Version`` service parameter.

    A2A 1.0 section 3.6.2: an empty value means 0.3; the patch number is ignored.

    Raises:
        VersionNotSupported: a version the gateway does not speak, or not a version at all.
    """
    if not header or not header.strip():
        return "0.3"
    match = _VERSION.match(header.strip())
    version = f"{match.group(1)}.{match.group(2)}" if match else None
    if version not in SUPPORTED_VERSIONS:
        raise VersionNotSupported(
            f"A2A version '{header.strip()}' is not supported by the gateway;"
            f" supported: {', '.join(SUPPORTED_VERSIONS)}"
        )
    return version


@dataclass(frozen=True, slots=True)
class JsonRpcRequest:
    id: str | int | None
    method: str
    operation: str
    params: dict[str, Any]


def request_id_of(data: Any) -> str | int | None:
    """The ``id`` to answer ``data`` with, when it has a usable one (JSON-RPC 2.0 section 5)."""
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return value
    return None


def parse_jsonrpc(body: bytes) -> JsonRpcRequest:
    """Parse and check a JSON-RPC request body.

    Raises:
        InvalidJSON: the body is not JSON (-32700).
        InvalidRequest: not a JSON-RPC 2.0 request object; batches are not part of A2A (-32600).
        MethodNotFound: not an A2A method (-32601).
        InvalidParams: ``params`` is not an object (-32602).
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"request body is not valid JSON: {exc}") from None
    if isinstance(data, list):
        raise InvalidRequest("batch requests are not supported by A2A")
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON-RPC request object")
    if data.get("jsonrpc") != "2.0":
        raise InvalidRequest("'jsonrpc' must be exactly \"2.0\"")
    request_id = data.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, str | int | None):
        raise InvalidRequest("'id' must be a string, an integer or null")
    method = data.get("method")
    if not isinstance(method, str) or not method:
        raise InvalidRequest("'method' must be a non-empty string")
    operation = JSONRPC_OPERATIONS.get(method)
    if operation is None:
        raise MethodNotFound(f"method '{method}' is not an A2A method")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise InvalidParams("'params' must be an object")
    return JsonRpcRequest(request_id, method, operation, params)


@dataclass(frozen=True, slots=True)
class RestOperation:
    operation: str
    task_id: str | None


# HTTP+JSON binding, spec 11.3, after an optional tenant segment (or "v1", the 0.3 prefix).
_ID = r"(?P<id>[^/]+?)"
_REST_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(rf"^(?:[^/]+/)?{path}$"), operation)
    for method, path, operation in (
        ("POST", r"message:send", "SendMessage"),
        ("POST", r"message:stream", "SendStreamingMessage"),
        ("GET", r"tasks", "ListTasks"),
        ("POST", rf"tasks/{_ID}:cancel", "CancelTask"),
        ("POST", rf"tasks/{_ID}:subscribe", "SubscribeToTask"),
        ("GET", rf"tasks/{_ID}:subscribe", "SubscribeToTask"),
        ("POST", rf"tasks/{_ID}/pushNotificationConfigs", "CreateTaskPushNotificationConfig"),
        ("GET", rf"tasks/{_ID}/pushNotificationConfigs", "ListTaskPushNotificationConfigs"),
        ("GET", rf"tasks/{_ID}/pushNotificationConfigs/[^/]+", "GetTaskPushNotificationConfig"),
        ("DELETE", rf"tasks/{_ID}/pushNotificationConfigs/[^/]+", "DeleteTaskPushNotificationConfig"),
        ("GET", rf"tasks/{_ID}", "GetTask"),
        ("GET", r"extendedAgentCard", "GetExtendedAgentCard"),
        ("GET", r"card", "GetExtendedAgentCard"),  # 0.3: GET /v1/card
    )
)


def rest_operation(method: str, path: str) -> RestOperation:
    """The A2A operation an HTTP+JSON request is (``path`` relative to the agent, no leading ``/``).

    Raises:
        MethodNotFound: no A2A operation has this method and path.
    """
    for route_method, pattern, operation in _REST_ROUTES:
        if route_method != method:
            continue
        match = pattern.match(path)
        if match is not None:
            return RestOperation(operation, match.groupdict().get("id"))
    raise MethodNotFound(f"{method} /{path} is not an A2A HTTP+JSON operation")


def call_targets(operation: str, params: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The task id, context id and skill a JSON-RPC call names, where it names them.

    A2A has no field that selects a skill; a client (or the gateway's agent-as-tool bridge) may name
    one in the message's or the request's ``metadata`` as ``skillId``, which policy can then check.
    """
    if operation in ("SendMessage", "SendStreamingMessage"):
        message = params.get("message")
        message = message if isinstance(message, dict) else {}
        skill = _skill(params.get("metadata")) or _skill(message.get("metadata"))
        return _str(message.get("taskId")), _str(message.get("contextId")), skill
    if operation == "ListTasks":
        return None, _str(params.get("contextId")), None
    if operation == "GetExtendedAgentCard":
        return None, None, None
    return _str(params.get("taskId")) or _str(params.get("id")), None, None


def _skill(metadata: Any) -> str | None:
    return _str(metadata.get("skillId")) if isinstance(metadata, dict) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
