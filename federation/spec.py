"""What federation is told about each upstream: frozen dataclasses, built by the embedding app.

:mod:`agentgw` validates its YAML with pydantic and hands these over; federation itself never reads
a config file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "FailureMode",
    "HttpTarget",
    "NamingPolicy",
    "PrefixMode",
    "StdioTarget",
    "Target",
    "UpstreamSpec",
    "UpstreamTimeouts",
    "VirtualServer",
]

PrefixMode = Literal["conditional", "always", "never"]
FailureMode = Literal["open", "closed"]


@dataclass(frozen=True, slots=True)
class StdioTarget:
    """A local MCP server the gateway starts, supervises and talks to over stdin/stdout."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """A remote MCP server over Streamable HTTP (either era) or the 2024-11-05 HTTP+SSE transport."""

    url: str
    transport: Literal["streamable-http", "sse"] = "streamable-http"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Sent on every request (credentials included): never logged."""


Target = StdioTarget | HttpTarget


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    connect: float = 10.0
    """Longest wait for a connection and the protocol handshake."""
    call: float = 60.0
    """Longest wait for the answer to one request (tools/call, resources/read, a list page)."""


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    name: str
    target: Target
    mode: Literal["auto", "legacy"] = "auto"
    """``auto`` probes ``server/discover`` and falls back to ``initialize``; ``legacy`` always
    uses the handshake (needed for server-to-client requests such as elicitation)."""
    timeouts: UpstreamTimeouts = UpstreamTimeouts()
    include_tools: tuple[str, ...] = ()
    """Globs (``fnmatch``) on the upstream's own tool names; empty means all."""
    exclude_tools: tuple[str, ...] = ()
    failure_mode: FailureMode = "open"
    """``open``: while this upstream is down the others stay usable and its entries are absent.
    ``closed``: while it is down, lists fail with an error naming it (the catalog is incomplete)."""
    prefix: str | None = None
    """Overrides the name used in prefixes (default: ``name``)."""
    restart_backoff: tuple[float, float] = (0.5, 30.0)
    """First and largest delay between reconnection attempts (doubling in between)."""
    ping_interval: float | None = 15.0
    """Seconds between liveness pings on a handshake-era HTTP connection (None: none). A 2026-07-28
    connection notices a server that went away by its ``subscriptions/listen`` stream, stdio by the
    process exiting."""


@dataclass(frozen=True, slots=True)
class NamingPolicy:
    """How upstream names become downstream names (``<server><separator><name>``)."""

    mode: PrefixMode = "conditional"
    """``conditional``: prefix only when more than one server is federated."""
    separator: str = "_"


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """A named subset of the federation, served at its own path (``/mcp/{name}``)."""

    name: str
    servers: tuple[str, ...] = ()
    """Upstreams included (empty: all)."""
    tools: tuple[str, ...] = ()
    """Globs (``fnmatch``) on downstream tool names; when set, only matching tools are shown."""
