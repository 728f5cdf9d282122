"""The ``mcp:`` section: MCP servers federated behind the gateway's ``/mcp`` endpoint.

Self-contained (it imports nothing from :mod:`agentgw.config.model`, which imports it), with the
same conventions: unknown keys are errors, models are frozen, credentials are ``SecretStr``.

Each server is a local process (``command``, ``args``, ``env``, ``cwd``: stdio) or a remote
endpoint (``url``, Streamable HTTP of either era, or the legacy HTTP+SSE transport), or a REST API
whose OpenAPI spec (``openapi``) the gateway turns into tools and calls itself. The
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
    "MCPOpenAPIAuthConfig",
    "MCPOpenAPIFiltersConfig",
    "MCPOpenAPIMatchConfig",
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


class MCPOpenAPIAuthConfig(Section):
    """The secrets for one of the spec's security schemes (by its name in ``securitySchemes``)."""

    api_key: SecretStr | None = None
    """``apiKey`` schemes (header, query or cookie, as the spec says)."""
    token: SecretStr | None = None
    """``http`` ``bearer``; or a ready access token for ``oauth2``/``openIdConnect``."""
    username: str | None = None
    password: SecretStr | None = None
    """``http`` ``basic``."""
    client_id: str | None = None
    client_secret: SecretStr | None = None
    """``oauth2`` client credentials: the token is fetched from the spec's ``tokenUrl`` and cached."""
    scopes: list[str] | None = None
    """Scopes to ask for; default: those the operation's security requirement lists."""


class MCPOpenAPIMatchConfig(Section):
    """Operations to match by shell globs. In ``include``, every list that is set must match (one of
    its entries); in ``exclude``, any match excludes."""

    tags: list[str] = []
    operations: list[str] = []
    """Globs on ``operationId``."""
    paths: list[str] = []
    """Globs on the path template (``/pets/*``)."""
    methods: list[str] = []


class MCPOpenAPIFiltersConfig(Section):
    include: MCPOpenAPIMatchConfig = MCPOpenAPIMatchConfig()
    """When anything is set, only matching operations become tools."""
    exclude: MCPOpenAPIMatchConfig = MCPOpenAPIMatchConfig()
    """Matching operations never become tools."""


class MCPServerConfig(Section):
    """One upstream: ``command`` (stdio), ``url`` (HTTP) or ``openapi`` (a REST API); exactly one."""

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
    openapi: str | None = None
    """An OpenAPI 3.x or Swagger 2.0 spec (JSON or YAML): a file (relative to the config file) or an
    http(s) URL. Each operation becomes a tool that the gateway calls over HTTP itself."""
    base_url: str | None = None
    """For ``openapi``: the API's base URL, instead of the spec's ``servers``. Calls go only there."""
    server_variables: dict[str, str] = {}
    """For ``openapi``: values for the ``{variables}`` of the spec's server URL."""
    auth: dict[str, MCPOpenAPIAuthConfig] = {}
    """For ``openapi``: secrets per security scheme name. The MCP client's token is never sent."""
    strict: bool = False
    """For ``openapi``: an operation that cannot be converted fails the start instead of being skipped."""
    filters: MCPOpenAPIFiltersConfig = MCPOpenAPIFiltersConfig()
    """For ``openapi``: which operations become tools (tags, operationId and path globs, methods)."""
    names: dict[str, str] = {}
    """For ``openapi``: tool name overrides, ``operationId`` (or ``METHOD /path``) -> tool name."""
    max_response_bytes: Annotated[int, Field(gt=0)] = 10 * 1024 * 1024
    """For ``openapi``: a larger response body is an error result."""

    @field_validator("url", "base_url")
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
        if sum(target is not None for target in (self.command, self.url, self.openapi)) != 1:
            raise ValueError(
                "set either command (a stdio server) or url (an HTTP server), or openapi (a REST API's spec)"
            )
        if self.openapi is None:
            given = [key for key in _OPENAPI_KEYS if key in self.model_fields_set]
            if given:
                raise ValueError(f"{given[0]}: only for an openapi server")
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


_OPENAPI_KEYS = ("base_url", "server_variables", "auth", "strict", "filters", "names", "max_response_bytes")


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
