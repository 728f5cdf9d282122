"""W3C Trace Context (https://www.w3.org/TR/trace-context/): ``traceparent`` in and out.

Parsed and formatted here rather than through the OpenTelemetry propagator API: that path builds a
``Context`` per request and costs about 2 µs a call, and the gateway only needs the one header.
``tracestate`` is passed on unchanged: the gateway adds no vendor entry of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["TraceParent", "continue_from", "parse_traceparent", "traceparent_py"]

_HEX = frozenset("0123456789abcdef")


class TraceParent(NamedTuple):
    """The client's span, as its ``traceparent`` (and ``tracestate``) named it."""

    trace_id: int
    span_id: int
    sampled: bool
    tracestate: str
    header: str
    """The ``traceparent`` value as received, to pass on unchanged when the gateway records nothing."""


def parse_traceparent(value: str, tracestate: str | None = None) -> TraceParent | None:
    """The remote parent in a ``traceparent`` header, or ``None`` when the header is invalid.

    Trace Context section 3.2: version ``00`` has exactly four fields; a later version may append
    fields after the fourth, which are ignored; version ``ff``, all-zero ids and upper-case hex are
    invalid.
    """
    value = value.strip()
    if len(value) < 55:
        return None
    version, trace_id, span_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    if version == "ff" or (version == "00" and len(value) != 55) or (len(value) > 55 and value[55] != "-"):
        return None
    if not _HEX.issuperset(version + trace_id + span_id + flags):
        return None
    trace = int(trace_id, 16)
    span = int(span_id, 16)
    if trace == 0 or span == 0:
        return None
    return TraceParent(trace, span, bool(int(flags, 16) & 0x01), (tracestate or "").strip(), value)


def continue_from(headers: Mapping[str, str]) -> TraceParent | None:
    """The client's trace, when its request carries a valid ``traceparent``."""
    value = headers.get("traceparent")
    if value is None:
        return None
    return parse_traceparent(value, headers.get("tracestate"))


def traceparent_py(trace_id: int, span_id: int) -> str:
    """The ``traceparent`` of a sampled span of ours (``_speedups.traceparent``: the same in C)."""
    return f"00-{trace_id.to_bytes(16).hex()}-{span_id.to_bytes(8).hex()}-01"
