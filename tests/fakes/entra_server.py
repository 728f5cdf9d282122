"""A fake Microsoft identity platform token endpoint (``/{tenant}/oauth2/v2.0/token``) on 127.0.0.1.

It checks the client-credentials grant's form fields as Entra ID does (``grant_type``,
``client_id``, ``client_secret``, ``scope``), answers ``{"token_type", "expires_in",
"ext_expires_in", "access_token"}``, or Entra's error body (``invalid_client`` with an ``AADSTS``
code), and counts token requests. Every token it issued is accepted by :class:`FakeAzureOpenAI`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass
class FakeEntra:
    client_secret: str = "entra-secret-1"
    expires_in: int = 3599
    delay_s: float = 0.05
    """Time to answer, so that concurrent requests overlap a fetch."""
    forms: list[dict[str, str]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)

    @property
    def token_requests(self) -> int:
        return len(self.forms)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"])])

    def _error(self, status: int, error: str, description: str, code: int) -> Response:
        body = {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": "2026-11-21 12:00:00Z",
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }
        return Response(orjson.dumps(body), status_code=status, media_type="application/json")

    async def _token(self, request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        self.forms.append(form)
        await asyncio.sleep(self.delay_s)
        if request.path_params["tenant"] != TENANT:
            return self._error(400, "invalid_request", "Tenant not found.", 90002)
        if form.get("grant_type") != "client_credentials":
            return self._error(400, "unsupported_grant_type", "The grant type is not supported.", 70003)
        if form.get("scope") != SCOPE:
            return self._error(400, "invalid_scope", "The provided scope is not valid.", 70011)
        if form.get("client_id") != CLIENT_ID:
            return self._error(400, "unauthorized_client", "Application not found.", 700016)
        if form.get("client_secret") != self.client_secret:
            return self._error(401, "invalid_client", "Invalid client secret provided.", 7000215)
        token = f"eyJ0eXAiOiJKV1Qi.fake.{uuid.uuid4().hex}"
        self.issued.add(token)
        body = {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": token,
        }
        return Response(orjson.dumps(body), media_type="application/json")
