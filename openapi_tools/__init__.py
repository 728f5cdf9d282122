"""OpenAPI 3.x and Swagger 2.0 specs as MCP tools.

Independent of :mod:`agentgw` and :mod:`federation`. Not implemented yet beyond its error tree.
"""

from openapi_tools.errors import OpenAPIToolsError

__all__ = ["OpenAPIToolsError"]
