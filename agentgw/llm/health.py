"""Passive health of LLM targets: failures observed on real requests take a target out for a while.

A target (a backend and the model sent to it) that fails ``failures`` times in a row is out for
``cooldown_s``; after that one request may try it again, and its result decides: a success puts it
back, a failure takes it out for another cool-down. An upstream ``Retry-After`` takes a target out
for exactly that long. Nothing here sends a request of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["HealthBook", "TargetKey"]

TargetKey = tuple[str, str]
"""(backend name, upstream model)."""


@dataclass(slots=True)
class _State:
    failures: int = 0
    out_until: float = 0.0


class HealthBook:
    """Health of every target of one router; all methods are O(1) and never block."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[TargetKey, _State] = {}

    def now(self) -> float:
        return self._clock()

    def out_until(self, key: TargetKey) -> float:
        """When the target comes back (a time in the past when it is in rotation)."""
        state = self._states.get(key)
        return 0.0 if state is None else state.out_until

    def available(self, key: TargetKey, now: float | None = None) -> bool:
        return self.out_until(key) <= (self._clock() if now is None else now)

    def targets_out(self, now: float | None = None) -> list[TargetKey]:
        """The targets out of rotation at ``now`` (the ``agentgw.upstream.up`` metric reads them)."""
        at = self._clock() if now is None else now
        return [key for key, state in list(self._states.items()) if state.out_until > at]

    def success(self, key: TargetKey) -> None:
        state = self._states.get(key)
        if state is not None:
            state.failures = 0
            state.out_until = 0.0

    def failure(self, key: TargetKey, *, threshold: int, cooldown_s: float) -> None:
        """Count a failed attempt; the ``threshold``-th in a row takes the target out."""
        state = self._states.setdefault(key, _State())
        state.failures += 1
        if state.failures >= threshold:
            state.out_until = max(state.out_until, self._clock() + cooldown_s)
            # Half-open after the cool-down: the next failure alone takes it out again.
            state.failures = threshold - 1

    def forget(self, backends: Iterable[str]) -> None:
        """Drop the record of every target of ``backends`` (rebuilt by a reload)."""
        gone = set(backends)
        for key in [key for key in self._states if key[0] in gone]:
            del self._states[key]

    def retry_after(self, key: TargetKey, seconds: float) -> None:
        """The upstream asked not to be called for ``seconds``."""
        state = self._states.setdefault(key, _State())
        state.out_until = max(state.out_until, self._clock() + seconds)
