"""The load-generator interface: closed-loop HTTP POST load at a fixed concurrency.

Implementations are one file each: ``wrk`` (``bench/_wrk.py``) and an asyncio client in a separate
process (``bench/_pyload.py``); ``bench/_harness.py`` picks one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["LoadGenerator", "LoadResult", "Target", "percentile"]


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint under test and the body POSTed to it."""

    name: str
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers (a credential, say), sent with every request."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: int = 0
    """Connect, read, write and timeout errors (a closed-loop client reconnects and goes on)."""


class LoadGenerator(Protocol):
    name: str
    client_bound: bool
    """True when the client, not the server, is likely the bottleneck at high concurrency."""

    def run(
        self,
        url: str,
        body: bytes,
        *,
        concurrency: int,
        duration_s: float,
        headers: Sequence[tuple[str, str]] = (),
    ) -> LoadResult:
        """POST ``body`` (JSON) with ``headers`` to ``url`` over ``concurrency`` connections for ``duration_s``.

        Raises:
            BenchError: a response was not 2xx, no request completed, or the generator failed.
        """
        ...


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in 0..1)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    index = math.ceil(fraction * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, index))]
