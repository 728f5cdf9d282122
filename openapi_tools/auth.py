"""Authenticating calls with the spec's ``securitySchemes`` and the secrets the embedding app holds.

An operation's ``security`` lists alternatives; the first one whose every scheme has credentials
configured is used (an empty alternative, ``{}``, means the operation also works anonymously).
Supported: ``apiKey`` in a header, query or cookie; ``http`` ``bearer`` and ``basic``; ``oauth2``
client credentials (the token is fetched from ``tokenUrl``, cached until shortly before it expires,
and fetched again; one lock per token, so concurrent calls wait for one fetch instead of each asking);
and a static token for ``oauth2``/``openIdConnect``/``bearer`` schemes.

The credentials are the gateway's, configured by its operator. The MCP client's own token never
reaches a toolset, so it cannot be forwarded (MCP 2025-11-25 authorization: "Token Passthrough" is
forbidden).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx2

from openapi_tools.errors import AuthError
from openapi_tools.operation import SecurityRequirement
from openapi_tools.request import PreparedRequest

__all__ = ["Authenticator", "Credentials"]

# A cached token is fetched again this long before the server says it expires, so a call never
# leaves with a token that expires in flight.
_EXPIRY_MARGIN_S = 30.0
_DEFAULT_TOKEN_LIFETIME_S = 300.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """The secrets for one security scheme; which fields are used depends on the scheme's type."""

    api_key: str | None = None
    """``apiKey`` schemes."""
    token: str | None = None
    """``http`` ``bearer``, or a ready token for ``oauth2``/``openIdConnect``."""
    username: str | None = None
    password: str | None = None
    """``http`` ``basic``."""
    client_id: str | None = None
    client_secret: str | None = None
    """``oauth2`` client credentials."""
    scopes: tuple[str, ...] | None = None
    """Scopes to ask the token for; default: those the operation's requirement lists."""


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


class Authenticator:
    """Applies an operation's security to a request; holds the OAuth2 token cache.

    ``client`` sends the token requests; ``base_url`` resolves a relative ``tokenUrl``.
    """

    def __init__(
        self,
        schemes: Mapping[str, Mapping[str, Any]],
        credentials: Mapping[str, Credentials],
        client: httpx2.AsyncClient,
        *,
        base_url: str = "",
        token_timeout_s: float = 30.0,
    ) -> None:
        self._schemes = schemes
        self._credentials = credentials
        self._client = client
        self._base_url = base_url
        self._token_timeout_s = token_timeout_s
        self._tokens: dict[tuple[str, tuple[str, ...]], _Token] = {}
        self._locks: dict[tuple[str, tuple[str, ...]], asyncio.Lock] = {}

    def choose(self, security: tuple[SecurityRequirement, ...]) -> SecurityRequirement | None:
        """The first alternative the configured credentials satisfy (``None``: send no credentials).

        Raises:
            AuthError: the operation needs credentials and none of its alternatives is configured.
        """
        if not security:
            return None
        for requirement in security:
            if not requirement:
                return None
            if all(self._usable(name) for name in requirement):
                return requirement
        wanted = " or ".join(" + ".join(sorted(r)) for r in security)
        raise AuthError(f"this operation needs credentials for {wanted}; none are configured")

    async def apply(self, requirement: SecurityRequirement | None, request: PreparedRequest) -> None:
        """Add the credentials of ``requirement``'s schemes to ``request``.

        Raises:
            AuthError: a token could not be obtained.
        """
        if requirement is None:
            return
        for name, scopes in requirement.items():
            scheme, credentials = self._schemes[name], self._credentials[name]
            kind = scheme.get("type")
            if kind == "apiKey":
                assert credentials.api_key is not None
                where, key = scheme.get("in"), str(scheme.get("name"))
                if where == "header":
                    request.headers.append((key, credentials.api_key))
                elif where == "query":
                    request.add_query(key, credentials.api_key)
                else:
                    request.cookies.append((key, credentials.api_key))
            elif kind == "http" and str(scheme.get("scheme", "")).lower() == "basic":
                pair = f"{credentials.username}:{credentials.password}".encode()
                request.headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
            else:
                token = credentials.token or await self._oauth_token(name, scheme, credentials, scopes)
                request.headers.append(("Authorization", f"Bearer {token}"))

    def _usable(self, name: str) -> bool:
        scheme, credentials = self._schemes.get(name), self._credentials.get(name)
        if scheme is None or credentials is None:
            return False
        kind = scheme.get("type")
        if kind == "apiKey":
            return credentials.api_key is not None and scheme.get("in") in ("header", "query", "cookie")
        if kind == "http":
            http = str(scheme.get("scheme", "")).lower()
            if http == "basic":
                return credentials.username is not None and credentials.password is not None
            return http == "bearer" and credentials.token is not None
        if kind == "oauth2":
            return credentials.token is not None or (
                credentials.client_id is not None
                and credentials.client_secret is not None
                and _token_url(scheme) is not None
            )
        return kind == "openIdConnect" and credentials.token is not None

    async def _oauth_token(
        self, name: str, scheme: Mapping[str, Any], credentials: Credentials, scopes: tuple[str, ...]
    ) -> str:
        wanted = credentials.scopes if credentials.scopes is not None else tuple(scopes)
        key = (name, tuple(sorted(wanted)))
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at > time.monotonic():
            return cached.value
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            # Whoever held the lock before may have fetched it already.
            cached = self._tokens.get(key)
            if cached is not None and cached.expires_at > time.monotonic():
                return cached.value
            token = await self._fetch(name, scheme, credentials, wanted)
            self._tokens[key] = token
            return token.value

    async def _fetch(
        self, name: str, scheme: Mapping[str, Any], credentials: Credentials, scopes: tuple[str, ...]
    ) -> _Token:
        url = urljoin(self._base_url + "/", str(_token_url(scheme)))
        form = {"grant_type": "client_credentials"}
        if scopes:
            form["scope"] = " ".join(scopes)
        # RFC 6749 2.3.1: servers must support HTTP Basic for the client's credentials.
        pair = f"{credentials.client_id}:{credentials.client_secret}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(pair).decode(), "Accept": "application/json"}
        try:
            response = await self._client.post(url, data=form, headers=headers, timeout=self._token_timeout_s)
        except httpx2.HTTPError as exc:
            raise AuthError(f"{name}: cannot fetch a token from {url}: {exc}") from exc
        if response.status_code != 200:
            raise AuthError(f"{name}: the token endpoint {url} answered {response.status_code}")
        try:
            body = response.json()
            value = body["access_token"]
            expires_in = body.get("expires_in")
            lifetime = float(expires_in) if expires_in is not None else _DEFAULT_TOKEN_LIFETIME_S
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(f"{name}: the token endpoint {url} sent no access_token") from exc
        if not isinstance(value, str):
            raise AuthError(f"{name}: the token endpoint {url} sent no access_token")
        expires_at = time.monotonic() + max(lifetime - _EXPIRY_MARGIN_S, lifetime / 2)
        return _Token(value, expires_at)


def _token_url(scheme: Mapping[str, Any]) -> str | None:
    flows = scheme.get("flows")
    flow = flows.get("clientCredentials") if isinstance(flows, Mapping) else None
    url = flow.get("tokenUrl") if isinstance(flow, Mapping) else None
    return url if isinstance(url, str) else None
