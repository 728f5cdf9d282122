"""MCP federation in the gateway: the ``mcp:`` config turned into a :class:`federation.Federation`."""

from agentgw.mcp.upstreams import build_federation, upstream_specs

__all__ = ["build_federation", "upstream_specs"]
