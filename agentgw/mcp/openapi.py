"""``openapi`` servers of the ``mcp:`` section: REST APIs served on ``/mcp`` as tools (issue 5).

Each becomes an :class:`OpenAPIServer`, a :class:`federation.LocalToolset`. The federation is built
when the gateway is made, but a spec may be large (GitHub's is 13 MB) or behind a URL, so it is read
in :meth:`OpenAPIServer.load`, awaited by :meth:`agentgw.gateway.Gateway.start` before the
federation starts; a spec that cannot be loaded fails the start with a :class:`ConfigError` naming
the server's key, the spec and where in it the problem is. ``agentgw check`` runs the same loading
(:func:`openapi_issues`).

The credentials are the operator's (``auth:`` per security scheme); the MCP client's token is never
seen by the toolset, so it cannot be forwarded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcp_types import CallToolResult, Tool
from pydantic import SecretStr

from agentgw.config.mcp import MCPConfig, MCPOpenAPIAuthConfig, MCPOpenAPIFiltersConfig, MCPServerConfig
from agentgw.errors import ConfigError, ConfigIssue
from openapi_tools import (
    Credentials,
    LoadedSpec,
    OpenAPIToolsError,
    OpenAPIToolset,
    OperationFilter,
    Timeouts,
    load_spec,
)
from openapi_tools.toolset import server_urls

__all__ = ["OpenAPIServer", "openapi_issues", "openapi_servers"]

log = logging.getLogger("agentgw")


class OpenAPIServer:
    """One ``openapi`` server: its spec's operations as tools, loaded at start-up."""

    def __init__(self, key: str, config: MCPServerConfig, base_dir: Path, *, where: str) -> None:
        assert config.openapi is not None
        self._key = key
        self._where = where
        self._name = config.prefix or key
        self._config = config
        self.source = spec_source(config.openapi, base_dir)
        self._toolset: OpenAPIToolset | None = None

    @property
    def name(self) -> str:
        return self._name

    async def load(self) -> None:
        """Read and convert the spec (in a thread: it may be large) and make the toolset.

        Raises:
            ConfigError: the spec cannot be read or converted, or names no usable server URL.
        """
        try:
            spec = await asyncio.to_thread(load, self.source, self._config)
            self._toolset = make_toolset(self._name, spec, self._config)
        except OpenAPIToolsError as exc:
            raise ConfigError([ConfigIssue(self._where, str(exc))]) from exc
        unknown = _unknown_schemes(self._where, spec, self._config)
        if unknown:
            raise ConfigError(unknown)
        for problem in spec.problems:
            log.warning("mcp server %r: %s: %s", self._key, self.source, problem)

    async def list_tools(self) -> Sequence[Tool]:
        if self._toolset is None:
            raise RuntimeError(f"the spec of {self._key!r} is not loaded")
        return await self._toolset.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        if self._toolset is None:
            raise RuntimeError(f"the spec of {self._key!r} is not loaded")
        return await self._toolset.call_tool(name, arguments)

    async def close(self) -> None:
        if self._toolset is not None:
            await self._toolset.close()


def openapi_servers(config: MCPConfig, base_dir: Path) -> list[OpenAPIServer]:
    """The enabled ``openapi`` servers of ``config``, in configuration order (not loaded yet)."""
    return [
        OpenAPIServer(key, server, base_dir, where=_where(config, key))
        for key, server in config.all_servers.items()
        if server.openapi is not None
    ]


def openapi_issues(config: MCPConfig, base_dir: Path) -> list[ConfigIssue]:
    """Load every ``openapi`` server's spec now; one issue per spec that fails (for ``agentgw check``).

    Operations skipped outside strict mode are logged as warnings, as at start-up.
    """
    issues: list[ConfigIssue] = []
    for key, server in config.all_servers.items():
        if server.openapi is None:
            continue
        source = spec_source(server.openapi, base_dir)
        try:
            spec = load(source, server)
            server_urls(spec, base_url=server.base_url, server_variables=server.server_variables)
        except OpenAPIToolsError as exc:
            issues.append(ConfigIssue(_where(config, key), str(exc)))
            continue
        issues.extend(_unknown_schemes(_where(config, key), spec, server))
        for problem in spec.problems:
            log.warning("mcp server %r: %s: %s", key, source, problem)
    return issues


def spec_source(value: str, base_dir: Path) -> str:
    """A URL as it is; a path relative to the config file's folder."""
    if value.startswith(("http://", "https://")):
        return value
    return str(base_dir / value)


def load(source: str, config: MCPServerConfig) -> LoadedSpec:
    """Raises:
    SpecError: the spec cannot be read or converted.
    """
    return load_spec(
        source,
        strict=config.strict,
        filters=_filter(config.filters),
        names=config.names,
    )


def make_toolset(name: str, spec: LoadedSpec, config: MCPServerConfig) -> OpenAPIToolset:
    """Raises:
    OpenAPIToolsError: an operation has no usable server URL (and ``base_url`` is not set).
    """
    return OpenAPIToolset(
        spec,
        name=name,
        base_url=config.base_url,
        server_variables=config.server_variables,
        credentials={scheme: _credentials(secrets) for scheme, secrets in config.auth.items()},
        timeouts=Timeouts(connect=config.timeouts.connect, call=config.timeouts.call),
        max_response_bytes=config.max_response_bytes,
    )


def _where(config: MCPConfig, key: str) -> str:
    # Issues read `mcp.servers.<key>.openapi: <spec>: <location in the spec>: <problem>`.
    return f"mcp.{'servers' if key in config.servers else 'mcpServers'}.{key}.openapi"


def _unknown_schemes(where: str, spec: LoadedSpec, config: MCPServerConfig) -> list[ConfigIssue]:
    # Credentials for a scheme the spec does not define would never be sent: a misspelt name is an
    # error at start-up, not a "needs credentials" tool error at the first call.
    known = ", ".join(sorted(spec.security_schemes)) or "none"
    auth_where = where.removesuffix(".openapi") + ".auth"
    return [
        ConfigIssue(
            f"{auth_where}.{scheme}", f"{spec.source} defines no security scheme {scheme!r} (it has: {known})"
        )
        for scheme in config.auth
        if scheme not in spec.security_schemes
    ]


def _filter(config: MCPOpenAPIFiltersConfig) -> OperationFilter:
    include, exclude = config.include, config.exclude
    return OperationFilter(
        include_tags=tuple(include.tags),
        exclude_tags=tuple(exclude.tags),
        include_operations=tuple(include.operations),
        exclude_operations=tuple(exclude.operations),
        include_paths=tuple(include.paths),
        exclude_paths=tuple(exclude.paths),
        include_methods=tuple(include.methods),
        exclude_methods=tuple(exclude.methods),
    )


def _credentials(config: MCPOpenAPIAuthConfig) -> Credentials:
    def secret(value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    return Credentials(
        api_key=secret(config.api_key),
        token=secret(config.token),
        username=config.username,
        password=secret(config.password),
        client_id=config.client_id,
        client_secret=secret(config.client_secret),
        scopes=tuple(config.scopes) if config.scopes is not None else None,
    )
