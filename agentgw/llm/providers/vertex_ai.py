"""The ``vertex_ai`` provider: Gemini and Anthropic models on Google Vertex AI.

``publisher: google`` uses Vertex's OpenAI-compatible endpoint
(``/v1/projects/{project}/locations/{location}/endpoints/openapi/chat/completions``), so OpenAI
requests pass through with the model named ``google/{model}``. ``publisher: anthropic`` posts
Messages requests to ``.../publishers/anthropic/models/{model}:rawPredict`` (``:streamRawPredict``
when streaming), with the model in the URL and ``anthropic_version: vertex-2023-10-16`` in the body,
as Vertex wants them; OpenAI chat requests are translated as for the ``anthropic`` provider.

The credential is a service-account key: a JWT signed with its private key is exchanged for an
access token at the key's ``token_uri`` (RFC 7523 JWT bearer grant), cached until shortly before it
expires and fetched once for all concurrent requests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx2
import orjson
from joserfc import jwt
from joserfc.jwk import RSAKey

from agentgw.config.providers import VertexAIBackend
from agentgw.errors import InvalidRequest, UpstreamUnreachable
from agentgw.llm.providers._response import post
from agentgw.llm.providers._token import CachedToken, fetch_token
from agentgw.llm.providers.anthropic import TranslatedChat
from agentgw.llm.providers.base import UpstreamResponse
from agentgw.llm.translate.chat_to_messages import chat_request_to_messages
from agentgw.upstream import HTTPPool, PoolTimeouts, UpstreamConnectError, UpstreamReadError

__all__ = ["ServiceAccountToken", "VertexAIProvider"]

_ANTHROPIC_VERSION = "vertex-2023-10-16"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME_S = 3600


class VertexAIProvider:
    def __init__(self, name: str, config: VertexAIBackend) -> None:
        self.name = name
        self.config = config
        self._total = config.timeouts.total
        self._anthropic = config.publisher == "anthropic"
        self.operations = frozenset(
            {"chat/completions", "messages"} if self._anthropic else {"chat/completions", "embeddings"}
        )
        location = f"projects/{quote(config.project, safe='')}/locations/{quote(config.location, safe='')}"
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        self._pool = HTTPPool(
            f"{config.base_url}/v1/{location}",
            headers=headers,
            timeouts=PoolTimeouts(connect=config.timeouts.connect, read=config.timeouts.read),
            max_connections=config.max_connections,
        )
        self.token = ServiceAccountToken(
            name, config.service_account(), config.scope, timeout_s=config.timeouts.read
        )

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        data = orjson.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("model"), str):
            raise InvalidRequest("request body must be a JSON object with a 'model'", param="model")
        sent = {
            "content-type": "application/json",
            **(headers or {}),
            "authorization": f"Bearer {await self.token.get()}",
        }
        if not self._anthropic:
            if "/" not in data["model"]:
                data["model"] = f"google/{data['model']}"
            path = f"endpoints/openapi/{operation}"
            return await post(self._pool, self.name, self._total, path, orjson.dumps(data), sent)
        request = (
            data
            if operation == "messages"
            else chat_request_to_messages(data, self.config.default_max_tokens)
        )
        model = str(request.pop("model"))
        request["anthropic_version"] = _ANTHROPIC_VERSION
        method = "streamRawPredict" if stream else "rawPredict"
        path = f"publishers/anthropic/models/{quote(model, safe='')}:{method}"
        upstream = await post(self._pool, self.name, self._total, path, orjson.dumps(request), sent)
        if operation == "messages":
            return upstream
        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        return TranslatedChat(upstream, self.name, stream=stream, include_usage=include_usage)

    async def probe(self) -> str | None:
        try:
            await self.token.get()
            response = await self._pool.request("GET", "", read_timeout=2.0)
            await response.read()
            await response.aclose()
        except (TimeoutError, UpstreamConnectError, UpstreamReadError, UpstreamUnreachable) as exc:
            return f"unreachable: {exc or type(exc).__name__}"
        return None

    async def aclose(self) -> None:
        await self._pool.aclose()
        await self.token.aclose()


class ServiceAccountToken:
    """Google OAuth 2.0 access tokens for a service account (JWT bearer grant, RFC 7523 2.1)."""

    def __init__(self, backend: str, key: dict[str, Any], scope: str, *, timeout_s: float) -> None:
        self._backend = backend
        self._email = str(key["client_email"])
        self._token_uri = str(key["token_uri"])
        self._key_id = key.get("private_key_id")
        self._private_key = RSAKey.import_key(str(key["private_key"]))
        self._scope = scope
        self._client = httpx2.AsyncClient(timeout=timeout_s, trust_env=False)
        self._cache = CachedToken(self._fetch)

    @property
    def fetches(self) -> int:
        return self._cache.fetches

    async def get(self) -> str:
        """Raises: UpstreamUnreachable, UpstreamTimeout (the token endpoint failed)."""
        return await self._cache.get()

    def assertion(self) -> str:
        now = int(time.time())
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
        if self._key_id:
            header["kid"] = self._key_id
        claims = {
            "iss": self._email,
            "scope": self._scope,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME_S,
        }
        return jwt.encode(header, claims, self._private_key)

    async def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": _JWT_BEARER, "assertion": self.assertion()}
        return await fetch_token(self._client, self._token_uri, form, self._backend)

    async def aclose(self) -> None:
        await self._client.aclose()
