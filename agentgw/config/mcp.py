"""The ``mcp:`` section: MCP servers federated behind the gateway's ``/mcp`` endpoint.

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the
same conventions: unknown keys are errors, models are frozen, credentials are ``SecretStr``.

Each server is a local process (``command``, ``args``, ``env``, ``cwd``: stdio) or a remote
endpoint (``url``, Streamable HTTP of either era, or the legacy HTTP+SSE transport). The
``mcpServers`` map that Claude Desktop, Cursor and VS Code write can be pasted in as it is:
``mcp: {mcpServers: {...}}`` (YAML accepts the JSON unchanged); its entries join ``servers``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from agentgw.config._fields import PositiveSeconds, Section, checked_headers

__all__ = [
    "MCPConfig",
    "MCPServerConfig",
    "MCPTimeoutsConfig",
    "MCPToolFilterConfig",
    "MCPVirtualServerConfig",
]

# A server's name prefixes its tool names, so it keeps to the characters MCP allows in a tool name
# (2025-11-25 server/tools "Tool names": A-Z a-z 0-9 _ - .).
_SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")


class MCPTimeoutsConfig(Section):
    connect: PositiveSeconds = 10.0
    """Longest wait to connect (or start the process) and complete the handshake."""
    call: PositiveSeconds = 60.0
    """Longest wait for the answer to one request: a tool call, a read, one page of a list."""


class MCPToolFilterConfig(Section):
    include: list[str] = []
    """Globs on the server's own tool names; when set, only matching tools are exposed."""
    exclude: list[str] = []
    """Globs on the server's own tool names; matching tools are never exposed."""


class MCPServerConfig(Section):
    """One upstream MCP server: ``command`` (stdio) or ``url`` (HTTP), not both."""

    command: str | None = None
    """Executable of a stdio server; ``python``/``python3`` mean the gateway's own interpreter."""
    args: list[str] = []
    env: dict[str, SecretStr] = {}
    """Added to a small default environment (PATH, HOME, ...): the gateway's own is not inherited."""
    cwd: str | None = None
    """Working directory; relative paths are relative to the config file. Default: the config's folder."""
    url: str | None = None
    transport: Literal["streamable-http", "sse"] | None = None
    """For ``url``: default ``sse`` when the URL's path ends in ``/sse``, else ``streamable-http``."""
    type: Literal["stdio", "http", "streamable-http", "sse"] | None = None
    """The ``mcpServers`` spelling (VS Code, Claude Code): ``http``/``streamable-http``/``sse``/``stdio``."""
    headers: dict[str, SecretStr] = {}
    """Sent to an HTTP server on every request (its credentials). Never the client's."""
    protocol: Literal["auto", "legacy"] = "auto"
    """``auto``: 2026-07-28 when the server speaks it, else the ``initialize`` handshake. ``legacy``:
    always the handshake."""
    prefix: str | None = None
    """The name used in prefixes (default: the server's key)."""
    failure_mode: Literal["open", "closed"] | None = None
    """Default: ``mcp.failure_mode``."""
    tools: MCPToolFilterConfig = MCPToolFilterConfig()
    timeouts: MCPTimeoutsConfig = MCPTimeoutsConfig()
    disabled: bool = False
    """As in ``mcpServers``: a disabled server is not started."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return checked_headers(value)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not _SERVER_NAME.match(value):
            raise ValueError("must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> MCPServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either command (a stdio server) or url (an HTTP server)")
        if self.command is not None and self.type not in (None, "stdio"):
            raise ValueError(f"type {self.type!r} needs a url, not a command")
        if self.url is not None:
            if self.type == "stdio":
                raise ValueError("type 'stdio' needs a command, not a url")
            if self.type == "sse" and self.transport == "streamable-http":
                raise ValueError("type 'sse' contradicts transport 'streamable-http'")
        return self

    @property
    def http_transport(self) -> Literal["streamable-http", "sse"]:
        if self.transport is not None:
            return self.transport
        if self.type == "sse":
            return "sse"
        if self.type in ("http", "streamable-http"):
            return "streamable-http"
        path = re.sub(r"^https?://[^/]+", "", self.url or "").split("?")[0].rstrip("/")
        return "sse" if path.endswith("/sse") else "streamable-http"


class MCPVirtualServerConfig(Section):
    """A named subset of the servers and tools, served at ``/mcp/{name}``."""

    servers: list[str] = []
    """Server names included (empty: all)."""
    tools: list[str] = []
    """Globs on the tool names ``/mcp`` shows (prefixes included); when set, only matching tools."""


class MCPConfig(Section):
    prefix: Literal["conditional", "always", "never"] = "conditional"
    """``<server><separator><tool>`` names: ``conditional`` when more than one server is configured."""
    separator: Annotated[str, Field(min_length=1, max_length=3, pattern=r"^[A-Za-z0-9_.-]+$")] = "_"
    failure_mode: Literal["open", "closed"] = "open"
    """``open``: a server that is down leaves the others usable. ``closed``: while one is down, the
    endpoint refuses lists and calls with an error naming it."""
    allowed_origins: list[str] = []
    """Browser origins allowed on ``/mcp`` besides the gateway's own (``http://localhost:*`` form)."""
    allowed_hosts: list[str] | None = None
    """``Host`` values accepted on ``/mcp`` (``name:*`` allows any port). Default: when the gateway
    listens on a loopback address, only loopback names (DNS rebinding protection); otherwise any."""
    session_idle_timeout_s: PositiveSeconds = 1800.0
    """A handshake-era session with no request for this long is closed."""
    servers: dict[str, MCPServerConfig] = {}
    mcp_servers: Annotated[dict[str, MCPServerConfig], Field(validation_alias="mcpServers")] = {}
    """Claude Desktop's / Cursor's / VS Code's ``mcpServers`` map, as those tools write it."""
    virtual_servers: dict[str, MCPVirtualServerConfig] = {}

    @field_validator("servers", "mcp_servers", "virtual_servers")
    @classmethod
    def _server_names(cls, value: dict[str, MCPServerConfig]) -> dict[str, MCPServerConfig]:
        for name in value:
            if not _SERVER_NAME.match(name):
                raise ValueError(
                    f"server name {name!r} must be 1-64 letters, digits, '_', '.' or '-',"
                    " starting with a letter or digit"
                )
        return value

    @model_validator(mode="after")
    def _distinct_names(self) -> MCPConfig:
        both = sorted(set(self.servers) & set(self.mcp_servers))
        if both:
            raise ValueError(f"servers configured twice (in servers and mcpServers): {', '.join(both)}")
        prefixes: dict[str, str] = {}
        for name, server in self.all_servers.items():
            prefix = server.prefix or name
            if prefix in prefixes:
                raise ValueError(f"servers {prefixes[prefix]!r} and {name!r} have the same prefix {prefix!r}")
            prefixes[prefix] = name
        known = set(self.all_servers)
        for name, view in self.virtual_servers.items():
            unknown = [s for s in view.servers if s not in known]
            if unknown:
                raise ValueError(f"virtual server {name!r} names unknown servers: {', '.join(unknown)}")
        return self

    @property
    def all_servers(self) -> dict[str, MCPServerConfig]:
        """Every enabled server, ``servers`` first, then ``mcpServers`` (the order decides collisions)."""
        merged = {**self.servers, **self.mcp_servers}
        return {name: server for name, server in merged.items() if not server.disabled}
