"""The federation exception tree, and its one mapping to JSON-RPC.

FederationError             base of every error the MCP federation raises
├── UnknownName             no upstream offers this tool, prompt or resource (or a hook hid it)
├── Forbidden               a hook refused the caller
└── UpstreamError           something went wrong with one upstream; ``server`` names it
    ├── UpstreamUnavailable the upstream is not connected (down, restarting, never started)
    ├── UpstreamTimeout     the upstream did not answer in time
    └── UpstreamRejected    the upstream answered with a JSON-RPC error (relayed as it sent it)

The SDK's errors are translated where they enter (:mod:`federation.upstream`); :func:`to_mcp_error`
turns any of these into the ``MCPError`` the downstream SDK server puts on the wire.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, REQUEST_TIMEOUT

__all__ = [
    "FORBIDDEN",
    "RESOURCE_NOT_FOUND",
    "UPSTREAM_UNAVAILABLE",
    "FederationError",
    "Forbidden",
    "UnknownName",
    "UpstreamError",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "to_mcp_error",
]

# MCP 2025-06-18 server/resources "Error Handling": resource not found is -32002.
RESOURCE_NOT_FOUND = -32002
# Implementation-defined server errors (JSON-RPC reserves -32000..-32099); kept apart from the SDK's
# CONNECTION_CLOSED (-32000) and REQUEST_TIMEOUT (-32001) so a client can tell the gateway's own
# judgement ("that upstream is down") from a broken connection to the gateway.
UPSTREAM_UNAVAILABLE = -32010
FORBIDDEN = -32011


class FederationError(Exception):
    """Base of every error raised by :mod:`federation`."""

    code: int = INTERNAL_ERROR

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class UnknownName(FederationError):
    """No upstream offers this tool, prompt or resource (or a hook hides it from this caller)."""

    code = INVALID_PARAMS

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"Unknown {kind}: {name}")
        self.kind = kind
        self.name = name
        if kind == "resource":
            self.code = RESOURCE_NOT_FOUND
            self.data = {"uri": name}


class Forbidden(FederationError):
    """A hook refused this caller this operation."""

    code = FORBIDDEN


class UpstreamError(FederationError):
    """Something went wrong with one upstream server."""

    def __init__(self, server: str, message: str, *, data: Any = None) -> None:
        super().__init__(message, data=data)
        self.server = server


class UpstreamUnavailable(UpstreamError):
    """The upstream is not connected: down, restarting, or failed to start."""

    code = UPSTREAM_UNAVAILABLE

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(server, f"MCP server {server!r} is unavailable: {reason}", data={"server": server})
        self.reason = reason


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within its configured timeout."""

    code = REQUEST_TIMEOUT

    def __init__(self, server: str, seconds: float) -> None:
        super().__init__(
            server, f"MCP server {server!r} did not answer within {seconds:g}s", data={"server": server}
        )


class UpstreamRejected(UpstreamError):
    """The upstream answered with a JSON-RPC error; code, message and data are relayed unchanged."""

    def __init__(self, server: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(server, message, data=data)
        self.code = code


def to_mcp_error(exc: FederationError) -> MCPError:
    """The JSON-RPC error the downstream client receives for ``exc``."""
    return MCPError(code=exc.code, message=exc.message, data=exc.data)
