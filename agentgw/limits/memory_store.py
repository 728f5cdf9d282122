"""Counters in this process's memory: the default store, for a single gateway replica.

:meth:`MemoryStore.reserve` never awaits, so on the one event loop the check and the additions of a
request happen with no other request in between: that is the atomicity. Expired counters are
dropped in one sweep a minute, so memory holds only the counters of live windows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from agentgw.limits.store import Admission, Charge, Correction

__all__ = ["MemoryStore"]

_SWEEP_EVERY_S = 60.0


class MemoryStore:
    """:class:`~agentgw.limits.store.CounterStore` in a dict; ``clock`` is monotonic-enough seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._values: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._next_sweep = clock() + _SWEEP_EVERY_S

    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        return self.reserve_now(charges)

    def reserve_now(self, charges: Sequence[Charge]) -> Admission:
        """:meth:`reserve` without the coroutine (the limiter calls it directly)."""
        values = self._values
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        used = [0] * len(charges)
        for index, charge in enumerate(charges):
            current = values.get(charge.key, 0)
            if charge.weight and charge.previous is not None:
                current += math.ceil(values.get(charge.previous, 0) * charge.weight)
            if current + charge.amount > charge.limit:
                used[index] = current
                return Admission(index, tuple(used))
            used[index] = current + charge.amount
        expires = self._expires
        for charge in charges:
            values[charge.key] = values.get(charge.key, 0) + charge.amount
            if charge.key not in expires:
                expires[charge.key] = now + charge.ttl_s
        return Admission(None, tuple(used))

    def correct(self, corrections: Sequence[Correction]) -> None:
        values = self._values
        for correction in corrections:
            value = values.get(correction.key)
            if value is not None:
                values[correction.key] = max(0, value + correction.delta)

    async def aclose(self) -> None:
        return None

    def value(self, key: str) -> int:
        """A counter's value (0 when absent); for tests and diagnostics."""
        return self._values.get(key, 0)

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + _SWEEP_EVERY_S
        gone = [key for key, at in self._expires.items() if at <= now]
        for key in gone:
            del self._expires[key]
            self._values.pop(key, None)
