"""JWT bearer tokens: signature against the issuer's JWKS, then issuer, audience and times.

The JWKS is fetched with httpx2 on first use and cached for ``jwks_ttl_s``. A token whose ``kid`` is
not in the cached set makes the verifier fetch the set again (the issuer rotated its keys), at most
once per ``jwks_min_refresh_s``; fetches are single-flight, so a burst of such tokens costs one
request to the issuer.

Refused before any key is looked at: an ``alg`` outside the allow-list, which holds asymmetric
algorithms only (config validation refuses ``none`` and ``HS*``), so a token signed with HMAC using the
issuer's *public* key as the secret (HS/RS confusion) is never verified. Symmetric (``oct``) keys
and encryption keys in the JWKS are ignored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx2
import orjson
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from agentgw.auth.principal import Principal
from agentgw.config.auth import JWTConfig
from agentgw.errors import AuthenticationFailed

__all__ = ["JWKSCache", "JWTVerifier", "looks_like_jwt"]

log = logging.getLogger("agentgw.auth")

PublicKey = RSAKey | ECKey | OKPKey
_KEY_TYPES: dict[str, type[PublicKey]] = {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}
_MAX_TOKEN_BYTES = 16 * 1024


def looks_like_jwt(token: str) -> bool:
    """A compact JWS: three base64url segments, the header starting with ``{"`` (``eyJ``)."""
    return token.startswith("eyJ") and token.count(".") == 2


@dataclass(frozen=True, slots=True)
class _KeySet:
    by_kid: Mapping[str, PublicKey]
    unnamed: tuple[PublicKey, ...]
    fetched: float


class JWKSCache:
    """The issuer's public keys, fetched from ``url`` and cached.

    Raises (from :meth:`key`): AuthenticationFailed when no key fits or the JWKS cannot be fetched.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 300.0,
        min_refresh_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: _KeySet | None = None
        self._lock = asyncio.Lock()
        self._last_attempt = float("-inf")
        self._client = httpx2.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False)
        self.fetches = 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def key(self, kid: str | None) -> PublicKey:
        attempts = self.fetches
        keys = self._keys
        if keys is None or self._clock() - keys.fetched >= self._ttl_s:
            keys = await self._fetch(attempts, force=True)
        found = _pick(keys, kid)
        if found is None and self._clock() - self._last_attempt >= self._min_refresh_s:
            # Unknown kid: the issuer may have rotated its keys since the last fetch.
            keys = await self._fetch(attempts, force=False)
            found = _pick(keys, kid)
        if found is None:
            raise AuthenticationFailed(f"no key with kid {kid!r} in the JWKS", method="jwt")
        return found

    async def _fetch(self, attempts: int, *, force: bool) -> _KeySet:
        """Fetch, unless another request fetched since this one saw ``attempts`` (single flight)."""
        async with self._lock:
            if self.fetches != attempts and self._keys is not None:
                return self._keys
            if not force and self._clock() - self._last_attempt < self._min_refresh_s and self._keys:
                return self._keys
            self._last_attempt = self._clock()
            try:
                response = await self._client.get(self.url, headers={"accept": "application/json"})
                response.raise_for_status()
                self._keys = _parse_jwks(response.content, self._clock())
            except (httpx2.HTTPError, ValueError) as exc:
                log.error("cannot fetch the JWKS from %s: %s", self.url, exc)
                if self._keys is None:
                    raise AuthenticationFailed(f"JWKS unavailable: {exc}", method="jwt") from None
            finally:
                # Counted when done, so requests that waited on this fetch see it happened.
                self.fetches += 1
            return self._keys


def _pick(keys: _KeySet, kid: str | None) -> PublicKey | None:
    if kid is not None:
        return keys.by_kid.get(kid)
    # No kid in the token: only unambiguous when the issuer publishes a single key.
    every = [*keys.by_kid.values(), *keys.unnamed]
    return every[0] if len(every) == 1 else None


def _parse_jwks(content: bytes, fetched: float) -> _KeySet:
    data = orjson.loads(content)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS (no 'keys' list)")
    by_kid: dict[str, PublicKey] = {}
    unnamed: list[PublicKey] = []
    for entry in data["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        key_type = _KEY_TYPES.get(str(entry.get("kty")))
        if key_type is None:
            continue  # "oct" (a shared secret has no place in a public JWKS) or unknown
        public = {k: v for k, v in entry.items() if k not in {"d", "p", "q", "dp", "dq", "qi"}}
        try:
            key = key_type.import_key(public)
        except (JoseError, ValueError) as exc:
            log.warning("JWKS %s: skipping an unreadable key: %s", entry.get("kid"), exc)
            continue
        kid = entry.get("kid")
        if isinstance(kid, str):
            by_kid[kid] = key
        else:
            unnamed.append(key)
    return _KeySet(by_kid, tuple(unnamed), fetched)


class JWTVerifier:
    """Verifies bearer JWTs per ``config`` and turns their claims into a :class:`Principal`."""

    def __init__(self, config: JWTConfig, jwks: JWKSCache, *, now: Callable[[], float] = time.time) -> None:
        self.config = config
        self.jwks = jwks
        self._algorithms = frozenset(config.algorithms)
        self._now = now
        self._claims = jwt.JWTClaimsRegistry(
            now=lambda: int(self._now()),
            leeway=config.leeway_s,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "values": list(config.audiences)},
            exp={"essential": True},
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid ``token``.

        Raises:
            AuthenticationFailed: malformed, refused algorithm, bad signature, unknown key, wrong
                issuer or audience, expired or not yet valid; ``reason`` says which.
        """
        if len(token) > _MAX_TOKEN_BYTES:
            raise AuthenticationFailed("token too large", method="jwt")
        header = _header(token)
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise AuthenticationFailed(f"algorithm {alg!r} is not allowed", method="jwt")
        kid = header.get("kid")
        key = await self.jwks.key(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except JoseError as exc:
            raise AuthenticationFailed(f"signature: {exc.error}: {exc.description}", method="jwt") from None
        claims = decoded.claims
        try:
            self._claims.validate(claims)
        except ExpiredTokenError:
            raise AuthenticationFailed("token expired", method="jwt") from None
        except MissingClaimError as exc:
            raise AuthenticationFailed(f"missing claim: {exc.description}", method="jwt") from None
        except JoseError as exc:
            raise AuthenticationFailed(f"claims: {exc.description}", method="jwt") from None
        subject = _claim(claims, self.config.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthenticationFailed(f"no {self.config.subject_claim!r} claim", method="jwt")
        team = _claim(claims, self.config.team_claim) if self.config.team_claim else None
        return Principal(
            subject=subject,
            roles=_roles(_claim(claims, self.config.roles_claim)),
            team=team if isinstance(team, str) else None,
            claims=MappingProxyType(claims),
            auth_method="jwt",
        )


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        raise AuthenticationFailed("malformed token header", method="jwt") from None
    if not isinstance(header, dict):
        raise AuthenticationFailed("malformed token header", method="jwt")
    return header


def _claim(claims: Mapping[str, Any], path: str | None) -> Any:
    if not path:
        return None
    value: Any = claims
    if path in claims:
        return claims[path]
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _roles(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()
