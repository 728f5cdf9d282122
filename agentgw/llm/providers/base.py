"""The provider interface: one LLM backend behind the OpenAI-compatible routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

__all__ = ["Provider", "UpstreamResponse"]


class UpstreamResponse(Protocol):
    """An upstream response whose headers have arrived and whose body has not been read yet."""

    status: int
    content_type: str
    deadline: float
    """Event-loop time by which the whole exchange must end (the backend's total timeout)."""

    @property
    def relay_headers(self) -> dict[str, str]:
        """Upstream headers a client should see too (``retry-after``, ``x-ratelimit-*``)."""
        ...

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Yield the body chunk by chunk as it arrives.

        Raises:
            UpstreamTimeout: no bytes within the read timeout.
            UpstreamUnreachable: the connection broke.
        """
        ...

    async def read(self, limit: int) -> bytes:
        """Read the whole body.

        Raises:
            UpstreamUnreachable: the body is over ``limit`` bytes, or the connection broke.
            UpstreamTimeout: the body stopped arriving.
        """
        ...

    async def aclose(self) -> None:
        """Release the connection; safe to call more than once."""
        ...


class Provider(Protocol):
    """An LLM backend. It owns its credential and its pooled HTTP client, made once at start-up."""

    name: str
    operations: frozenset[str]
    """The OpenAI-wire operations it serves (``chat/completions``, ``embeddings``, ``responses``) and
    the native ones it passes through (``messages`` for Anthropic's Messages API)."""

    async def send(
        self, operation: str, body: bytes, *, stream: bool, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """Send a request for ``operation``, one of :attr:`operations`, in that operation's wire form.

        ``headers`` are the gateway's own additions (``traceparent``), never the client's headers.

        Raises:
            UpstreamTimeout: connect or read timeout before the response headers.
            UpstreamUnreachable: the backend could not be reached.
        """
        ...

    async def probe(self) -> str | None:
        """Check the backend is usable; ``None`` when it is, else a short reason."""
        ...

    async def aclose(self) -> None:
        """Close the pooled client."""
        ...
