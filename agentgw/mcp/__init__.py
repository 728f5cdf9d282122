"""MCP federation in the gateway: the ``mcp:`` config turned into a :class:`federation.Federation`."""

from agentgw.mcp.openapi import OpenAPIServer, openapi_issues, openapi_servers
from agentgw.mcp.upstreams import build_federation, upstream_specs

__all__ = ["OpenAPIServer", "build_federation", "openapi_issues", "openapi_servers", "upstream_specs"]
