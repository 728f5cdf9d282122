"""The agentgw exception tree.

Every failure the gateway reports derives from :class:`GatewayError`. Each class carries the HTTP
status and the machine-readable code it is reported with; :mod:`agentgw.error_mapping` turns one into
each protocol's wire form (OpenAI error JSON today; JSON-RPC and A2A errors use the same tree).
Errors from other libraries (httpx2, pydantic, yaml) are translated into this tree where they enter.

    GatewayError
    ├── ConfigError                 the configuration file is invalid (carries every issue)
    ├── LaunchError                 a process the config launches did not start or listen
    ├── ClientError                 the request is at fault (4xx)
    │   ├── InvalidRequest          400: malformed JSON, missing or mistyped field
    │   │   ├── InvalidJSON         400: the body is not JSON (JSON-RPC -32700)
    │   │   └── InvalidParams       400: JSON-RPC params of the wrong shape (-32602)
    │   ├── VersionNotSupported     400: a protocol version the gateway does not speak (A2A -32009)
    │   ├── AuthenticationFailed    401: missing, malformed, expired or unknown credentials
    │   ├── PermissionDenied        403: the principal may not use this model, tool, agent...
    │   ├── ModelNotFound           404: no configured model of that name
    │   ├── NotFound                404: no such route
    │   │   ├── AgentNotFound       404: no configured A2A agent of that name
    │   │   └── MethodNotFound      404: no such JSON-RPC method or A2A operation (-32601)
    │   └── PayloadTooLarge         413: body over server.max_request_bytes
    └── UpstreamError               the upstream failed us (5xx, or its own status relayed)
        ├── UpstreamUnreachable     502: connect or protocol failure
        ├── UpstreamTimeout         504: connect/read/total timeout
        └── UpstreamStatus          the upstream answered 4xx/5xx; relayed with its status
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "AgentNotFound",
    "AuthenticationFailed",
    "ClientError",
    "ConfigError",
    "ConfigIssue",
    "GatewayError",
    "InvalidJSON",
    "InvalidParams",
    "InvalidRequest",
    "LaunchError",
    "MethodNotFound",
    "ModelNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "UpstreamError",
    "UpstreamStatus",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "VersionNotSupported",
]


class GatewayError(Exception):
    """Base of every error agentgw raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    kind: str = "server_error"
    headers: Mapping[str, str] = MappingProxyType({})
    """Headers the HTTP error response carries (a 429's ``Retry-After`` and ``x-ratelimit-*``)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file, at a key path such as ``llm.models[1].targets[0]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(GatewayError):
    """The configuration is invalid; ``issues`` lists every problem found, each with its key path."""

    code = "invalid_config"

    def __init__(self, issues: Sequence[ConfigIssue], *, source: str | None = None) -> None:
        self.issues = tuple(issues)
        self.source = source
        head = f"invalid configuration {source}" if source else "invalid configuration"
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues))


class LaunchError(GatewayError):
    code = "launch_failed"


class ClientError(GatewayError):
    status = 400
    code = "invalid_request"
    kind = "invalid_request_error"


class InvalidRequest(ClientError):
    code = "invalid_request"


class ModelNotFound(ClientError):
    status = 404
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model '{model}' does not exist or you do not have access to it.", param="model"
        )
        self.model = model


class NotFound(ClientError):
    status = 404
    code = "not_found"


class InvalidJSON(InvalidRequest):
    code = "invalid_json"


class InvalidParams(InvalidRequest):
    code = "invalid_params"


class VersionNotSupported(ClientError):
    code = "version_not_supported"


class AgentNotFound(NotFound):
    code = "agent_not_found"

    def __init__(self, agent: str) -> None:
        super().__init__(f"no agent named '{agent}' is configured")
        self.agent = agent


class MethodNotFound(NotFound):
    code = "method_not_found"


class AuthenticationFailed(ClientError):
    """The request carries no usable credential.

    The message is the same whatever went wrong (missing, expired, wrong audience, unknown key), so a
    client learns nothing that helps guess a credential; ``reason`` says what, for the audit log only.
    """

    status = 401
    code = "invalid_api_key"

    def __init__(self, reason: str, *, method: str | None = None) -> None:
        super().__init__("Invalid or missing credentials.")
        self.reason = reason
        self.method = method


class PermissionDenied(ClientError):
    """The principal is authenticated but no rule lets it use the resource (or a rule denies it)."""

    status = 403
    code = "permission_denied"

    def __init__(self, kind: str, name: str, *, param: str | None = None) -> None:
        singular = _SINGULAR.get(kind, kind)
        super().__init__(f"You do not have permission to use the {singular} '{name}'.", param=param)
        self.resource_kind = kind
        self.resource = name


_SINGULAR = {
    "models": "model",
    "tools": "tool",
    "prompts": "prompt",
    "resources": "resource",
    "agents": "agent",
}


class PayloadTooLarge(ClientError):
    status = 413
    code = "request_too_large"


class UpstreamError(GatewayError):
    status = 502
    code = "upstream_error"
    kind = "upstream_error"

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


class UpstreamUnreachable(UpstreamError):
    code = "upstream_unreachable"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"
    kind = "timeout"


class UpstreamStatus(UpstreamError):
    """The upstream answered with an error status; ``body`` is its (bounded) error body, relayed as-is
    when it is already an OpenAI error object."""

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        backend: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"upstream '{backend}' answered HTTP {status}", backend=backend)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        """Headers worth relaying to the client: ``retry-after`` and the ``x-ratelimit-*`` family."""
        self.code = "upstream_status"
