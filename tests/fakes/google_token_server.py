"""A fake Google OAuth 2.0 token endpoint (``POST /token``) for service-account keys, on 127.0.0.1.

It checks the JWT bearer grant (RFC 7523) as Google does: ``grant_type``
``urn:ietf:params:oauth:grant-type:jwt-bearer`` and an ``assertion`` signed (RS256) by the service
account's key, with ``iss`` its email, ``aud`` the token URI, a ``scope``, and ``iat``/``exp`` around
now; answers ``{"access_token", "expires_in", "token_type"}`` or Google's ``invalid_grant`` error;
counts token requests. :meth:`key_json` makes the service-account key file that points at it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

EMAIL = "agentgw@test-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_KEY = RSAKey.generate_key(2048)


@dataclass
class FakeGoogleToken:
    url: str = ""
    expires_in: int = 3599
    delay_s: float = 0.05
    forms: list[dict[str, str]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)

    @property
    def token_requests(self) -> int:
        return len(self.forms)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/token", self._token, methods=["POST"])])

    def key_json(self) -> str:
        return orjson.dumps(
            {
                "type": "service_account",
                "project_id": "test-project",
                "private_key_id": "0123456789abcdef",
                "private_key": _KEY.as_pem(private=True).decode(),
                "client_email": EMAIL,
                "client_id": "1234567890",
                "token_uri": f"{self.url}/token",
            }
        ).decode()

    def _error(self, description: str) -> Response:
        body = {"error": "invalid_grant", "error_description": description}
        return Response(orjson.dumps(body), status_code=400, media_type="application/json")

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.forms.append(form)
        await asyncio.sleep(self.delay_s)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response(
                b'{"error":"unsupported_grant_type"}', status_code=400, media_type="application/json"
            )
        try:
            token = jwt.decode(form.get("assertion", ""), RSAKey.import_key(_KEY.as_pem(private=False)))
        except (JoseError, ValueError):
            return self._error("Invalid JWT Signature.")
        claims, now = token.claims, time.time()
        self.claims.append(claims)
        if token.header.get("alg") != "RS256" or claims.get("iss") != EMAIL:
            return self._error("Invalid JWT: iss or alg.")
        if claims.get("aud") != f"{self.url}/token" or claims.get("scope") != SCOPE:
            return self._error("Invalid JWT: aud or scope.")
        if not (claims.get("iat", 0) <= now + 5 and now < claims.get("exp", 0) <= now + 3700):
            return self._error("Invalid JWT: Token must be a short-lived token (60 minutes).")
        access = f"ya29.fake-{uuid.uuid4().hex}"
        self.issued.add(access)
        body = {"access_token": access, "expires_in": self.expires_in, "token_type": "Bearer"}
        return Response(orjson.dumps(body), media_type="application/json")
