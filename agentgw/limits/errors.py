"""The limits exception tree (part of :mod:`agentgw.errors`' ``GatewayError``).

    GatewayError
    ├── LimitExceeded           429: a rate limit or budget has no room for the request
    │   ├── RateLimited         429 ``rate_limit_exceeded``: per-minute requests or tokens
    │   └── QuotaExceeded       429 ``insufficient_quota``: a day or month budget is spent
    └── StoreUnavailable        503: the counter store (Redis) did not answer in time

Each carries the headers it is reported with (``Retry-After``, ``x-ratelimit-*``), which
:mod:`agentgw.error_mapping` sends on the HTTP routes; on MCP the same error becomes the JSON-RPC
error :class:`LimitRefused` (code -32029, with the same figures in ``data``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentgw.errors import ClientError, GatewayError
from federation import FederationError

__all__ = [
    "LIMIT_EXCEEDED",
    "LimitExceeded",
    "LimitRefused",
    "QuotaExceeded",
    "RateLimited",
    "StoreUnavailable",
]

# Implementation-defined JSON-RPC server error (-32000..-32099), apart from federation's -32010/-32011.
LIMIT_EXCEEDED = -32029


class LimitExceeded(ClientError):
    """No room for the request under one of its limits; ``retry_after_s`` says when there may be."""

    status = 429

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: int,
        headers: Mapping[str, str],
        details: Mapping[str, Any],
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = dict(headers)
        self.details = dict(details)
        """What was exceeded, for the JSON-RPC error's ``data``: scope, value, limit, used, reset."""


class RateLimited(LimitExceeded):
    code = "rate_limit_exceeded"
    kind = "rate_limit_exceeded"


class QuotaExceeded(LimitExceeded):
    code = "insufficient_quota"
    kind = "insufficient_quota"


class StoreUnavailable(GatewayError):
    """The counter store failed; refused requests (``on_store_error: refuse``) see it as a 503."""

    status = 503
    code = "limits_unavailable"
    kind = "server_error"


class LimitRefused(FederationError):
    """A :class:`LimitExceeded` in federation's tree, so ``/mcp`` sends it as a JSON-RPC error."""

    code = LIMIT_EXCEEDED
