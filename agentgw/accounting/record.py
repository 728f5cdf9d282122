"""The usage record: one finished request, as the ledger stores it."""

from __future__ import annotations

import itertools
import os
from typing import NamedTuple

__all__ = ["UsageRecord", "next_record_id"]

# Record ids: a random per-process prefix and a counter. Unique across replicas and restarts without a
# uuid4 per request, and they make a batch retried after an ambiguous failure (committed, but the
# connection broke before the answer) idempotent: the ledger ignores ids it already holds. One
# 128-bit number, the prefix (top bit set: always 32 hex digits) in its high half and the counter in
# its low half; ``hex`` of it is the cheapest way to the 32 characters, made on every request's path.
_BASE = (int.from_bytes(os.urandom(8), "big") | 1 << 63) << 64
_COUNTER = itertools.count()


def next_record_id() -> str:
    return hex(_BASE + next(_COUNTER))[2:]


class UsageRecord(NamedTuple):
    """One LLM, MCP or A2A request. Token fields are ``None`` where nothing was reported or estimated.

    A named tuple rather than a frozen dataclass: one is made on every request's path and kept until
    its batch is written, and a tuple in the ledger table's column order is what the database driver
    takes as it is (a frozen dataclass of 23 fields costs several microseconds to make, then as much
    again to turn into a row).
    """

    id: str
    ts: float
    """When the request arrived, seconds since the epoch (UTC)."""
    principal: str
    """The principal's subject, ``anonymous`` without credentials."""
    team: str | None
    key: str | None
    """The API key's configured name, when one was used."""
    kind: str
    """``llm``, ``mcp`` or ``a2a``."""
    operation: str
    """``chat``/``embeddings``; the MCP method (``tools/call``); the A2A method (``SendMessage``)."""
    target: str | None
    """The model as asked for; the federated tool or prompt name; the agent."""
    backend: str | None
    """The backend, MCP server or agent that served it (the last one tried)."""
    status: int
    error_type: str | None
    latency_ms: float
    stream: bool
    bytes_in: int | None
    bytes_out: int | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    tool_arg_tokens: int | None
    """MCP ``tools/call``: tokens of the arguments (what the model generated to make the call)."""
    tool_result_tokens: int | None
    """MCP ``tools/call``: tokens of the result (what it will cost in the model's context)."""
    estimated: bool
    """Some token count is an estimate (the upstream reported none, or a stream was cut short)."""
    cost_usd: float
