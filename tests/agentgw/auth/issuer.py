"""A test identity provider on 127.0.0.1: a JWKS endpoint whose keys can be rotated, and token minting.

Keys are generated once per test session (RSA generation is slow); :class:`Issuer` publishes any
subset of them at ``/jwks`` and counts the fetches.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve_app

ISSUER = "https://idp.test.example"
AUDIENCE = "agentgw-test"


@dataclass
class Keys:
    rsa_a: RSAKey
    rsa_b: RSAKey
    ec: ECKey

    @classmethod
    def generate(cls) -> Keys:
        return cls(
            RSAKey.generate_key(2048, parameters={"kid": "rsa-a"}, private=True),
            RSAKey.generate_key(2048, parameters={"kid": "rsa-b"}, private=True),
            ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True),
        )


@dataclass
class Issuer:
    """Publishes ``published`` keys (public parts only) at ``{url}/jwks``."""

    keys: Keys
    published: list[RSAKey | ECKey] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            self.fetches += 1
            body = {"keys": [key.as_dict(private=False) for key in self.published]}
            return Response(orjson.dumps(body), media_type="application/json")

        return Starlette(routes=[Route("/jwks", jwks)])

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def token(
        self,
        key: RSAKey | ECKey | None = None,
        *,
        alg: str | None = None,
        kid: str | None | bool = True,
        **claims: Any,
    ) -> str:
        """A signed token with sensible defaults (``sub``, ``iss``, ``aud``, ``exp`` in an hour) and ``claims``."""
        key = key or self.keys.rsa_a
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": "user-1",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 3600,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header: dict[str, Any] = {"alg": alg or ("ES256" if isinstance(key, ECKey) else "RS256")}
        if kid is True:
            header["kid"] = key.kid
        elif isinstance(kid, str):
            header["kid"] = kid
        return jwt.encode(header, payload, key, algorithms=[header["alg"]])


def unsigned_token(**claims: Any) -> str:
    """A token with ``alg: none`` and an empty signature."""
    now = int(time.time())
    payload = {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600, **claims}
    return ".".join([_b64(orjson.dumps({"alg": "none", "typ": "JWT"})), _b64(orjson.dumps(payload)), ""])


def hs256_with_public_key(issuer: Issuer, key: RSAKey, **claims: Any) -> str:
    """The HS/RS confusion attack: HMAC-SHA256 keyed with the issuer's *public* key (PEM)."""
    # Signed by hand: joserfc (rightly) refuses to use a public key as an HMAC secret.
    now = int(time.time())
    payload = {
        "sub": "attacker",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 3600,
        "roles": ["admin"],
        **claims,
    }
    signing_input = (
        _b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid})) + "." + _b64(orjson.dumps(payload))
    )
    signature = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def tampered(token: str) -> str:
    """``token`` with its payload replaced (roles escalated), keeping the original signature."""
    header, payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    return ".".join([header, _b64(orjson.dumps(claims)), signature])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@contextlib.contextmanager
def serve_issuer(keys: Keys) -> Iterator[Issuer]:
    issuer = Issuer(keys, published=[keys.rsa_a, keys.ec])
    with serve_app(issuer.app()) as url:
        issuer.url = url
        yield issuer
