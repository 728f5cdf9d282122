"""Authentication: API keys and JWT bearer tokens -> a :class:`Principal` on each request.

Modules: :mod:`~agentgw.auth.principal` (who), :mod:`~agentgw.auth.api_keys` (keys and the keys
file), :mod:`~agentgw.auth.jwt` (JWKS and token checks), :mod:`~agentgw.auth.middleware` (the ASGI
middleware), :mod:`~agentgw.auth.resource_metadata` (RFC 9728 for MCP clients).
"""

from agentgw.auth.middleware import Authentication, AuthMiddleware
from agentgw.auth.principal import ANONYMOUS, Principal, principal_of
from agentgw.auth.resource_metadata import resource_metadata_routes

__all__ = [
    "ANONYMOUS",
    "AuthMiddleware",
    "Authentication",
    "Principal",
    "principal_of",
    "resource_metadata_routes",
]
