"""The counter store interface: atomic check-and-add over several counters at once.

(The records here are made on every limited request: plain slotted dataclasses, not frozen ones,
whose ``__init__`` costs several times more.)

A request is admitted against every counter that governs it (its principal's requests per minute,
its team's tokens this month, ...) in one atomic step: either every counter has room for the
request's amounts and all are increased, or none is touched. That is what lets exactly M of N
concurrent requests through a limit of M, in one process (:mod:`agentgw.limits.memory_store`, where
the step runs without yielding to the event loop) or across replicas (:mod:`agentgw.limits.redis_store`,
one Lua script, which Redis runs atomically).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Admission", "Charge", "CounterStore", "Correction"]


@dataclass(slots=True)
class Charge:
    """One counter a request must fit in: ``amount`` is added when ``used + amount <= limit``."""

    key: str
    """The counter of the current window (``tokens:team:platform:m202611``), without the store's prefix."""
    amount: int
    limit: int
    ttl_s: int
    """How long the counter must outlive its last write (past its window's end)."""
    previous: str | None = None
    """The previous window's counter (sliding windows), weighed by ``weight``."""
    weight: float = 0.0
    """Share of the previous window still inside the sliding window, 0..1."""


@dataclass(slots=True)
class Admission:
    """The store's answer: ``refused`` is the index of the first charge that did not fit, or None.

    ``used`` is each charge's usage as the decision saw it: after the addition when admitted, before
    it (nothing was added) when refused. Only the charges up to the refused one are guaranteed
    to have been looked at; later ones read 0.
    """

    refused: int | None
    used: tuple[int, ...]


@dataclass(slots=True)
class Correction:
    """Add ``delta`` (negative to give back) to an existing counter; a counter that is gone is left so."""

    key: str
    delta: int


class CounterStore(Protocol):
    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        """Atomically add every charge's amount if all fit, else none.

        Raises:
            StoreUnavailable: the store could not be reached in time.
        """
        ...

    def correct(self, corrections: Sequence[Correction]) -> None:
        """Apply ``corrections`` (the real usage replacing an estimate) without blocking the caller:
        done now in memory, queued for Redis. Must not raise."""
        ...

    async def aclose(self) -> None:
        """Finish queued corrections and close connections."""
        ...
