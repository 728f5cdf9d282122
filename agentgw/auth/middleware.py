"""Authentication as ASGI middleware: credentials -> :class:`Principal` on the request, or a 401.

Credentials are read from ``Authorization: Bearer <token>`` or ``x-api-key: <key>`` (the header the
Anthropic SDK sends). A bearer value shaped like a JWT is verified as one when ``auth.jwt`` is set;
anything else is looked up as an API key. The credential stays in the request's headers for no
one's use: routes never forward the client's ``authorization`` or ``x-api-key`` upstream.

The middleware follows hot reloads: it reads ``auth`` from the gateway's current runtime and rebuilds
its :class:`Authenticator` when that section changes, keeping the JWKS cache when the JWT settings
did not change. A refusal is a 401 in the wire form of the route (OpenAI error JSON, JSON-RPC error
for ``/mcp``, A2A error for ``/a2a``) with ``WWW-Authenticate: Bearer resource_metadata="..."``
(MCP authorization, RFC 9728), the same for every cause; the cause goes to the audit log. A 403 from a
route gets ``WWW-Authenticate: Bearer error="insufficient_scope"`` added (RFC 6750 section 3.1).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentgw.auth.api_keys import ApiKeyStore
from agentgw.auth.jwt import JWKSCache, JWTVerifier, looks_like_jwt
from agentgw.auth.principal import ANONYMOUS, Principal, set_principal
from agentgw.auth.resource_metadata import METADATA_PATH, challenge, is_mcp_path
from agentgw.config.auth import AuthConfig, JWTConfig
from agentgw.error_mapping import a2a_error_response, openai_error_response
from agentgw.errors import AuthenticationFailed
from agentgw.rbac.audit import audit_authentication_failure
from agentgw.refusals import RECEIVED_AT, refused

__all__ = ["Authentication", "AuthMiddleware", "Authenticator", "PUBLIC_PATHS"]

log = logging.getLogger("agentgw.auth")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Served without credentials (probes and scrapes), with the RFC 9728 metadata documents."""


class Authenticator:
    """Turns the credentials of a request into a principal, for one ``auth`` section."""

    def __init__(self, config: AuthConfig, keys: ApiKeyStore, jwt: JWTVerifier | None) -> None:
        self.config = config
        self.keys = keys
        self.jwt = jwt
        anonymous_roles = config.anonymous_roles
        self._anonymous = (
            ANONYMOUS if anonymous_roles is None else Principal("anonymous", roles=frozenset(anonymous_roles))
        )

    async def authenticate(self, scope: Scope) -> Principal:
        """The request's principal.

        Raises:
            AuthenticationFailed: credentials missing (and no anonymous roles), malformed or invalid.
        """
        if not self.config.configured:
            return self._anonymous  # anonymous roles only: whatever the client sends is ignored
        authorization: bytes | None = None
        api_key: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"x-api-key":
                api_key = value
        if authorization is not None:
            scheme, _, token = authorization.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationFailed("Authorization header is not 'Bearer <token>'")
            return await self._bearer(token.strip())
        if api_key is not None:
            return self._api_key(api_key.decode("latin-1").strip())
        if self.config.anonymous_roles is not None or not self.config.configured:
            return self._anonymous
        raise AuthenticationFailed("no credentials")

    async def _bearer(self, token: str) -> Principal:
        if self.jwt is not None and looks_like_jwt(token):
            return await self.jwt.verify(token)
        return self._api_key(token)

    def _api_key(self, key: str) -> Principal:
        entry = self.keys.lookup(key)
        if entry is None:
            raise AuthenticationFailed("unknown API key", method="api_key")
        return Principal(
            subject=f"key:{entry.name}",
            roles=entry.roles,
            team=entry.team,
            key_name=entry.name,
            auth_method="api_key",
        )


