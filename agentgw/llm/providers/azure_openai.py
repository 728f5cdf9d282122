"""The ``azure_openai`` provider: Azure OpenAI deployments, with an API key or an Entra ID token.

Requests go to ``{endpoint}/openai/deployments/{deployment}/{operation}?api-version={api_version}``
(``/openai/responses?api-version=...`` for the Responses API), the deployment being
``deployments[model]`` or the model name itself. The credential is the ``api-key`` header, or a
Microsoft Entra ID access token from the OAuth 2.0 client-credentials grant (RFC 6749 4.4) sent as
``Authorization: Bearer``, cached and refreshed shortly before it expires. A rotated client secret
comes in with a config reload: a changed backend gets a new provider, and so a new token.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import httpx2
import orjson

from agentgw.config.providers import AzureOpenAIBackend, EntraConfig
from agentgw.errors import InvalidRequest, UpstreamUnreachable
from agentgw.llm.providers._response import PooledResponse, post
from agentgw.llm.providers._token import CachedToken, fetch_token
from agentgw.upstream import HTTPPool, PoolTimeouts, UpstreamConnectError, UpstreamReadError

__all__ = ["AzureOpenAIProvider"]

_PROBE_TIMEOUT_S = 2.0


class AzureOpenAIProvider:
    operations = frozenset({"chat/completions", "embeddings", "responses"})

    def __init__(self, name: str, config: AzureOpenAIBackend) -> None:
        self.name = name
        self.config = config
        self._total = config.timeouts.total
        self._version = quote(config.api_version, safe="")
        headers = {key: value.get_secret_value() for key, value in config.headers.items()}
        if config.api_key is not None:
            headers["api-key"] = config.api_key.get_secret_value()
        self._pool = HTTPPool(
            f"{config.endpoint}/openai",
            headers=headers,
            timeouts=PoolTimeouts(connect=config.timeouts.connect, read=config.timeouts.read),
            max_connections=config.max_connections,
        )
        self._entra: EntraToken | None = None
        if config.entra is not None:
            self._entra = EntraToken(name, config.entra, timeout_s=config.timeouts.read)

    @property
    def token_fetches(self) -> int:
        return 0 if self._entra is None else self._entra.token.fetches

    def path(self, operation: str, model: str) -> str:
        if operation == "responses":
            return f"responses?api-version={self._version}"
        deployment = quote(self.config.deployments.get(model, model), safe="")
        return f"deployments/{deployment}/{operation}?api-version={self._version}"

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> PooledResponse:
        try:
            model = orjson.loads(body)["model"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise InvalidRequest("request body has no 'model'", param="model") from None
        sent = {"content-type": "application/json", **(headers or {})}
        if self._entra is not None:
            sent["authorization"] = f"Bearer {await self._entra.token.get()}"
        return await post(self._pool, self.name, self._total, self.path(operation, str(model)), body, sent)

    async def probe(self) -> str | None:
        try:
            headers = {}
            if self._entra is not None:
                headers["authorization"] = f"Bearer {await self._entra.token.get()}"
            response = await self._pool.request(
                "GET", f"models?api-version={self._version}", headers=headers, read_timeout=_PROBE_TIMEOUT_S
            )
            await response.read()
            await response.aclose()
        except (TimeoutError, UpstreamConnectError, UpstreamReadError, UpstreamUnreachable) as exc:
            return f"unreachable: {exc or type(exc).__name__}"
        if response.status in (401, 403):
            return f"credential refused (HTTP {response.status})"
        if response.status >= 500:
            return f"HTTP {response.status}"
        return None

    async def aclose(self) -> None:
        await self._pool.aclose()
        if self._entra is not None:
            await self._entra.aclose()


class EntraToken:
    """Microsoft identity platform client-credentials tokens for one app registration."""

    def __init__(self, backend: str, config: EntraConfig, *, timeout_s: float) -> None:
        self._backend = backend
        self._config = config
        self._url = f"{config.authority_url}/{quote(config.tenant_id, safe='')}/oauth2/v2.0/token"
        self._client = httpx2.AsyncClient(timeout=timeout_s, trust_env=False)
        self.token = CachedToken(self._fetch)

    async def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._config.client_id,
            "client_secret": self._config.client_secret.get_secret_value(),
            "scope": self._config.scope,
        }
        return await fetch_token(self._client, self._url, form, self._backend)

    async def aclose(self) -> None:
        await self._client.aclose()
