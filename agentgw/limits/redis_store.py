"""Counters in Redis, shared by every gateway replica that points at the same database.

The check-and-add of a request is one Lua script, which Redis runs atomically: however many
replicas admit requests at once, a limit of M lets exactly M through. Corrections (the real usage
replacing the estimate) are a second script, sent in the background. The clock is the gateway's
(windows are named by their start, so replicas agree as far as their clocks do).

When Redis fails, the error is translated to :class:`~agentgw.limits.errors.StoreUnavailable`, and
for the next second the store is not asked again (every request would otherwise wait for the same
timeout); the limiter then lets requests through or refuses them, as configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agentgw.limits.errors import StoreUnavailable
from agentgw.limits.store import Admission, Charge, Correction

__all__ = ["RedisStore"]

log = logging.getLogger("agentgw.limits")

_BACKOFF_S = 1.0
_MAX_PENDING = 10_000

# KEYS: (current, previous) per charge; ARGV: (amount, limit, ttl, weight) per charge.
# Returns {refused index (0: none), used_1, ..., used_n}, as Admission documents.
_RESERVE = """
local n = #ARGV / 4
local used = {}
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local weight = tonumber(ARGV[4 * i])
  if weight > 0 then
    current = current + math.ceil(tonumber(redis.call('GET', KEYS[2 * i]) or '0') * weight)
  end
  local amount = tonumber(ARGV[4 * i - 3])
  if current + amount > tonumber(ARGV[4 * i - 2]) then
    used[i] = current
    for j = i + 1, n do used[j] = 0 end
    return {i, unpack(used)}
  end
  used[i] = current + amount
end
for i = 1, n do
  local key = KEYS[2 * i - 1]
  redis.call('INCRBY', key, ARGV[4 * i - 3])
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[4 * i - 1]) end
end
return {0, unpack(used)}
"""

# KEYS: counters; ARGV: deltas. A counter that expired stays gone; none goes below zero.
_CORRECT = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local value = redis.call('INCRBY', KEYS[i], ARGV[i])
    if value < 0 then redis.call('INCRBY', KEYS[i], -value) end
  end
end
return 0
"""


class RedisStore:
    """:class:`~agentgw.limits.store.CounterStore` in Redis at ``url`` (``redis://host:port/db``)."""

    def __init__(self, url: str, *, prefix: str, timeout_s: float) -> None:
        self._redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=False
        )
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._reserve = self._redis.register_script(_RESERVE)
        self._correct = self._redis.register_script(_CORRECT)
        self._down_until = 0.0
        self._pending: set[asyncio.Task[None]] = set()

    async def reserve(self, charges: Sequence[Charge]) -> Admission:
        if time.monotonic() < self._down_until:
            raise StoreUnavailable("the limits store (Redis) is unavailable")
        keys: list[str] = []
        args: list[int | float] = []
        prefix = self._prefix
        for charge in charges:
            keys.append(prefix + charge.key)
            keys.append(prefix + (charge.previous or charge.key))
            args.extend((charge.amount, charge.limit, charge.ttl_s, charge.weight))
        try:
            async with asyncio.timeout(self._timeout_s):
                reply = await self._reserve(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._down_until = time.monotonic() + _BACKOFF_S
            raise StoreUnavailable(f"the limits store (Redis) failed: {exc or type(exc).__name__}") from exc
        refused = int(reply[0])
        return Admission(refused - 1 if refused else None, tuple(int(v) for v in reply[1:]))

    def correct(self, corrections: Sequence[Correction]) -> None:
        if not corrections or len(self._pending) >= _MAX_PENDING:
            return
        task = asyncio.get_running_loop().create_task(self._send_corrections(corrections))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send_corrections(self, corrections: Sequence[Correction]) -> None:
        keys = [self._prefix + c.key for c in corrections]
        try:
            async with asyncio.timeout(self._timeout_s * 4):
                await self._correct(keys=keys, args=[c.delta for c in corrections])
        except (RedisError, OSError, TimeoutError) as exc:
            # The estimate stays counted: a request's reservation errs on the safe side.
            log.warning("limits: a usage correction was lost (Redis: %s)", exc or type(exc).__name__)

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._redis.aclose()
