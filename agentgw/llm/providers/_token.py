"""An OAuth2 access token cached until shortly before it expires, fetched once for all waiters.

Used by the providers whose credential is a short-lived token (Azure OpenAI with Entra ID, Vertex
AI with a service account). Concurrent requests that find no valid token share one fetch (single
flight): the first takes the lock and fetches, the others wait on the lock and find the new token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx2

from agentgw.errors import UpstreamTimeout, UpstreamUnreachable

__all__ = ["CachedToken", "TokenFetch", "fetch_token"]

TokenFetch = Callable[[], Awaitable[tuple[str, float]]]
"""Fetches a new token: returns it and its lifetime in seconds (``expires_in``)."""

_MAX_SKEW_S = 300.0
"""Refresh at most five minutes before expiry (a tenth of the lifetime for short-lived tokens)."""


class CachedToken:
    def __init__(self, fetch: TokenFetch, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0
        """How many times a token was fetched (for diagnostics and tests)."""

    async def get(self) -> str:
        """A valid token, fetched if there is none or it is about to expire.

        Raises:
            UpstreamUnreachable: from the fetch, when the token endpoint failed or refused.
        """
        token = self._token
        if token is not None and self._clock() < self._refresh_at:
            return token
        async with self._lock:
            token = self._token
            if token is not None and self._clock() < self._refresh_at:
                return token
            started = self._clock()
            token, expires_in = await self._fetch()
            self.fetches += 1
            self._token = token
            self._refresh_at = started + expires_in - min(_MAX_SKEW_S, expires_in / 10)
            return token


async def fetch_token(
    client: httpx2.AsyncClient, url: str, form: dict[str, str], backend: str
) -> tuple[str, float]:
    """POST an OAuth 2.0 token request (RFC 6749 4.4.2/4.4.3); return the token and its lifetime.

    Raises:
        UpstreamTimeout: the token endpoint did not answer in time.
        UpstreamUnreachable: it could not be reached, refused the grant, or sent no token.
    """
    try:
        response = await client.post(url, data=form, headers={"accept": "application/json"})
    except httpx2.TimeoutException as exc:
        raise UpstreamTimeout(f"backend '{backend}': the token endpoint timed out", backend=backend) from exc
    except httpx2.HTTPError as exc:
        raise UpstreamUnreachable(
            f"backend '{backend}': the token endpoint is unreachable: {exc}", backend=backend
        ) from exc
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code != 200 or not isinstance(data, dict) or "access_token" not in data:
        # RFC 6749 5.2: `error` names the reason (invalid_client, ...); the description may be long.
        reason = data.get("error", "") if isinstance(data, dict) else ""
        raise UpstreamUnreachable(
            f"backend '{backend}': the token endpoint refused the grant (HTTP {response.status_code}"
            + (f", {reason}" if reason else "")
            + ")",
            backend=backend,
        )
    return str(data["access_token"]), float(data.get("expires_in", 3600))
