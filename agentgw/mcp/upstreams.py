"""The ``mcp:`` section as federation upstream specs, and the federation built from them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agentgw._version import __version__
from agentgw.config.mcp import MCPConfig, MCPServerConfig
from agentgw.exchange import ExchangeObserver
from agentgw.mcp.telemetry import ObservedHooks
from agentgw.refusals import refused
from federation import (
    Federation,
    FederationHooks,
    HttpTarget,
    LocalToolset,
    NamingPolicy,
    NoHooks,
    StdioTarget,
    Target,
    UpstreamSpec,
    UpstreamTimeouts,
    VirtualServer,
)

__all__ = ["build_federation", "upstream_specs"]

log = logging.getLogger("agentgw")

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def upstream_specs(config: MCPConfig, base_dir: Path) -> list[UpstreamSpec]:
    """One spec per enabled MCP server, in configuration order (``servers``, then ``mcpServers``).

    ``openapi`` servers are not upstreams but toolsets (:func:`agentgw.mcp.openapi.openapi_servers`).
    """
    return [
        _spec(name, server, config, base_dir)
        for name, server in config.all_servers.items()
        if server.openapi is None
    ]


def build_federation(
    config: MCPConfig,
    base_dir: Path,
    *,
    hooks: FederationHooks | None = None,
    observer: ExchangeObserver | None = None,
    toolsets: Sequence[LocalToolset] = (),
    max_request_bytes: int = 4 * 1024 * 1024,
    listen_host: str | None = None,
) -> Federation:
    """The federation of ``config``'s servers (then ``toolsets``); stdio servers' relative paths
    resolve against ``base_dir``.

    ``listen_host`` is the gateway's listen address: on a loopback address only loopback ``Host``
    names are accepted unless ``config.allowed_hosts`` says otherwise. ``observer`` is told about
    every MCP request (telemetry), besides ``hooks``' decisions.
    """
    if observer is not None:
        urls = {name: s.url for name, s in config.all_servers.items() if s.url is not None}
        hooks = ObservedHooks(hooks or NoHooks(), observer, urls)
    allowed_hosts = config.allowed_hosts
    if allowed_hosts is None and listen_host in _LOOPBACK:
        allowed_hosts = [*_LOOPBACK_HOSTS, *(f"{h}:*" for h in _LOOPBACK_HOSTS)]
    return Federation(
        upstream_specs(config, base_dir),
        toolsets=toolsets,
        naming=NamingPolicy(mode=config.prefix, separator=config.separator),
        virtual_servers=[
            VirtualServer(name, tuple(view.servers), tuple(view.tools))
            for name, view in config.virtual_servers.items()
        ],
        hooks=hooks,
        name="agentgw",
        version=__version__,
        allowed_origins=config.allowed_origins,
        allowed_hosts=allowed_hosts,
        max_request_bytes=max_request_bytes,
        session_idle_timeout_s=config.session_idle_timeout_s,
        refused=refused,  # counted and logged (issue 9): no MCP request reached the hooks
        log=log,
    )


def _spec(name: str, server: MCPServerConfig, config: MCPConfig, base_dir: Path) -> UpstreamSpec:
    target: Target
    if server.command is not None:
        # As for launched backends: "python" is the interpreter that runs the gateway.
        command = sys.executable if server.command in ("python", "python3") else server.command
        cwd = base_dir / server.cwd if server.cwd is not None else base_dir
        env = {key: value.get_secret_value() for key, value in server.env.items()}
        target = StdioTarget(command, tuple(server.args), env, cwd)
    else:
        assert server.url is not None
        headers = {key: value.get_secret_value() for key, value in server.headers.items()}
        target = HttpTarget(server.url, transport=server.http_transport, headers=headers)
    return UpstreamSpec(
        name=name,
        target=target,
        mode=server.protocol,
        timeouts=UpstreamTimeouts(connect=server.timeouts.connect, call=server.timeouts.call),
        include_tools=tuple(server.tools.include),
        exclude_tools=tuple(server.tools.exclude),
        failure_mode=server.failure_mode or config.failure_mode,
        prefix=server.prefix,
    )
