"""OAuth 2.0 Protected Resource Metadata (RFC 9728) and the ``WWW-Authenticate`` challenges that point to it.

The MCP authorization spec (2025-06-18 and later, "Authorization Server Discovery") makes the MCP
endpoint an OAuth resource server: a 401 carries ``WWW-Authenticate: Bearer resource_metadata="..."``
and the metadata document names the authorization servers (here: the JWT issuer). RFC 9728 section
3.1: the metadata of resource ``https://gw/mcp`` is at ``https://gw/.well-known/oauth-protected-resource/mcp``;
the gateway as a whole (``https://gw``) at ``/.well-known/oauth-protected-resource``.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from agentgw.config.auth import AuthConfig
from agentgw.refusals import refused

__all__ = [
    "METADATA_PATH",
    "base_url",
    "challenge",
    "is_mcp_path",
    "metadata_document",
    "metadata_url",
    "resource_metadata_routes",
]

METADATA_PATH = "/.well-known/oauth-protected-resource"
_MCP_PREFIX = "/mcp"
# The MCP endpoints: Streamable HTTP, and the 2024-11-05 HTTP+SSE transport's two paths.
_MCP_PATHS = ("/mcp", "/sse", "/messages")


def base_url(config: AuthConfig, scope: Scope) -> str:
    """The gateway's public base URL: ``auth.resource``, else the request's scheme and host."""
    if config.resource is not None:
        return config.resource
    host = "localhost"
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
            break
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def is_mcp_path(path: str) -> bool:
    """Whether ``path`` is one of the MCP endpoints (whose resource is ``/mcp``)."""
    return any(path == p or path.startswith(p + "/") for p in _MCP_PATHS)


def _resource_path(path: str) -> str:
    return _MCP_PREFIX if is_mcp_path(path) else ""


def metadata_url(config: AuthConfig, scope: Scope) -> str:
    """Where the metadata of the resource the request addressed is (the ``/mcp`` form for MCP)."""
    return base_url(config, scope) + METADATA_PATH + _resource_path(scope["path"])


def challenge(config: AuthConfig, scope: Scope, error: str | None = None) -> str:
    """The ``WWW-Authenticate`` value for a 401 (``error=None`` or ``invalid_token``) or a 403
    (``insufficient_scope``, RFC 6750 section 3.1)."""
    parts = [f'resource_metadata="{metadata_url(config, scope)}"']
    if error is not None:
        parts.insert(0, f'error="{error}"')
    return "Bearer " + ", ".join(parts)


def metadata_document(config: AuthConfig, base: str, resource_path: str) -> dict[str, object]:
    """The RFC 9728 document for the resource ``base + resource_path``."""
    document: dict[str, object] = {
        "resource": base + resource_path,
        "bearer_methods_supported": ["header"],
        "resource_name": "agentgw",
    }
    if config.jwt is not None:
        document["authorization_servers"] = [config.jwt.issuer]
        document["resource_signing_alg_values_supported"] = list(config.jwt.algorithms)
    return document


async def _metadata(request: Request) -> Response:
    config: AuthConfig = request.app.state.gateway.runtime.config.auth
    if not config.configured:
        refused(request.scope, 404)
        return Response(
            orjson.dumps({"error": "not_found", "error_description": "authentication is not configured"}),
            status_code=404,
            media_type="application/json",
        )
    suffix = request.path_params.get("resource", "")
    body = orjson.dumps(
        metadata_document(config, base_url(config, request.scope), f"/{suffix}" if suffix else "")
    )
    return Response(body, media_type="application/json", headers={"cache-control": "public, max-age=300"})


def resource_metadata_routes() -> list[BaseRoute]:
    """``GET /.well-known/oauth-protected-resource`` and ``.../{resource}`` (e.g. ``/mcp``)."""
    return [
        Route(METADATA_PATH, _metadata, methods=["GET"]),
        Route(METADATA_PATH + "/{resource:path}", _metadata, methods=["GET"]),
    ]
