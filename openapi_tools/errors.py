"""The openapi_tools exception tree.

OpenAPIToolsError       base of every error raised while turning OpenAPI specs into MCP tools
"""

from __future__ import annotations

__all__ = ["OpenAPIToolsError"]


class OpenAPIToolsError(Exception):
    """Base of every error raised by :mod:`openapi_tools`."""
