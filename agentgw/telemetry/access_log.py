"""The access log: one JSON line per request on the ``agentgw.access`` logger.

Fields: ``time`` (RFC 3339, UTC), ``principal``, ``team``, ``protocol``, ``route``, ``operation``,
``target``, ``backend``, ``status``, ``error_type``, ``stream``, ``tokens`` (input, output, total;
``null`` when the upstream reported none), ``latency_ms``, ``ttfc_ms`` (streams), ``trace_id``.
Never a header, a credential, or prompt or tool content: only what the gateway decided or counted.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from agentgw.exchange import Exchange

__all__ = ["ACCESS_LOGGER", "access_record", "configure_access_logger"]

ACCESS_LOGGER = "agentgw.access"


def access_record(exchange: Exchange, trace_id: int | None) -> bytes:
    """The access-log line for a finished ``exchange``, as JSON bytes."""
    usage = exchange.usage
    tokens = None
    if usage.reported:
        total = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        tokens = {"input": usage.input_tokens, "output": usage.output_tokens, "total": total}
    ttfc = exchange.time_to_first_chunk_s
    return orjson.dumps(
        {
            "time": _rfc3339(exchange.started_at),
            "principal": exchange.principal,
            "team": exchange.team,
            "protocol": exchange.protocol,
            "route": exchange.route,
            "operation": exchange.operation,
            "target": exchange.target,
            "backend": exchange.backend,
            "status": exchange.status,
            "error_type": exchange.error_type,
            "stream": exchange.stream,
            "tokens": tokens,
            "latency_ms": round(exchange.duration_s * 1000, 3),
            "ttfc_ms": None if ttfc is None else round(ttfc * 1000, 3),
            "trace_id": None if trace_id is None else f"{trace_id:032x}",
        }
    )


_second: list[Any] = [-1, ""]


def _rfc3339(timestamp: float) -> str:
    """``2026-11-21T20:45:58.123+00:00``; the part up to the second is formatted once a second."""
    second = int(timestamp)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int((timestamp - second) * 1000):03d}+00:00"


def configure_access_logger() -> logging.Logger:
    """The access logger, at INFO unless set otherwise; with no handler of its own yet, it gets one
    writing bare lines to stderr.

    It does not propagate to the root logger, whose format would prefix every JSON line.
    """
    logger = logging.getLogger(ACCESS_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    return logger
