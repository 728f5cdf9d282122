"""The access log: one JSON line per request on the ``agentgw.access`` logger.

Fields: ``time`` (RFC 3339, UTC), ``principal``, ``team``, ``protocol``, ``route``, ``operation``,
``target``, ``backend``, ``status``, ``error_type``, ``stream``, ``tokens`` (input, output, total;
``null`` when the upstream reported none), ``latency_ms``, ``ttfc_ms`` (streams), ``trace_id``.
Never a header, a credential, or prompt or tool content: only what the gateway decided or counted.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from agentgw.exchange import Exchange

__all__ = ["ACCESS_LOGGER", "access_record", "configure_access_logger"]

ACCESS_LOGGER = "agentgw.access"


def access_record(exchange: Exchange, trace_id: str | None) -> bytes:
    """The access-log line for a finished ``exchange``, as JSON bytes."""
    usage = exchange.usage
    tokens = None
    if usage.reported:
        total = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        tokens = {"input": usage.input_tokens, "output": usage.output_tokens, "total": total}
    ttfc = exchange.time_to_first_chunk_s
    return orjson.dumps(
        {
            "time": datetime.fromtimestamp(exchange.started_at, UTC).isoformat(timespec="milliseconds"),
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
            "trace_id": trace_id,
        }
    )


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