class Authentication:
    """The app's authentication state across reloads: the current :class:`Authenticator` and JWKS caches.

    ``current_config`` returns the ``auth`` section of the config in force; ``base_dir`` resolves a
    relative ``api_keys_file``.
    """

    def __init__(self, current_config: Callable[[], AuthConfig], base_dir: Path) -> None:
        self._current_config = current_config
        self._base_dir = base_dir
        self._authenticator: Authenticator | None = None
        self._jwks: dict[tuple[str, float, float, float], JWKSCache] = {}

    def authenticator(self) -> Authenticator:
        config = self._current_config()
        authenticator = self._authenticator
        if authenticator is None or authenticator.config is not config:
            if authenticator is None or authenticator.config != config:
                authenticator = self._build(config)
            else:
                authenticator = Authenticator(config, authenticator.keys, authenticator.jwt)
            self._authenticator = authenticator
        return authenticator

    def _build(self, config: AuthConfig) -> Authenticator:
        keys_file = None
        if config.api_keys_file is not None:
            keys_file = Path(config.api_keys_file)
            if not keys_file.is_absolute():
                keys_file = self._base_dir / keys_file
        keys = ApiKeyStore(config.api_keys, keys_file)
        verifier = JWTVerifier(config.jwt, self._jwks_for(config.jwt)) if config.jwt is not None else None
        return Authenticator(config, keys, verifier)

    def _jwks_for(self, config: JWTConfig) -> JWKSCache:
        key = (config.jwks_url, config.jwks_ttl_s, config.jwks_min_refresh_s, config.jwks_timeout_s)
        cache = self._jwks.get(key)
        if cache is None:
            cache = self._jwks[key] = JWKSCache(
                config.jwks_url,
                ttl_s=config.jwks_ttl_s,
                min_refresh_s=config.jwks_min_refresh_s,
                timeout_s=config.jwks_timeout_s,
            )
        return cache

    async def aclose(self) -> None:
        caches, self._jwks = self._jwks, {}
        for cache in caches.values():
            await cache.aclose()


class AuthMiddleware:
    """Puts the principal on every HTTP request, or answers 401."""

    def __init__(self, app: ASGIApp, *, authentication: Authentication) -> None:
        self.app = app
        self.authentication = authentication

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[RECEIVED_AT] = time.perf_counter()  # a refusal's latency starts here (agentgw.refusals)
        authenticator = self.authentication.authenticator()
        config = authenticator.config
        if not config.enforced:
            set_principal(scope, ANONYMOUS)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(METADATA_PATH):
            await self.app(scope, receive, send)
            return
        try:
            principal = await authenticator.authenticate(scope)
        except AuthenticationFailed as error:
            client = scope.get("client")
            audit_authentication_failure(
                error.reason, method=error.method, path=path, client=client[0] if client else None
            )
            response = _refusal(error, scope, config)
            refused(scope, response.status_code)  # counted and logged: no route will observe it
            await response(scope, receive, send)
            return
        set_principal(scope, principal)
        if not config.configured or is_mcp_path(path):
            # On /mcp a refusal is a JSON-RPC error; a 403 there is the Origin check, not a scope matter.
            await self.app(scope, receive, send)
            return

        async def send_with_challenge(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                headers = MutableHeaders(scope=message)
                headers.append("www-authenticate", challenge(config, scope, "insufficient_scope"))
            await send(message)

        await self.app(scope, receive, send_with_challenge)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No route speaks WebSocket today; should one come, it is not a way around authentication.
        authenticator = self.authentication.authenticator()
        if authenticator.config.enforced:
            try:
                set_principal(scope, await authenticator.authenticate(scope))
            except AuthenticationFailed as error:
                client = scope.get("client")
                audit_authentication_failure(
                    error.reason,
                    method=error.method,
                    path=scope["path"],
                    client=client[0] if client else None,
                )
                await send({"type": "websocket.close", "code": 1008})
                return
        else:
            set_principal(scope, ANONYMOUS)
        await self.app(scope, receive, send)


def _refusal(error: AuthenticationFailed, scope: Scope, config: AuthConfig) -> Response:
    path: str = scope["path"]
    if is_mcp_path(path):
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": error.message}}
        response = Response(orjson.dumps(body), status_code=401, media_type="application/json")
    elif path == "/a2a" or path.startswith("/a2a/"):
        response = a2a_error_response(error, "HTTP+JSON")
    else:
        response = openai_error_response(error)
    missing = error.reason == "no credentials"
    response.headers["www-authenticate"] = challenge(config, scope, None if missing else "invalid_token")
    return response
