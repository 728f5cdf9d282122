"""The upstream response of the providers that talk HTTP through :class:`~agentgw.upstream.HTTPPool`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

from agentgw.errors import UpstreamTimeout, UpstreamUnreachable
from agentgw.upstream import HTTPPool, UpstreamConnectError, UpstreamHTTPResponse, UpstreamReadError

__all__ = ["PooledResponse", "post", "probe"]

# Rate-limit headers a client should see: OpenAI's and Anthropic's families.
_RATE_LIMIT_PREFIXES = (b"x-ratelimit-", b"anthropic-ratelimit-")
_PROBE_TIMEOUT_S = 2.0


async def post(
    pool: HTTPPool, backend: str, total_s: float, path: str, body: bytes, headers: Mapping[str, str]
) -> PooledResponse:
    """POST ``body`` to ``path`` (relative to the pool's base URL); return once the headers arrived.

    Raises:
        UpstreamTimeout: connect or read timeout, or ``total_s`` spent, before the response headers.
        UpstreamUnreachable: no connection, or it broke before the response headers.
    """
    deadline = asyncio.get_running_loop().time() + total_s
    try:
        async with asyncio.timeout_at(deadline):
            response = await pool.request("POST", path, body, headers=headers)
    except TimeoutError as exc:
        raise UpstreamTimeout(f"backend '{backend}' did not answer in time", backend=backend) from exc
    except (UpstreamConnectError, UpstreamReadError) as exc:
        raise UpstreamUnreachable(f"backend '{backend}' is unreachable: {exc}", backend=backend) from exc
    return PooledResponse(response, backend, deadline)


async def probe(
    pool: HTTPPool, path: str, *, headers: Mapping[str, str] | None = None, judge_status: bool = True
) -> str | None:
    """GET ``path`` to tell whether the backend is usable: ``None`` when it is, else a short reason.

    With ``judge_status`` a refused credential (401/403) or a 5xx counts as unusable; without it, any
    answer does (for endpoints that have no cheap authenticated GET).
    """
    try:
        response = await pool.request("GET", path, headers=headers, read_timeout=_PROBE_TIMEOUT_S)
        await response.read()
        await response.aclose()
    except (TimeoutError, UpstreamConnectError, UpstreamReadError) as exc:
        return f"unreachable: {exc or type(exc).__name__}"
    if not judge_status:
        return None
    if response.status in (401, 403):
        return f"credential refused (HTTP {response.status})"
    if response.status >= 500:
        return f"HTTP {response.status}"
    return None


class PooledResponse:
    """An :class:`~agentgw.llm.providers.base.UpstreamResponse` over a pooled connection's response."""

    def __init__(self, response: UpstreamHTTPResponse, backend: str, deadline: float) -> None:
        self._response = response
        self._backend = backend
        self.status = response.status
        self.content_type = response.header(b"content-type", "application/json")
        self.deadline = deadline

    def header(self, name: bytes, default: str = "") -> str:
        """A response header's value (``name`` in lower case)."""
        return self._response.header(name, default)

    @property
    def relay_headers(self) -> dict[str, str]:
        return {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in self._response.headers
            if name == b"retry-after" or name.startswith(_RATE_LIMIT_PREFIXES)
        }

    async def aiter_bytes(
        self, feed: Callable[[bytes], bytes] | None = None, finish: Callable[[], bytes] | None = None
    ) -> AsyncIterator[bytes]:
        """The body as it arrives; ``feed`` (a stream translator) maps each chunk, ``finish`` ends it.

        Translation happens in this loop rather than in a generator around it: one async-generator
        layer less per chunk on the hot path of translated streams.
        """
        try:
            if feed is None:
                async for chunk in self._response.aiter_bytes():
                    yield chunk
            else:
                async for chunk in self._response.aiter_bytes():
                    out = feed(chunk)
                    if out:
                        yield out
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"backend '{self._backend}' stopped sending (read timeout)", backend=self._backend
            ) from exc
        except UpstreamReadError as exc:
            raise UpstreamUnreachable(
                f"backend '{self._backend}' broke the connection: {exc}", backend=self._backend
            ) from exc
        if finish is not None:
            rest = finish()
            if rest:
                yield rest

    async def read(self, limit: int) -> bytes:
        body = bytearray()
        async for chunk in self.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise UpstreamUnreachable(
                    f"backend '{self._backend}' sent a response over the {limit}-byte limit",
                    backend=self._backend,
                )
        return bytes(body)

    async def aclose(self) -> None:
        await self._response.aclose()
