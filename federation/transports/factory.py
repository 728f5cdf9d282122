"""The transport factory for a configured target."""

from __future__ import annotations

import logging

from federation.spec import StdioTarget, Target
from federation.transports.base import TransportFactory
from federation.transports.http import SseTransport, StreamableHttpTransport
from federation.transports.stdio import StdioTransport

__all__ = ["build_transport"]


def build_transport(
    name: str, target: Target, *, connect_timeout: float, log: logging.Logger
) -> TransportFactory:
    """The transport factory for ``target``; a stdio server's stderr goes to ``log``, labelled ``name``."""
    if isinstance(target, StdioTarget):
        return StdioTransport(name, target, log=log)
    if target.transport == "sse":
        return SseTransport(target, connect_timeout=connect_timeout)
    return StreamableHttpTransport(target, connect_timeout=connect_timeout, name=name)
