"""The upstream HTTP/1.1 client of the proxy hot path (see :mod:`agentgw.upstream.pool`)."""

from agentgw.upstream.pool import (
    HTTPPool,
    PoolTimeouts,
    UpstreamConnectError,
    UpstreamHTTPResponse,
    UpstreamReadError,
)

__all__ = ["HTTPPool", "PoolTimeouts", "UpstreamConnectError", "UpstreamHTTPResponse", "UpstreamReadError"]
