"""Upstream transports: one file each behind :class:`~federation.transports.base.TransportFactory`."""

from federation.transports.base import TransportFactory
from federation.transports.factory import build_transport
from federation.transports.http import SseTransport, StreamableHttpTransport
from federation.transports.stdio import StdioTransport

__all__ = ["SseTransport", "StdioTransport", "StreamableHttpTransport", "TransportFactory", "build_transport"]
