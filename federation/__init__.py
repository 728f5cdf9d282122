"""MCP federation: many MCP servers behind one MCP endpoint.

Independent of :mod:`agentgw` (policy reaches it through the :class:`FederationHooks` ``Protocol``)
and of :mod:`openapi_tools`. Built on the ``mcp`` SDK: its ``Client`` for upstreams (stdio,
Streamable HTTP of either era, HTTP+SSE), its low-level ``Server`` and transports downstream.
"""

from federation.catalog import Catalog, Collision, Listing, Route
from federation.errors import (
    FederationError,
    Forbidden,
    UnknownName,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from federation.federation import Federation, UpstreamStatus
from federation.hooks import Call, Caller, CallOutcome, ClientRequest, FederationHooks, NoHooks
from federation.spec import (
    FailureMode,
    HttpTarget,
    NamingPolicy,
    PrefixMode,
    StdioTarget,
    Target,
    UpstreamSpec,
    UpstreamTimeouts,
    VirtualServer,
)
from federation.toolset import LocalToolset

__all__ = [
    "Call",
    "CallOutcome",
    "Caller",
    "ClientRequest",
    "Catalog",
    "Collision",
    "FailureMode",
    "Federation",
    "FederationError",
    "FederationHooks",
    "Forbidden",
    "HttpTarget",
    "Listing",
    "LocalToolset",
    "NamingPolicy",
    "NoHooks",
    "PrefixMode",
    "Route",
    "StdioTarget",
    "Target",
    "UnknownName",
    "UpstreamError",
    "UpstreamRejected",
    "UpstreamSpec",
    "UpstreamStatus",
    "UpstreamTimeout",
    "UpstreamTimeouts",
    "UpstreamUnavailable",
    "VirtualServer",
]
