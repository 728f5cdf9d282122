"""The upstream transport interface.

A transport factory opens a fresh SDK ``Transport`` (an async context manager of read and write
streams) each time the upstream (re)connects; it may own pooled resources that live across
reconnections (an HTTP client), released by :meth:`TransportFactory.aclose`.
"""

from __future__ import annotations

from typing import Protocol

from mcp.client import Transport

__all__ = ["TransportFactory"]


class TransportFactory(Protocol):
    kind: str
    """``stdio``, ``streamable-http`` or ``sse``: for logs and readiness reports."""

    def open(self) -> Transport:
        """A new connection's transport; entering it connects (or starts the process)."""
        ...

    async def aclose(self) -> None:
        """Release what outlives single connections (pooled HTTP clients)."""
        ...
